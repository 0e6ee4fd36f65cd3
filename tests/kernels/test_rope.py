"""rope against numpy in float64, on every ISA."""

import numpy as np
import pytest

import livemind.kernels as K

# The kernels round cos/sin to float32 and rotate in float32 (angles in double): a few float
# ulps of the O(1) inputs.
ATOL = 2e-6
RTOL = 2e-6


def rope64(x, positions, theta, style):
    T, H, D = x.shape
    x = x.astype(np.float64)
    inv_freq = theta ** (-2.0 * np.arange(D // 2) / D)                 # (D/2,)
    angle = np.asarray(positions, np.float64)[:, None] * inv_freq      # (T, D/2)
    c, s = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]        # (T, 1, D/2)
    if style == "normal":
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        a, b = x[..., : D // 2], x[..., D // 2 :]
    ra, rb = a * c - b * s, a * s + b * c
    y = np.empty_like(x)
    if style == "normal":
        y[..., 0::2], y[..., 1::2] = ra, rb
    else:
        y[..., : D // 2], y[..., D // 2 :] = ra, rb
    return y


@pytest.mark.parametrize("style", ["normal", "neox"])
@pytest.mark.parametrize("T", [1, 3, 17, 129])
@pytest.mark.parametrize("D", [2, 6, 64, 258])
def test_matches_numpy(each_isa, rng, style, T, D):
    x = rng.standard_normal((T, 3, D)).astype(np.float32)
    pos = rng.integers(0, 4096, T)
    y = K.rope(x, pos, theta=10000.0, style=style)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, rope64(x, pos, 10000.0, style), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("style", ["normal", "neox"])
def test_large_positions(each_isa, rng, style):
    x = rng.standard_normal((5, 2, 128)).astype(np.float32)
    pos = np.array([32767, 32766, 30000, 17, 0], np.int32)
    y = K.rope(x, pos, theta=1e6, style=style)
    np.testing.assert_allclose(y, rope64(x, pos, 1e6, style), rtol=RTOL, atol=ATOL)


def test_styles_differ_and_default_is_normal(rng):
    x = rng.standard_normal((2, 1, 8)).astype(np.float32)
    pos = [3, 5]
    assert np.array_equal(K.rope(x, pos), K.rope(x, pos, style="normal"))
    assert not np.allclose(K.rope(x, pos, style="normal"), K.rope(x, pos, style="neox"))


def test_returns_new_array(rng):
    x = rng.standard_normal((2, 2, 4)).astype(np.float32)
    before = x.copy()
    y = K.rope(x, [1, 2])
    assert np.array_equal(x, before)
    assert not np.shares_memory(x, y)


def test_argument_errors():
    x = np.ones((2, 1, 4), np.float32)
    with pytest.raises(ValueError, match="style"):
        K.rope(x, [0, 1], style="gptj")
    with pytest.raises(ValueError, match="even"):
        K.rope(np.ones((2, 1, 5), np.float32), [0, 1])
    with pytest.raises(ValueError, match="positions must have shape"):
        K.rope(x, [0, 1, 2])
    with pytest.raises(ValueError, match="positions must be integers"):
        K.rope(x, [0.0, 1.0])
    with pytest.raises(ValueError, match="int32"):
        K.rope(x, [0, 2**40])
    with pytest.raises(ValueError, match="theta"):
        K.rope(x, [0, 1], theta=0.0)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        K.rope(np.ones((2, 4), np.float32), [0, 1])


@pytest.mark.parametrize("style", ["normal", "neox"])
def test_many_tokens_threaded(each_isa, rng, style):
    x = rng.standard_normal((601, 8, 64)).astype(np.float32)
    pos = rng.integers(0, 32768, 601)
    np.testing.assert_allclose(K.rope(x, pos, theta=1e6, style=style), rope64(x, pos, 1e6, style), rtol=RTOL, atol=ATOL)
