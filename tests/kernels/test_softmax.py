"""softmax against numpy in float64, on every ISA."""

import numpy as np
import pytest

import livemind.kernels as K

SIZES = [1, 3, 17, 129, 4097]
# The vector exp is ~2 ulp and each row's sum is a float32 sum of up to 4097 terms.
RTOL = 1e-5
# Probabilities below float32's normal range may flush to 0.
ATOL = 1e-30


def softmax64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("n", SIZES)
def test_matches_numpy(each_isa, rng, n):
    x = (rng.standard_normal((4, n)) * 3).astype(np.float32)
    y = K.softmax(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, softmax64(x), rtol=RTOL, atol=ATOL)


def test_leading_dims(each_isa, rng):
    x = rng.standard_normal((2, 3, 5, 33)).astype(np.float32)
    np.testing.assert_allclose(K.softmax(x), softmax64(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("offset", [1e4, -1e4])
def test_large_values(each_isa, rng, n, offset):
    x = (offset + rng.uniform(-80, 80, (2, n))).astype(np.float32)
    y = K.softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, softmax64(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("n", SIZES)
def test_masked_entries(each_isa, rng, n):
    x = rng.standard_normal((3, n)).astype(np.float32)
    mask = rng.random((3, n)) < 0.5
    mask[:, 0] = False  # every row keeps one entry
    x[mask] = -np.inf
    y = K.softmax(x)
    assert np.all(y[mask] == 0)
    np.testing.assert_allclose(y, softmax64(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("n", SIZES)
def test_degenerate_rows(each_isa, n):
    x = np.stack([np.full(n, 7.5, np.float32), np.full(n, -np.inf, np.float32)])
    y = K.softmax(x)
    np.testing.assert_allclose(y[0], np.full(n, 1.0 / n), rtol=RTOL)
    assert np.array_equal(y[1], np.zeros(n, np.float32))  # all masked: zeros, not NaN


def test_does_not_modify_input(rng):
    x = rng.standard_normal((2, 9)).astype(np.float32)
    before = x.copy()
    K.softmax(x)
    assert np.array_equal(x, before)


def test_threaded_rows(each_isa, rng):
    x = (rng.standard_normal((129, 4096)) * 4).astype(np.float32)
    np.testing.assert_allclose(K.softmax(x), softmax64(x), rtol=RTOL, atol=ATOL)


def test_rejects_scalar():
    with pytest.raises(ValueError, match="x"):
        K.softmax(np.float32(1.0))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_poisons_the_row(each_isa, rng, n, bad):
    x = rng.standard_normal((2, n)).astype(np.float32)
    x[0, n // 2] = bad
    y = K.softmax(x)
    assert np.all(np.isnan(y[0]))  # as numpy: NaN in, NaN out, never a quiet 0
    np.testing.assert_allclose(y[1], softmax64(x[1:])[0], rtol=RTOL, atol=ATOL)


def test_non_contiguous_and_float64_input(rng):
    x = rng.standard_normal((17, 5))
    y = K.softmax(x.T)  # a float64, transposed view: converted, not misread
    assert y.dtype == np.float32 and y.shape == (5, 17)
    np.testing.assert_allclose(y, softmax64(x.T.astype(np.float32)), rtol=RTOL, atol=ATOL)
