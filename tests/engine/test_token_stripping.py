"""Special tokens that eat the whitespace beside them, as llama.cpp sets them by the file's names
(GGUF files do not record it): Phi-3's after every special token but <unk>, <s> and
<|endoftext|> when general.name says "phi3" or "phi-3"; <mask> before it for the jina-v2 names;
[MASK] for a "modern-bert" model. Each against llama.cpp on vocab-only files made here."""

from __future__ import annotations

import pytest

from livemind.engine import Tokenizer

from tokref import CORPUS, Reference
from vocabs import CONTROL, UNKNOWN, USER_DEFINED, write_family_gguf

C, U, K = CONTROL, USER_DEFINED, UNKNOWN
PHI3 = [("<unk>", C), ("<s>", C), ("</s>", U), ("<|endoftext|>", C), ("<|assistant|>", C),
        ("<|placeholder1|>", C), ("<|system|>", C), ("<|end|>", C), ("<|user|>", C), ("<|tool|>", U)]
PHI3_KEYS = {"tokenizer.ggml.bos_token_id": "<s>", "tokenizer.ggml.eos_token_id": "<|endoftext|>",
             "tokenizer.ggml.unknown_token_id": "<unk>"}
MASKS = [("<|endoftext|>", C), ("<mask>", U), ("[MASK]", U), ("<pad>", C)]

# (model, pre, specials, keys, whether llama.cpp strips beside any token of this file)
FILES = {
    "phi3": ("llama", None, PHI3, {**PHI3_KEYS, "general.name": "Phi3"}, True),   # llama.cpp's own Phi-3 file
    "phi-3-mini": ("llama", None, PHI3, {**PHI3_KEYS, "general.name": "Phi-3-mini-4k-instruct"}, True),
    "phi-3.5": ("llama", None, PHI3, {**PHI3_KEYS, "general.name": "Phi 3.5 Mini Instruct"}, False),
    "unnamed": ("llama", None, PHI3, PHI3_KEYS, False),
    "jina-v2-de": ("gpt2", "jina-v2-de", MASKS, {}, True),
    "modern-bert": ("gpt2", "modern-bert", MASKS, {"general.name": "modern-bert-base"}, True),
    "gpt-2": ("gpt2", "gpt-2", MASKS, {}, False),
}
WHITESPACE = " \t\n\r\v\f"
TEXTS = [
    "<|user|>\nHi<|end|>\n<|assistant|>\n", "<|system|>\n  You are a bot.<|end|>\n<|user|>\r\n\tHi\n<|end|>",
    "<s> a</s>  b<unk> \n c<|endoftext|>\n\n d", "x <|end|> y\v<|end|>\f<|end|>", "<|end|>   ", "   <|user|>",
    "<|user|><|assistant|> <|system|>\n<|end|>", "<|user|>\u00a0\u3000日本 <|end|>\u2028z", "a <|tool|> b </s>\nc",
    "<mask>", "a <mask> b", "a\n\n<mask>\t[MASK] [MASK]", "  <mask>  [MASK]  ", "x<|endoftext|> y <pad>  z",
    f"<|end|>{WHITESPACE}<|user|>{WHITESPACE}<mask>{WHITESPACE}[MASK]", *CORPUS[:24],
]


@pytest.fixture(scope="module", params=FILES)
def ref(request, tmp_path_factory) -> Reference:
    model, pre, specials, keys, _ = FILES[request.param]
    path = write_family_gguf(tmp_path_factory.mktemp(request.param) / "vocab.gguf", model, specials, pre=pre, keys=keys)
    ref = Reference(path, Tokenizer.from_gguf(path))
    ref.name = request.param
    return ref


@pytest.mark.parametrize("add_special, parse_special", [(False, False), (False, True), (True, True)])
def test_whitespace_beside_special_tokens_goes_as_in_llama_cpp(ref, add_special, parse_special):
    tok = ref.ours
    wrong = {t: (tok.encode(t, add_special, parse_special), ref.tokenize(t, add_special, parse_special)) for t in TEXTS}
    wrong = {t: pair for t, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"{len(wrong)} of {len(TEXTS)} differ (ours, llama.cpp): {dict(list(wrong.items())[:3])}"


def test_the_names_decide_which_files_strip(ref):
    """The same text with and without the whitespace: one prompt where the file's names say so."""
    text, bare = {"jina-v2-de": ("a \n<mask>", "a<mask>"), "modern-bert": ("a \n[MASK]", "a[MASK]"),
                  "gpt-2": ("a \n<mask>", "a<mask>")}.get(ref.name, ("<|user|>\n Hi", "<|user|>Hi"))

    def ids(t):
        return ref.ours.encode(t, add_special=False, parse_special=True)

    assert (ids(text) == ids(bare)) == FILES[ref.name][4]

