"""Every supported ``tokenizer.ggml.pre`` name, and SentencePiece-style vocabularies with the flags
Mistral, Phi-3 and Gemma files set, against llama.cpp on vocab-only files made here (see
``vocabs.py``): the corpus under every ``add_special``/``parse_special`` combination, random
strings, a long prompt, and the BOS/EOS flags each name implies."""

from __future__ import annotations

import pytest

from livemind import ModelLoadError
from livemind.engine import Tokenizer
from livemind.engine._pretok import PRE_TOKENIZERS

from tokref import CORPUS, PIECES, Reference
from vocabs import write_bpe_gguf, write_spm_gguf

COMBOS = [(False, False), (False, True), (True, False), (True, True)]
# beyond the corpus: what separates the pre-tokenizers (digit groups, cased runs, CJK scripts,
# punctuation runs before newlines, apostrophes that are not contractions)
EXTRA = [
    "1 12 123 1234 12345 123456 1234567", "a1b22c333 ４５６ ²³ ١٢٣", "HTTPServer getHTTPResponse iPhone ÉCOLEparis",
    "ǅemal ǈ ǋ McDonald'S DON'T I'M WE'LL", "O'Neil's l'homme aujourd'hui rock'n'roll '' 'sup 'twas 'llama 'dx 'REd",
    "end.\n\nNext!\r\n\r\n  next?  \n", "!!!\n\n\n...  ,,, ;;;\t\t", "东京 とうきょう トウキョウ 서울 ㄱㄴ 中文。标点！",
    "<sentinel:12> IMGIMGABCZ IMGIMGAZ", "x  y   z    w     v", "tab\there\t\tthere", " ",
    "  ", "\n \n", "a\u00a0\u00a0b\u3000\u3000c", "\U0001fae9 newer emoji \U00013460 hieroglyph",
    "numbers: 3.14, -2.5e10, 1,000,000.00, 0x1F", "/path/to/file.py:42:7", "a—b–c…d", "ⅫⅣ ½ ⑳",
]
TEXTS = CORPUS + EXTRA


def _random_texts(rng, n: int) -> list[str]:
    pieces = PIECES + ["1", "23", "456", "A", "Ab", "aB", "'S", "'ll", "/", "\r", "东京", "ﾄｳ", "IMGIMGAZ", " "]
    return ["".join(rng.choice(pieces, size=rng.integers(1, 30))) for _ in range(n)]


def _differences(ref: Reference, texts, combos=COMBOS) -> dict:
    wrong = {}
    for text in texts:
        for add, parse in combos:
            got = ref.ours.encode(text, add_special=add, parse_special=parse)
            want = ref.tokenize(text, add, parse)
            if got != want:
                wrong[(text, add, parse)] = (got, want)
    return wrong


SPM_FLAGS = {
    "defaults": {},                                        # Llama-2 / Mistral files: prefix a space, add BOS
    "space-prefix": {"tokenizer.ggml.add_space_prefix": True, "tokenizer.ggml.add_bos_token": True},
    "no-space-prefix": {"tokenizer.ggml.add_space_prefix": False},  # Gemma, Phi-3
    "eos-no-bos": {"tokenizer.ggml.add_bos_token": False, "tokenizer.ggml.add_eos_token": True},
    "remove-extra-whitespaces": {"tokenizer.ggml.remove_extra_whitespaces": True},  # read, unused by llama.cpp
}
# every BPE pre name ("" is a file without tokenizer.ggml.pre: llama.cpp's "default"), then the
# SentencePiece-style vocabulary (tokenizer.ggml.model = "llama") with each set of flags
VOCABS = [("bpe", name) for name in sorted(PRE_TOKENIZERS)] + [("spm", flags) for flags in sorted(SPM_FLAGS)]


@pytest.fixture(scope="module", params=VOCABS, ids=lambda v: f"{v[0]}:{v[1] or '(absent)'}")
def ref(request, tmp_path_factory) -> Reference:
    kind, name = request.param
    path = tmp_path_factory.mktemp(kind) / "vocab.gguf"
    if kind == "bpe":
        write_bpe_gguf(path, name or None)
    else:
        write_spm_gguf(path, SPM_FLAGS[name])
    return Reference(path, Tokenizer.from_gguf(path))


def test_ids_match_llama_cpp_on_the_corpus(ref):
    wrong = _differences(ref, TEXTS)
    assert not wrong, f"{len(wrong)} of {4 * len(TEXTS)} differ (ours, llama.cpp): {dict(list(wrong.items())[:5])}"


def test_ids_match_llama_cpp_on_random_text(ref, rng):
    wrong = _differences(ref, _random_texts(rng, 200), [(False, False), (True, True)])
    assert not wrong, f"{len(wrong)} differ, e.g. {dict(list(wrong.items())[:5])}"


def test_ids_match_llama_cpp_on_a_long_prompt(ref):
    text = "\n\n".join(TEXTS) * 2
    assert ref.ours.encode(text, parse_special=True) == ref.tokenize(text, True, True)


def test_flags_match_llama_cpp(ref):
    lib, vocab, ours = ref.lib, ref.vocab, ref.ours
    theirs = [lib.llama_vocab_bos(vocab), lib.llama_vocab_eos(vocab)]
    assert [ours.bos_id, ours.eos_id] == [None if i < 0 else i for i in theirs]
    assert (ours.add_bos, ours.add_eos) == (lib.llama_vocab_get_add_bos(vocab), lib.llama_vocab_get_add_eos(vocab))


def test_every_token_piece_matches_llama_cpp(ref):
    ours = ref.ours
    assert [ours.token_bytes(i) for i in range(ours.vocab_size)] == [ref.piece(i) for i in range(ours.vocab_size)]


@pytest.mark.parametrize("pre", ["llama-bpe", "tekken", "chatglm-bpe", "glm4", "chameleon", "gpt-2", "qwen2"])
def test_bpe_defaults_without_special_keys_match_llama_cpp(tmp_path, pre):
    """A file silent about BOS/EOS gets llama.cpp's defaults for its pre name (Llama-3 and Tekken
    add BOS, ChatGLM has none, GPT-2's is token 11)."""
    path = write_bpe_gguf(tmp_path / "vocab.gguf", pre, {"tokenizer.ggml.bos_token_id": None,
                                                        "tokenizer.ggml.eos_token_id": None})
    ref = Reference(path, Tokenizer.from_gguf(path))
    test_flags_match_llama_cpp(ref)
    assert not _differences(ref, ["Hello world", "<|begin_of_text|>x"])


def test_bpe_add_bos_key_overrides_the_default(tmp_path):
    path = write_bpe_gguf(tmp_path / "vocab.gguf", "llama-bpe", {"tokenizer.ggml.add_bos_token": False})
    ref = Reference(path, Tokenizer.from_gguf(path))
    assert not ref.ours.add_bos
    assert not _differences(ref, CORPUS[:10])


@pytest.mark.parametrize("pre", ["kimi-k2", "superbpe", "tiny_aya", "afmoe", "gemma4", "whitespace", "no-such-pre"])
def test_unsupported_pre_names_are_refused_by_name(tmp_path, pre):
    path = write_bpe_gguf(tmp_path / "vocab.gguf", pre)
    with pytest.raises(ModelLoadError, match=pre):
        Tokenizer.from_gguf(path)


# -- SentencePiece-style only ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def spm(tmp_path_factory) -> Reference:
    path = write_spm_gguf(tmp_path_factory.mktemp("spm") / "vocab.gguf")
    return Reference(path, Tokenizer.from_gguf(path))


def test_spm_falls_back_to_bytes(spm):
    flamingo = "\U0001f9a9"                       # not in the training text: no token spells it
    ids = spm.ours.encode(flamingo, add_special=False)
    assert [spm.ours.token_text(i) for i in ids[-4:]] == ["<0xF0>", "<0x9F>", "<0xA6>", "<0xA9>"]
    assert ids == spm.tokenize(flamingo, False, False)
