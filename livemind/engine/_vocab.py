"""A GGUF vocabulary: token texts, kinds, scores and special ids, read and checked.

What llama.cpp derives from a file's ``tokenizer.ggml.*`` metadata is derived here the same way
(``llama_vocab::impl::load`` in llama.cpp's ``src/llama-vocab.cpp``): the defaults by tokenizer
model when a key is absent, the end-of-generation tokens found by their text, and the special
tokens matched in raw text before tokenization, longest first. What llama.cpp only warns about
(an id out of range, a duplicated token) raises :class:`ModelLoadError` here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from livemind.engine._pretok import PRE_TOKENIZERS, PreTokenizer
from livemind.errors import ModelLoadError

# token kinds, as bit flags (llama.cpp's llama_token_attr)
UNDEFINED, UNKNOWN, UNUSED, NORMAL, CONTROL, USER_DEFINED, BYTE = 0, 1, 2, 4, 8, 16, 32
# GGUF's tokenizer.ggml.token_type values -> kind
_KIND_OF_TYPE = {0: UNDEFINED, 1: NORMAL, 2: UNKNOWN, 3: CONTROL, 4: USER_DEFINED, 5: UNUSED, 6: BYTE}

_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_C_SPACE = " \t\n\v\f\r"     # what C's isspace() says is whitespace: what llama.cpp strips beside a token

# Texts that end a turn or a generation; llama.cpp finds them by text because converters do not
# always mark them (ref: llama.cpp issue #9606). Such a token is made a control token.
EOG_TEXTS = frozenset({
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~[",
})
# Fill-in-the-middle tokens that llama.cpp also treats as end of generation (a new file begins).
_FIM_EOG_TEXTS = ("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
                  "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
                  "<|file_sep|>")

# Per tokenizer model: (bos, eos, unk, add_bos, add_eos, add_space_prefix) when the file is silent.
_DEFAULTS = {
    "llama": (1, 2, 0, True, False, True),
    "gpt2": (11, 11, None, False, False, False),
}


@dataclass
class Vocab:
    """The checked contents of a GGUF file's tokenizer metadata."""

    path: str
    model: str                      # tokenizer.ggml.model: "gpt2" or "llama"
    pre: str                        # tokenizer.ggml.pre ("" when absent)
    pretokenizer: PreTokenizer | None   # the BPE pre-tokenizer that name selects (None for "llama")
    texts: list[str]                # (n_vocab,) token text as stored in the file
    ids: dict[str, int]             # text -> id
    kinds: np.ndarray               # (n_vocab,) uint8 bit flags: NORMAL, CONTROL, BYTE, ...
    scores: np.ndarray | None       # (n_vocab,) float32, SentencePiece merge priorities
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool
    eog_ids: frozenset[int]
    # special tokens matched in raw text, longest first: (text, id)
    specials_parsed: SpecialTokens     # control, user-defined, unknown: split out when parse_special
    specials_always: SpecialTokens     # user-defined only: always split out, as HF tokenizers does
    specials_control: SpecialTokens    # parsed minus always: what only parse_special turns into ids

    def __len__(self) -> int:
        return len(self.texts)


def load_vocab(metadata: dict, path: str) -> Vocab:
    """Reads and checks the ``tokenizer.ggml.*`` keys of a GGUF file's metadata."""

    def fail(reason: str) -> ModelLoadError:
        return ModelLoadError(path, reason)

    model = metadata.get("tokenizer.ggml.model")
    if model not in _DEFAULTS:
        raise fail(f"tokenizer.ggml.model is {model!r}; supported: {sorted(_DEFAULTS)}")
    pre = metadata.get("tokenizer.ggml.pre", "")
    if not isinstance(pre, str):
        raise fail("tokenizer.ggml.pre is not a string")
    pretokenizer = None
    if model == "gpt2":   # llama.cpp reads the name only for BPE vocabularies
        pretokenizer = PRE_TOKENIZERS.get(pre)
        if pretokenizer is None:
            raise fail(f"BPE pre-tokenizer {pre!r} is not supported; supported: {sorted(PRE_TOKENIZERS)}")

    texts = metadata.get("tokenizer.ggml.tokens")
    if not isinstance(texts, list) or not texts:
        raise fail("tokenizer.ggml.tokens is missing or not a list of strings")
    n = len(texts)
    if "" in texts:  # as llama.cpp does, so that every text names one token
        texts = [t or f"[EMPTY_{i}]" for i, t in enumerate(texts)]
    ids = dict(zip(texts, range(n)))
    if len(ids) != n:
        seen: set[str] = set()
        dup = next(t for t in texts if t in seen or seen.add(t))
        raise fail(f"tokenizer.ggml.tokens holds {dup!r} more than once")

    kinds = np.full(n, NORMAL, dtype=np.uint8)
    types = metadata.get("tokenizer.ggml.token_type")
    if types is not None:
        types = _array(types, n, "tokenizer.ggml.token_type", fail)
        for t, kind in _KIND_OF_TYPE.items():
            kinds[types[:n] == t] = kind
        kinds[(types[:n] < 0) | (types[:n] > 6)] = UNDEFINED
    for i in np.flatnonzero(kinds & BYTE).tolist():
        if not _BYTE_TOKEN.fullmatch(texts[i]):
            raise fail(f"byte token {i} is {texts[i]!r}, not of the form <0xXX>")
    scores = metadata.get("tokenizer.ggml.scores")
    if scores is not None:
        scores = _array(scores, n, "tokenizer.ggml.scores", fail)[:n].astype(np.float32)

    bos, eos, unk, add_bos, add_eos, add_space_prefix = _DEFAULTS[model]
    if pretokenizer is not None:    # some names change llama.cpp's defaults
        add_bos = pretokenizer.add_bos
        bos = bos if pretokenizer.has_bos else None
    bos, eos, unk = (i if i is not None and i < n else None for i in (bos, eos, unk))
    pad = None
    bos = _token_id(metadata, "bos", bos, n, fail)
    eos = _token_id(metadata, "eos", eos, n, fail)
    unk = _token_id(metadata, "unknown", unk, n, fail)
    pad = _token_id(metadata, "padding", pad, n, fail)
    eot = _token_id(metadata, "eot", None, n, fail)
    eom = _token_id(metadata, "eom", None, n, fail)
    fim = [_token_id(metadata, f"fim_{k}", None, n, fail) for k in ("pad", "rep", "sep")]
    add_bos = _flag(metadata, "tokenizer.ggml.add_bos_token", add_bos, fail)
    add_eos = _flag(metadata, "tokenizer.ggml.add_eos_token", add_eos, fail)
    add_space_prefix = _flag(metadata, "tokenizer.ggml.add_space_prefix", add_space_prefix, fail)
    if add_bos and bos is None:
        raise fail("the tokenizer adds a BOS token but has none")
    if add_eos and eos is None:
        raise fail("the tokenizer adds an EOS token but has none")

    eog = {ids[t] for t in (*EOG_TEXTS, *_FIM_EOG_TEXTS) if t in ids}
    for i in eog:           # found by text: made control, as llama.cpp does (not EOS & co. named by id)
        kinds[i] |= CONTROL
    eog |= {i for i in (eos, eot, eom, *fim) if i is not None}

    def specials(mask: int) -> list[tuple[str, int]]:
        chosen = np.flatnonzero(kinds & mask).tolist()
        # longest first (in bytes, as llama.cpp compares); ties in id order
        chosen.sort(key=lambda i: (-len(texts[i].encode()), i))
        return [(texts[i], i) for i in chosen]

    parsed = specials(CONTROL | USER_DEFINED | UNKNOWN)
    always = [(t, i) for t, i in specials(USER_DEFINED) if not kinds[i] & (CONTROL | UNKNOWN)]
    always_ids = {i for _, i in always}
    lstrip, rstrip = _stripping(metadata, ids, [i for _, i in parsed])

    def special_tokens(tokens):
        return SpecialTokens(tokens, lstrip=lstrip, rstrip=rstrip)

    return Vocab(
        path=path, model=model, pre=pre, pretokenizer=pretokenizer, texts=texts, ids=ids, kinds=kinds, scores=scores,
        bos_id=bos, eos_id=eos, unk_id=unk, pad_id=pad,
        add_bos=add_bos, add_eos=add_eos, add_space_prefix=add_space_prefix,
        eog_ids=frozenset(eog),
        specials_parsed=special_tokens(parsed),
        specials_always=special_tokens(always),
        specials_control=special_tokens([(t, i) for t, i in parsed if i not in always_ids]),
    )


def _stripping(metadata: dict, ids: dict[str, int], special_ids: list[int]) -> tuple[frozenset[int], frozenset[int]]:
    """(lstrip, rstrip): the special tokens whose matches eat the whitespace before / after them
    in raw text. GGUF files do not record it (HF's ``added_tokens`` do): llama.cpp sets it by the
    file's names (``llama_vocab::impl::load``, "Each model customizes per token attributes"), and
    so does this. Phi-3: every special token but <unk>, <s> and <|endoftext|> strips the
    whitespace after it, so ``<|user|>\nHi`` reads as ``<|user|>Hi`` -- when general.name says
    "phi-3" or "phi3" (a file named "Phi 3.5 Mini" gets no stripping there, nor here)."""
    def lower(key: str) -> str:
        value = metadata.get(key, "")   # ASCII-only, as C's tolower
        return value.encode().lower().decode() if isinstance(value, str) else ""

    def present(*texts: str) -> set[int]:
        return {ids[t] for t in texts if t in ids}

    name, pre, arch = lower("general.name"), lower("tokenizer.ggml.pre"), lower("general.architecture")
    if any(p in pre for p in ("jina-v2-de", "jina-v2-es", "jina-v2-code")) or \
            any(a in arch for a in ("nomic-bert-moe", "jina-bert-v3")):
        return frozenset(present("<mask>")), frozenset()
    if "phi-3" in name or "phi3" in name:
        return frozenset(), frozenset((set(special_ids) | present("</s>")) - present("<unk>", "<s>", "<|endoftext|>"))
    if "modern-bert" in name:
        return frozenset(present("[MASK]")), frozenset()
    return frozenset(), frozenset()


class SpecialTokens:
    """Special tokens to cut out of raw text, longest first, with a cheap test of which occur.

    Gemma has 6,000+ control tokens; testing each against a long prompt would cost more than
    tokenizing it. A token can only occur if its first three characters do, and the set of
    three-character substrings of a text is quick to build.
    """

    KEY = 3

    def __init__(self, tokens: list[tuple[str, int]], *, lstrip=frozenset(), rstrip=frozenset()):
        self.tokens = tokens                                    # (text, id), longest first
        self.lstrip = lstrip        # ids whose match eats the whitespace before it (see _stripping)
        self.rstrip = rstrip        # ... after it
        self._keys = [text[:self.KEY] for text, _ in tokens]

    def split(self, text: str, mark: str | None = None) -> list[str | int]:
        """Splits ``text`` around the special tokens it contains: text fragments (str) and token
        ids (int), in order. An occurrence right after ``mark`` (see :meth:`escape`) stays text.

        Each special token, longest first, is cut out of every fragment still text, left to
        right: llama.cpp's ``tokenizer_st_partition``. (A leftmost-longest scan differs: with
        tokens "abc" and "xa", "xabc" is "x" + "abc" here, "xa" + "bc" there.) A token in
        ``lstrip``/``rstrip`` drops the whitespace between it and the text before/after it.
        """
        parts: list[str | int] = [text] if text else []
        for special, tid in self._occurring(text):
            strip_left, strip_right = tid in self.lstrip, tid in self.rstrip
            out: list[str | int] = []
            for part in parts:
                if isinstance(part, int) or special not in part:
                    out.append(part)
                    continue
                start, i = 0, part.find(special)
                while i >= 0:
                    if mark is not None and i > 0 and part[i - 1] == mark:
                        i = part.find(special, i + 1)
                        continue
                    left = part[start:i].rstrip(_C_SPACE) if strip_left else part[start:i]
                    if left:
                        out.append(left)
                    out.append(tid)
                    start = i + len(special)
                    if strip_right:
                        start = len(part) - len(part[start:].lstrip(_C_SPACE))
                    i = part.find(special, start)
                if start < len(part):
                    out.append(part[start:])
            parts = out
        return parts

    def escape(self, text: str, mark: str) -> str:
        """``text`` with ``mark`` before every occurrence of these tokens (overlapping ones too),
        so that :meth:`split` with the same ``mark`` matches none of them. Marks only ever break
        occurrences, so one pass, longest first, leaves every remaining one marked."""
        for special, _ in self._occurring(text):
            out, start, i = [], 0, text.find(special)
            while i >= 0:
                if i == 0 or text[i - 1] != mark:
                    out += (text[start:i], mark)
                    start = i
                i = text.find(special, i + 1)
            if out:
                text = "".join(out) + text[start:]
        return text

    def _occurring(self, text: str) -> list[tuple[str, int]]:
        if len(self.tokens) <= 64:
            return [t for t in self.tokens if t[0] in text]
        grams = [set(), set(text)]
        for k in range(2, self.KEY + 1):
            grams.append({text[i:i + k] for i in range(len(text) - k + 1)})
        return [t for t, key in zip(self.tokens, self._keys) if key in grams[len(key)] and t[0] in text]


def _array(value, n: int, key: str, fail) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        raise fail(f"{key} is not a numeric array")
    if len(value) < n:
        raise fail(f"{key} has {len(value)} entries for {n} tokens")
    return value


def _token_id(metadata: dict, name: str, default: int | None, n: int, fail) -> int | None:
    key = f"tokenizer.ggml.{name}_token_id"
    value = metadata.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise fail(f"{key} is {value!r}, not a token id below the vocabulary size {n}")
    return int(value)


def _flag(metadata: dict, key: str, default: bool, fail) -> bool:
    value = metadata.get(key, default)
    if not isinstance(value, (bool, np.bool_)):
        raise fail(f"{key} is {value!r}, not a boolean")
    return bool(value)
