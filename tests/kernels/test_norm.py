"""rmsnorm and layernorm against numpy in float64, on every ISA."""

import numpy as np
import pytest

import livemind.kernels as K

SIZES = [1, 3, 17, 129, 4097]
# Float32 sums of up to 4097 squares; the numpy reference is float64.
RTOL = 1e-5
# LayerNorm outputs cross zero, where only an absolute bound means anything (outputs are O(1)).
ATOL = 1e-5


def rmsnorm64(x, w, eps):
    x = x.astype(np.float64)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layernorm64(x, w, b, eps):
    x = x.astype(np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * w
    return y if b is None else y + b


@pytest.mark.parametrize("n", SIZES)
def test_rmsnorm_matches_numpy(each_isa, rng, n):
    x = (rng.standard_normal((3, n)) * 2).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n).astype(np.float32)
    y = K.rmsnorm(x, w, eps=1e-6)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, rmsnorm64(x, w, 1e-6), rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_layernorm_matches_numpy(each_isa, rng, n, with_bias, offset):
    x = (offset + rng.standard_normal((3, n)) * 2).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if with_bias else None
    y = K.layernorm(x, w, b, eps=1e-5)
    np.testing.assert_allclose(y, layernorm64(x, w, b, 1e-5), rtol=RTOL, atol=ATOL)


def test_leading_dims_and_threads(each_isa, rng):
    x = rng.standard_normal((3, 43, 4096)).astype(np.float32)
    w = rng.uniform(-2, 2, 4096).astype(np.float32)
    np.testing.assert_allclose(K.rmsnorm(x, w), rmsnorm64(x, w, 1e-6), rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(K.layernorm(x, w, w), layernorm64(x, w, w, 1e-5), rtol=RTOL, atol=ATOL)


def test_default_eps(rng):
    x = np.zeros((1, 8), np.float32)  # eps alone keeps the root away from zero
    assert np.array_equal(K.rmsnorm(x, np.ones(8)), np.zeros((1, 8), np.float32))
    x = rng.standard_normal((2, 8)).astype(np.float32) * 1e-3
    np.testing.assert_allclose(K.rmsnorm(x, np.ones(8)), rmsnorm64(x, 1.0, 1e-6), rtol=RTOL)
    np.testing.assert_allclose(K.layernorm(x, np.ones(8)), layernorm64(x, 1.0, None, 1e-5), rtol=RTOL, atol=ATOL)


def test_does_not_modify_input(rng):
    x = rng.standard_normal((2, 9)).astype(np.float32)
    before = x.copy()
    K.rmsnorm(x, np.ones(9))
    K.layernorm(x, np.ones(9), np.ones(9))
    assert np.array_equal(x, before)


def test_shape_errors():
    x = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match="w must have shape"):
        K.rmsnorm(x, np.ones(7))
    with pytest.raises(ValueError, match="w must have shape"):
        K.layernorm(x, np.ones((8, 1)))
    with pytest.raises(ValueError, match="b must have shape"):
        K.layernorm(x, np.ones(8), np.ones(9))
    with pytest.raises(ValueError, match="eps"):
        K.rmsnorm(x, np.ones(8), eps=-1.0)
    with pytest.raises(ValueError, match="x"):
        K.rmsnorm(np.float32(2.0), np.ones(1))
