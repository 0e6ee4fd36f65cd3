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
