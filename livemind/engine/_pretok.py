"""BPE pre-tokenizers: how llama.cpp cuts text into words before merging, per ``tokenizer.ggml.pre``.

llama.cpp (``llm_tokenizer_bpe`` in ``src/llama-vocab.cpp``, ``unicode_regex_split`` in
``src/unicode.cpp``) gives each ``pre`` name a list of regex passes. Each pass cuts every piece the
earlier passes made into its matches and the text between them (a run no alternative matches is
a piece of its own). How a pattern sees characters is the subtle part, and is done the same way
here:

- A pattern that names a Unicode class (``\\p{L}``, ``\\p{N}``, ``\\p{P}``, ``\\p{M}``, ``\\p{S}``
  and the letter subclasses ``\\p{Lu}``...) runs over a *collapsed* copy of the text: ASCII stays,
  each other code point becomes one stand-in for its class (non-ASCII whitespace becomes ``\\v``;
  unassigned, control and separator code points one "other" stand-in). So ``\\p{Lu}`` is any
  letter, and ``[^a-z]`` takes every non-ASCII letter, upper or lower case.
- A pattern without classes runs over the code points, non-ASCII whitespace turned into ``\\v``.
- ``\\s`` and ``\\d`` are ASCII (C++ ``std::regex``); so is ``re.ASCII`` here.

llama.cpp runs the GPT-2, Llama-3, Qwen2 and Qwen3.5 patterns with hand-written matchers; they cut
exactly as the pattern does under these rules, so the pattern is all that is written down. Each
supported name is checked against llama.cpp in ``tests/engine/test_pretokenizers.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import regex

from livemind.engine._unicode import NEWER_THAN_LLAMA_CPP, WHITESPACE

# stand-ins of the collapsed text: one character per class (any non-ASCII characters would do)
_OTHER, _NUMBER, _LETTER, _PUNCT, _MARK, _SYMBOL = "\u0100", "\u0101", "\u0102", "\u0103", "\u0104", "\u0105"
_STAND_INS = (_NUMBER, _LETTER, _PUNCT, _MARK, _SYMBOL)
_CLASS_OF = regex.compile(r"(\p{N})|(\p{L})|(\p{P})|(\p{M})|(\p{S})")


def _ascii_members(name: str) -> str:
    return "".join("\\" + c if c in "\\]^-[" else c for c in map(chr, range(128))
                   if regex.fullmatch(rf"\p{{{name}}}", c))


# what each \p{...} stands for inside a character class of a collapsed pattern
_CLASS = {"N": _NUMBER + _ascii_members("N"), "L": _LETTER + _ascii_members("L"),
          "P": _PUNCT + _ascii_members("P"), "M": _MARK, "S": _SYMBOL + _ascii_members("S")}
_CLASS.update(dict.fromkeys(("Lu", "Ll", "Lt", "Lm", "Lo"), _CLASS["L"]))
_PROPERTY = re.compile(r"\\p\{(\w+)\}")
_NON_ASCII_SPACE = {ord(c): "\x0b" for c in WHITESPACE if ord(c) >= 0x80}


class _Collapse(dict):
    """A ``str.translate`` table from code point to its collapsed stand-in, filled as seen."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        if cp < 0x80:
            out = ch
        elif ch in WHITESPACE:
            out = "\x0b"
        elif any(lo <= cp <= hi for lo, hi in NEWER_THAN_LLAMA_CPP):
            out = _OTHER
        else:
            m = _CLASS_OF.match(ch)
            out = _STAND_INS[m.lastindex - 1] if m else _OTHER
        self[cp] = out
        return out


def _compile(pattern: str) -> tuple[re.Pattern, bool]:
    """A pass written in Python regex syntax plus ``\\p{X}``: the compiled pattern and whether it
    runs over the collapsed text (it names a class) or over the code points."""
    if not _PROPERTY.search(pattern):
        return re.compile(pattern, re.ASCII), False
    out, inside, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and pattern.startswith("\\p{", i):
            m = _PROPERTY.match(pattern, i)
            members = _CLASS[m.group(1)]            # a KeyError here is a typo in the table below
            out.append(members if inside else f"[{members}]")
            i = m.end()
            continue
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not inside:
            inside = True
        elif c == "]" and inside:
            inside = False
        elif ord(c) >= 0x80:
            raise ValueError(f"a pattern with Unicode classes cannot hold {c!r} (llama.cpp refuses it)")
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII), True


@dataclass(frozen=True)
class PreTokenizer:
    """One ``pre`` family: its passes and the tokenizer flags llama.cpp ties to the name."""

    passes: tuple[str, ...]
    ignore_merges: bool = False      # a word that is a token is that token, whatever the merges say
    add_bos: bool = False            # the default of tokenizer.ggml.add_bos_token
    has_bos: bool = True             # False: no BOS unless tokenizer.ggml.bos_token_id names one
    _compiled: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_compiled", tuple(_compile(p) for p in self.passes))

    def splitter(self):
        """A function from text to its words, with its own collapse table."""
        collapse = _Collapse()
        compiled = self._compiled

        def split(text: str) -> list[str]:
            views = {}
            cuts = [(0, len(text))]
            for pattern, collapsed in compiled:
                view = views.get(collapsed)
                if view is None:
                    view = views[collapsed] = text.translate(collapse if collapsed else _NON_ASCII_SPACE)
                out = []
                for start, end in cuts:
                    at = start
                    for m in pattern.finditer(view, start, end):
                        a, b = m.span()
                        if a == b:
                            continue
                        if a > at:
                            out.append((at, a))
                        out.append((a, b))
                        at = b
                    if at < end:
                        out.append((at, end))
                cuts = out
            return [text[a:b] for a, b in cuts]

        return split


# -- the patterns (as the models' tokenizer.json files write them, in llama.cpp's adaptation) ------

_CONTRACTIONS = r"'s|'t|'re|'ve|'m|'ll|'d"
_CONTRACTIONS_ANY_CASE = r"'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"
_GPT2 = _CONTRACTIONS + r"| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3 = (rf"(?:{_CONTRACTIONS_ANY_CASE})|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}{{1,3}}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (rf"(?:{_CONTRACTIONS_ANY_CASE})|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN35 = (rf"(?:{_CONTRACTIONS_ANY_CASE})|[^\r\n\p{{L}}\p{{N}}]?[\p{{L}}\p{{M}}]+|\p{{N}}"
           r"| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Tekken and GPT-4o split a cased word before its last capital; llama.cpp writes "upper" as
# "a letter not in a-z" and "lower" as "a letter not in A-Z" (so any non-ASCII letter is both).
_UPPER, _LOWER = r"((?=[\p{L}])([^a-z]))", r"((?=[\p{L}])([^A-Z]))"
_TEKKEN = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*"
           r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT4O = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+(?:{_CONTRACTIONS_ANY_CASE})?"
          rf"|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*(?:{_CONTRACTIONS_ANY_CASE})?"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_DEEPSEEK3 = (r"[!-/:-@\[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
              r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# DeepSeek LLM's letters: the cased scripts, listed (no \p{L}: a pattern with literal non-ASCII
# characters runs over the code points)
_DEEPSEEK_LETTERS = (
    "A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1"
    "\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd"
    "\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d"
    "\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4"
    "\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec"
    "\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128"
    "\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b"
    "\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787"
    "\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a"
    "\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
    "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943"
)
_KANA_HAN = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
_CJK_HANGUL = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
_NORDIC = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"

_FAMILIES: dict[tuple[str, ...], PreTokenizer] = {
    # a file without a name gets llama.cpp's "default" (it warns that quality suffers)
    ("", "default"): PreTokenizer((r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", "[0-9][0-9][0-9]")),
    ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"):
        PreTokenizer((_LLAMA3,), ignore_merges=True, add_bos=True),
    ("dbrx", "smaug-bpe"): PreTokenizer((_LLAMA3,)),
    # Llama-3's pattern with whitespace runs cut in powers of two
    ("jais-2",): PreTokenizer((_LLAMA3.split(r"|\s+(?!\S)")[0] + "".join(
        rf"|\s{{{n}}}(?!\S)" for n in (512, 256, 128, 64, 32, 16, 8, 4)) + r"|\s{1,2}(?!\S)|\s{1}",)),
    ("chatglm-bpe",): PreTokenizer((_LLAMA3,), has_bos=False),
    ("glm4", "glm5"): PreTokenizer((_LLAMA3,), ignore_merges=True, has_bos=False),
    ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2"):
        PreTokenizer((_QWEN2,)),
    ("qwen35",): PreTokenizer((_QWEN35,)),
    ("laguna",): PreTokenizer(("[^\n]+|\n+", _QWEN2)),
    # Qwen2's pattern without the contractions, so Turkish suffixes after an apostrophe stay on
    ("ufakzeka",): PreTokenizer((r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                                 r"|\s+(?!\S)|\s+",)),
    ("seed-coder",): PreTokenizer((rf"(?:{_CONTRACTIONS_ANY_CASE})|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}"
                                   r"| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+",)),
    ("bailingmoe", "bailingmoe2", "llada-moe"):
        PreTokenizer((r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                      r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",)),
    ("minicpm5",): PreTokenizer((r"\p{N}{1,3}", _LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}+")), ignore_merges=True),
    ("tekken",): PreTokenizer((_TEKKEN,), ignore_merges=True, add_bos=True),
    ("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"): PreTokenizer((_GPT4O,)),
    # GPT-4o's with marks counted as letters in the case runs
    ("granite-embed-multi-97m",): PreTokenizer((_GPT4O.replace(r"(?=[\p{L}])", r"(?=[\p{L}\p{M}])"),),
                                               ignore_merges=True),
    ("exaone-moe",): PreTokenizer((rf"(?:{_CONTRACTIONS_ANY_CASE})|[^\r\n\p{{L}}\p{{N}}]?(?:\p{{L}}\p{{M}}*(?: \p{{L}}\p{{M}}*)*)+"
                                   r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",)),
    ("youtu",): PreTokenizer(("[\uac00-\ud7a3\u3131-\u318e]+|[\uff01\u2026\u201c\u201d\u2018\u2019\u2014\uff1a\uff1b"
                              "\uff0c\u3001-\u303f\ufe30-\ufe4f]+|[\u3105-\u312f]+|[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                              rf"[^\r\n\p{{L}}\p{{N}}]?[\p{{Lu}}\p{{Lt}}\p{{Lm}}\p{{Lo}}\p{{M}}]*[\p{{Ll}}\p{{Lm}}\p{{Lo}}\p{{M}}]+"
                              rf"(?:{_CONTRACTIONS_ANY_CASE})?|[^\r\n\p{{L}}\p{{N}}]?[\p{{Lu}}\p{{Lt}}\p{{Lm}}\p{{Lo}}\p{{M}}]+"
                              rf"[\p{{Ll}}\p{{Lm}}\p{{Lo}}\p{{M}}]*(?:{_CONTRACTIONS_ANY_CASE})?"
                              r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"), ignore_merges=True),
    ("deepseek-llm",): PreTokenizer(("[\r\n]", rf"\s?[{_DEEPSEEK_LETTERS}]+",
                                     "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                                     r"\s+\Z", _CJK_HANGUL, r"\p{N}+")),
    ("deepseek-coder",): PreTokenizer(("[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", _CJK_HANGUL, r"\p{N}")),
    ("deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"):
        PreTokenizer((r"\p{N}{1,3}", _KANA_HAN, _DEEPSEEK3)),
    ("spark2_5",): PreTokenizer((r"\p{N}{1,3}", _KANA_HAN, _DEEPSEEK3.replace(r"[\r\n]*|\s*[\r\n]+", r"|[\r\n]"),
                                 r"\p{N}")),
    ("falcon",): PreTokenizer((r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, "[0-9][0-9][0-9]")),
    ("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"):
        PreTokenizer((r"\p{N}", _GPT2)),
    ("gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "gigachat",
     "a.x-4.0", "mellum", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "modern-bert"): PreTokenizer((_GPT2,)),
    ("poro-chat", "bloom", "gpt3-finnish"): PreTokenizer((_NORDIC,)),
    ("viking",): PreTokenizer((_NORDIC, r"\p{N}")),
    ("chameleon",): PreTokenizer(("<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                                  "([\\t\\n]|    |  )", r"\p{N}", r"[\p{P}!-/:-@\[-`{-~]", _GPT2),
                                 add_bos=True),
}

PRE_TOKENIZERS: dict[str, PreTokenizer] = {name: pre for names, pre in _FAMILIES.items() for name in names}
