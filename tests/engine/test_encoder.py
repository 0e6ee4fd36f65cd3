"""The MiniLM sentence encoder against sentence-transformers' own vectors for the same model
(computed once with sentence-transformers and committed: tests/engine/data/minilm_reference.json)."""

import json
from pathlib import Path

import numpy as np
import pytest

from livemind import ModelLoadError
from livemind.engine.encoder import load_encoder

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
COS_MIN = 0.999


@pytest.fixture(scope="module")
def encoder():
    return load_encoder()


def test_embeddings_match_sentence_transformers(encoder):
    ours = encoder.embed(REFERENCE["sentences"])
    ref = np.asarray(REFERENCE["embeddings"], np.float32)
    assert ours.shape == ref.shape == (len(REFERENCE["sentences"]), 384)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= COS_MIN, cos
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_similar_meanings_score_higher(encoder):
    q, code, poem = encoder.embed(["how do I reverse a list in python",
                                   "def reverse(xs): return xs[::-1]",
                                   "the moon rose slowly over the silent hills"])
    assert q @ code > q @ poem


def test_single_string_and_errors(encoder, tmp_path):
    assert encoder.embed("hello").shape == (384,)
    with pytest.raises(ValueError):
        encoder.embed([1, 2])
    with pytest.raises(ModelLoadError):
        load_encoder(tmp_path)


def test_load_model_on_an_encoder_folder_embeds(smollm2_path):
    """One entry point: load_model on the MiniLM folder gives the encoder, m.embed(texts) works,
    and a decoder says where embeddings come from."""
    from livemind.engine.encoder import Encoder, minilm_dir
    from livemind.engine.model import load_model

    with load_model(minilm_dir()) as m:
        assert isinstance(m, Encoder)
        ref = np.asarray(REFERENCE["embeddings"][:2], np.float32)
        got = m.embed(REFERENCE["sentences"][:2])
        assert np.min(np.sum(got * ref, axis=1) / np.linalg.norm(ref, axis=1)) >= COS_MIN
        assert m.tokenize("hello world")[0] == m.tokenizer.encode("")[0]   # [CLS] first
        assert m.memory()["weights"] > 20_000_000 and m.memory()["kv"] == 0
    with load_model(smollm2_path, context=64) as dec:
        with pytest.raises(TypeError, match="encoder"):
            dec.embed(["hello"])
