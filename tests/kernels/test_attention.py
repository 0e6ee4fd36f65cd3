"""Flash attention against a naive float64 numpy attention (on the decoded K/V for f16 and fp8),
over decode, prefill, chunked prefill, GQA, sliding windows and non-causal shapes, every ISA."""

from __future__ import annotations

import numpy as np
import pytest

import livemind.kernels as K

# float32 accumulation over D <= 256 products and up to ~1000 keys, vs float64 on the same
# decoded K/V; outputs are O(1) (weighted means of N(0, 1) values).
ATOL = 2e-5
RTOL = 2e-4


def naive_attention(q, k, v, causal=True, window=None, scale=None) -> np.ndarray:
    """softmax(scale · q kᵀ + mask) v in float64, materialising every score."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    T, H, D = q.shape
    S, Hkv, _ = k.shape
    scale = 1 / np.sqrt(D) if scale is None else scale
    kk, vv = np.repeat(k, H // Hkv, axis=1), np.repeat(v, H // Hkv, axis=1)  # (S, H, D)
    scores = np.einsum("thd,shd->hts", q, kk) * scale  # (H, T, S)
    pos, j = S - T + np.arange(T)[:, None], np.arange(S)[None, :]
    mask = np.ones((T, S), bool)
    if causal:
        mask &= j <= pos
    if window:
        mask &= pos - j < window
    scores = np.where(mask, scores, -np.inf)
    m = scores.max(axis=-1, keepdims=True) if S else np.zeros((H, T, 1))
    p = np.where(mask, np.exp(scores - np.where(np.isfinite(m), m, 0)), 0.0)
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)  # no visible key: zeros
    return np.einsum("hts,shd->thd", p, vv)


def decoded(x: np.ndarray, kv_dtype: str) -> np.ndarray:
    """What the kernel sees of float32 K/V stored as kv_dtype."""
    if kv_dtype == "f16":
        return x.astype(np.float16).astype(np.float64)
    if kv_dtype == "fp8":
        return K.fp8_decode(K.fp8_encode(x)).astype(np.float64)
    return x.astype(np.float64)


SHAPES = [
    # T, S, H, Hkv, D, window, causal
    (1, 1, 4, 1, 64, None, True),  # decode
    (1, 3, 8, 2, 128, None, True),
    (1, 17, 4, 1, 256, None, True),
    (1, 129, 8, 2, 64, None, True),
    (1, 1031, 4, 1, 128, None, True),  # split over keys
    (17, 17, 4, 1, 64, None, True),  # prefill
    (129, 129, 8, 2, 64, None, True),
    (3, 1000, 4, 1, 256, None, True),  # chunked prefill
    (64, 257, 8, 2, 128, None, True),
    (1, 1000, 4, 1, 64, 37, True),  # window smaller than a tile
    (100, 300, 8, 2, 64, 90, True),  # window across tiles
    (17, 129, 4, 1, 64, None, False),  # non-causal
    (40, 17, 2, 2, 20, None, False),  # non-causal, T > S, D of no vector width
]


@pytest.mark.parametrize("kv_dtype", ["f32", "f16", "fp8"])
@pytest.mark.parametrize("T,S,H,Hkv,D,window,causal", SHAPES)
def test_matches_naive(each_isa, rng, T, S, H, Hkv, D, window, causal, kv_dtype):
    q = rng.standard_normal((T, H, D)).astype(np.float32)
    k = rng.standard_normal((S, Hkv, D)).astype(np.float32)
    v = rng.standard_normal((S, Hkv, D)).astype(np.float32)
    got = K.attention(q, k, v, causal=causal, window=window, kv_dtype=kv_dtype)
    want = naive_attention(q, decoded(k, kv_dtype), decoded(v, kv_dtype), causal, window)
    assert got.shape == (T, H, D) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)


def test_prefill_long_odd_s(rng):
    T = S = 1031
    q = rng.standard_normal((T, 4, 64)).astype(np.float32)
    k = rng.standard_normal((S, 1, 64)).astype(np.float32)
    v = rng.standard_normal((S, 1, 64)).astype(np.float32)
    np.testing.assert_allclose(K.attention(q, k, v), naive_attention(q, k, v), atol=ATOL, rtol=RTOL)


def test_stored_kv_used_as_is(rng):
    q = rng.standard_normal((5, 4, 64)).astype(np.float32)
    k = rng.standard_normal((40, 2, 64)).astype(np.float32)
    v = rng.standard_normal((40, 2, 64)).astype(np.float32)
    from_f32 = K.attention(q, k, v, kv_dtype="f16")
    assert np.array_equal(K.attention(q, k.astype(np.float16), v.astype(np.float16), kv_dtype="f16"), from_f32)
    from_f32 = K.attention(q, k, v, kv_dtype="fp8")
    assert np.array_equal(K.attention(q, K.fp8_encode(k), K.fp8_encode(v), kv_dtype="fp8"), from_f32)


def test_scale_and_large_logits(rng):
    q = rng.standard_normal((4, 2, 32)).astype(np.float32)
    k = rng.standard_normal((9, 2, 32)).astype(np.float32)
    v = rng.standard_normal((9, 2, 32)).astype(np.float32)
    assert np.array_equal(K.attention(q, k, v), K.attention(q, k, v, scale=1 / np.sqrt(32)))
    for scale in (0.01, 3.0, 50.0):  # 50: logits in the thousands, exp must not overflow
        np.testing.assert_allclose(K.attention(q, k, v, scale=scale), naive_attention(q, k, v, scale=scale),
                                   atol=ATOL, rtol=RTOL)


def test_no_keys_gives_zeros():
    out = K.attention(np.ones((2, 2, 8), np.float32), np.ones((0, 1, 8), np.float32),
                      np.ones((0, 1, 8), np.float32), causal=False)
    assert out.shape == (2, 2, 8) and np.all(out == 0)


def test_threads_agree(rng):
    q = rng.standard_normal((1, 8, 128)).astype(np.float32)
    k = rng.standard_normal((3000, 2, 128)).astype(np.float32)
    v = rng.standard_normal((3000, 2, 128)).astype(np.float32)
    before = K.get_threads()
    try:
        K.set_threads(1)
        one = K.attention(q, k, v)
        K.set_threads(2)
        two = K.attention(q, k, v)
    finally:
        K.set_threads(before)
    np.testing.assert_allclose(one, two, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(two, naive_attention(q, k, v), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("kwargs,match", [
    (dict(q=np.ones((2, 4), np.float32)), "q must have 3 dimensions"),
    (dict(k=np.ones((5, 2), np.float32)), "k must have 3 dimensions"),
    (dict(v=np.ones((6, 2, 8), np.float32)), "v must have the shape of k"),
    (dict(k=np.ones((5, 2, 4), np.float32), v=np.ones((5, 2, 4), np.float32)), "k must have head size D = 8"),
    (dict(k=np.ones((5, 3, 8), np.float32), v=np.ones((5, 3, 8), np.float32)), "multiple of k's 3 KV heads"),
    (dict(q=np.ones((6, 4, 8), np.float32)), "causal attention needs T <= S"),
    (dict(window=0), "window must be a positive integer"),
    (dict(window=2.5), "window must be a positive integer"),
    (dict(scale=float("nan")), "scale must be a finite number"),
    (dict(scale="big"), "scale must be a finite number"),
    (dict(causal="yes"), "causal must be a bool"),
    (dict(kv_dtype="bf16"), "kv_dtype must be one of"),
    (dict(k=np.ones((5, 2, 8), np.uint8)), "k must be float32, float16 or"),
    (dict(k=np.ones((5, 2, 8), np.float64)), "k must be float32, float16 or"),
    (dict(q=np.ones((1, 4, 8), "U1")), "q must be a numeric array"),
])
def test_bad_arguments(kwargs, match):
    args = dict(q=np.ones((1, 4, 8), np.float32), k=np.ones((5, 2, 8), np.float32),
                v=np.ones((5, 2, 8), np.float32))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        K.attention(**args)
