"""livemind.kernels.matmul against numpy in float64, on every ISA, at awkward shapes."""

from __future__ import annotations

import numpy as np
import pytest

import livemind.kernels as K
from livemind import _native

# Inputs are uniform in [-1, 1]. A float32 dot product of length k rounds k times by at most half
# an ulp of an O(√k) partial sum, so blocked/FMA orders land near eps·k; four float32 eps per
# term of k leaves margin and still catches any dropped or doubled product (each is O(0.3)).
ATOL_PER_K = 4 * np.finfo(np.float32).eps
RTOL = 1e-5

# (M, N, K): 1, 3, 17, 129 and 4097 in each dimension, products kept small enough to run fast;
# also shapes that cross the cache blocks and take each thread split and both GEMV paths.
SHAPES = [
    (1, 1, 1), (3, 17, 129), (17, 129, 3), (129, 3, 17), (129, 129, 129),
    (4097, 3, 17), (3, 4097, 17), (17, 3, 4097),
    (1, 4097, 129), (1, 129, 4097), (4097, 1, 33), (129, 1, 4097),
    (257, 129, 300), (300, 20, 300), (65, 70, 600),
]


def _uniform(rng, shape):
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


@pytest.mark.parametrize("M,N,Kd", SHAPES)
def test_matches_numpy(each_isa, rng, M, N, Kd):
    a, b = _uniform(rng, (M, Kd)), _uniform(rng, (N, Kd))
    got = K.matmul(a, b)
    assert got.shape == (M, N) and got.dtype == np.float32
    want = a.astype(np.float64) @ b.astype(np.float64).T
    np.testing.assert_allclose(got, want, atol=ATOL_PER_K * Kd, rtol=RTOL)


def test_reference_matches_numpy(rng):
    a, b = _uniform(rng, (17, 129)), _uniform(rng, (33, 129))
    c = np.empty((17, 33), np.float32)
    _native.matmul_f32_ref(a, b, c, 17, 33, 129)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b.astype(np.float64).T, atol=ATOL_PER_K * 129, rtol=RTOL)


def test_thread_count_does_not_change_result(each_isa, rng):
    # Threads own disjoint tiles of c, so every element is summed in the same order.
    a, b = _uniform(rng, (129, 300)), _uniform(rng, (257, 300))
    before = K.get_threads()
    try:
        K.set_threads(1)
        one = K.matmul(a, b)
        K.set_threads(2)
        two = K.matmul(a, b)
    finally:
        K.set_threads(before)
    np.testing.assert_array_equal(one, two)


def test_converts_other_dtypes(each_isa, rng):
    a, b = rng.uniform(-1, 1, (5, 17)), rng.uniform(-1, 1, (7, 17)).astype(np.float16)
    got = K.matmul(a, b)
    assert got.dtype == np.float32
    want = a.astype(np.float32).astype(np.float64) @ b.astype(np.float64).T
    np.testing.assert_allclose(got, want, atol=ATOL_PER_K * 17, rtol=RTOL)


def test_non_contiguous_inputs(each_isa, rng):
    a = _uniform(rng, (40, 18))[::2, 1:]  # (20, 17), strided
    b = _uniform(rng, (17, 9)).T          # (9, 17), transposed view
    np.testing.assert_allclose(K.matmul(a, b), a.astype(np.float64) @ b.astype(np.float64).T,
                               atol=ATOL_PER_K * 17, rtol=RTOL)


def test_empty_and_zero_k(each_isa):
    assert K.matmul(np.zeros((0, 5), np.float32), np.zeros((3, 5), np.float32)).shape == (0, 3)
    np.testing.assert_array_equal(K.matmul(np.zeros((2, 0), np.float32), np.zeros((3, 0), np.float32)),
                                  np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("a,b,name", [
    (np.ones(3, np.float32), np.ones((2, 3), np.float32), "a must have 2 dimensions"),
    (np.ones((2, 3), np.float32), np.ones((1, 2, 3), np.float32), "b must have 2 dimensions"),
    (np.ones((2, 3), np.float32), np.ones((4, 5), np.float32), "b must have K = 3"),
    (np.array([["x"]]), np.ones((1, 1), np.float32), "a must be a numeric array"),
])
def test_bad_arguments(a, b, name):
    with pytest.raises(ValueError, match=name):
        K.matmul(a, b)


def test_native_rejects_short_buffers():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="b holds"):
        _native.matmul_f32(a, np.ones(5, np.float32), np.empty((2, 2), np.float32), 2, 2, 3)
    with pytest.raises(ValueError, match="c must be"):
        _native.matmul_f32(a, a, np.empty((2, 2), np.float32)[:, :1], 2, 2, 3)
    with pytest.raises(ValueError):
        _native.matmul_f32(a, a, np.empty((2, 2), np.float32), -2, 2, 3)
