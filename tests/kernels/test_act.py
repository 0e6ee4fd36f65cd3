"""swiglu, geglu and gelu against numpy in float64, on every ISA."""

import numpy as np
import pytest

import livemind.kernels as K

SIZES = [1, 3, 17, 129, 4097]
# exp is ~2 ulp; e^{-2u} also carries the float32 rounding of u, which grows with |u|.
RTOL = 1e-5
# Outputs below 1e-12 in size are zero for any purpose an activation serves.
ATOL = 1e-12
EXTREMES = np.array([-1e20, -1e4, -200, -88.5, -30, -9, -5, -1e-3, 0, 1e-3, 5, 9, 30, 88.5, 200, 1e4, 1e20],
                    np.float32)


def silu64(g):
    g = g.astype(np.float64)
    with np.errstate(over="ignore"):
        return g / (1 + np.exp(-g))


def gelu64(x):
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


@pytest.mark.parametrize("n", SIZES)
def test_matches_numpy(each_isa, rng, n):
    gate = (rng.standard_normal(n) * 3).astype(np.float32)
    up = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(K.swiglu(gate, up), silu64(gate) * up, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.geglu(gate, up), gelu64(gate) * up, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.gelu(gate), gelu64(gate), rtol=RTOL, atol=ATOL)


def test_extreme_inputs(each_isa):
    up = np.full(EXTREMES.shape, 1.5, np.float32)
    for got in (K.swiglu(EXTREMES, up), K.geglu(EXTREMES, up), K.gelu(EXTREMES)):
        assert np.all(np.isfinite(got))
    np.testing.assert_allclose(K.swiglu(EXTREMES, up), silu64(EXTREMES) * up, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.geglu(EXTREMES, up), gelu64(EXTREMES) * up, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.gelu(EXTREMES), gelu64(EXTREMES), rtol=RTOL, atol=ATOL)


def test_shapes_kept_and_threads(each_isa, rng):
    gate = (rng.standard_normal((8, 3, 22000)) * 3).astype(np.float32)
    up = rng.standard_normal((8, 3, 22000)).astype(np.float32)
    y = K.swiglu(gate, up)
    assert y.shape == gate.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, silu64(gate) * up, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.gelu(gate), gelu64(gate), rtol=RTOL, atol=ATOL)


def test_float64_input_converted(rng):
    x = rng.standard_normal(10)
    y = K.gelu(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, gelu64(x.astype(np.float32)), rtol=RTOL, atol=ATOL)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="up must have the shape of gate"):
        K.swiglu(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="up must have the shape of gate"):
        K.geglu(np.ones(4), np.ones(5))


def test_scalar_keeps_its_shape():
    y = K.gelu(np.float32(1.0))
    assert y.shape == () and abs(float(y) - 0.8411920) < 1e-6
