"""Flash attention over a float32, float16 or FP8 (E4M3FN) K/V."""

from __future__ import annotations

import math

import numpy as np

from livemind import _native
from livemind.kernels._checks import as_f32, check_ndim, positive_int
from livemind.kernels._fp8 import fp8_encode

_KV_DTYPES = {"f32": (0, np.dtype(np.float32)), "f16": (1, np.dtype(np.float16)), "fp8": (2, np.dtype(np.uint8))}


def _kv(x, name: str, kv_dtype: str) -> np.ndarray:
    """``x`` (S, Hkv, D) as a C-contiguous array in the storage dtype of ``kv_dtype``."""
    arr = np.asarray(x)
    check_ndim(arr, name, 3)
    want = _KV_DTYPES[kv_dtype][1]
    if arr.dtype == want:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.float32 or (arr.dtype == np.float16 and kv_dtype != "f16"):
        if kv_dtype == "fp8":
            return fp8_encode(arr)
        with np.errstate(over="ignore"):  # beyond ±65504 becomes ±inf, as a float16 cache stores it
            return np.ascontiguousarray(arr, dtype=want)
    raise ValueError(f"{name} must be float32, float16 or (with kv_dtype='fp8') uint8 E4M3FN codes; "
                     f"got dtype {arr.dtype} with kv_dtype={kv_dtype!r}")


def attention(q, k, v, causal=True, window=None, scale=None, kv_dtype="f32", softcap=None) -> np.ndarray:
    """Multi-head attention softmax(scale · q kᵀ) v, computed flash-style (tiles of keys with an
    online softmax: memory does not grow with T × S).

    q is (T, H, D) float32; k and v are (S, Hkv, D) with H a multiple of Hkv (grouped-query
    attention: query head h reads KV head h // (H // Hkv)). Query row t sits at position
    S - T + t, so T < S is a chunk of new tokens after S - T cached ones. ``causal``: row t sees
    keys j <= S - T + t (then T must not exceed S). ``window``: a positive int limits each row to
    its last ``window`` keys (p - j < window). ``scale`` defaults to 1 / sqrt(D). ``softcap``: a
    positive number turns each scaled score s into softcap · tanh(s / softcap) before the softmax
    (Gemma-2's attention logit soft-capping).

    ``kv_dtype`` ("f32", "f16" or "fp8") is how K and V are stored for the kernel: float32
    inputs are converted to it; float16 inputs (kv_dtype "f16") and uint8 E4M3FN codes
    (kv_dtype "fp8", see :func:`fp8_encode`) are used as they are. Returns (T, H, D) float32.

    >>> q = np.ones((1, 4, 8), np.float32); kv = np.ones((5, 2, 8), np.float32)
    >>> attention(q, kv, kv).shape
    (1, 4, 8)
    """
    if kv_dtype not in _KV_DTYPES:
        raise ValueError(f"kv_dtype must be one of {', '.join(map(repr, _KV_DTYPES))}; got {kv_dtype!r}")
    q = as_f32(q, "q", ndim=3)
    k = _kv(k, "k", kv_dtype)
    v = _kv(v, "v", kv_dtype)
    T, H, D = q.shape
    S, Hkv, Dk = k.shape
    if v.shape != k.shape:
        raise ValueError(f"v must have the shape of k {k.shape}, got {v.shape}")
    if Dk != D:
        raise ValueError(f"k must have head size D = {D} (from q), got shape {k.shape}")
    if D == 0:
        raise ValueError(f"q must have a positive head size D, got shape {q.shape}")
    if Hkv == 0 or H % Hkv:
        raise ValueError(f"q's {H} heads must be a positive multiple of k's {Hkv} KV heads")
    if not isinstance(causal, (bool, np.bool_)):
        raise ValueError(f"causal must be a bool, got {causal!r}")
    if causal and T > S:
        raise ValueError(f"q has {T} rows but k only {S} positions: causal attention needs T <= S")
    window = 0 if window is None else positive_int(window, "window")
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer)) \
            or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")
    if softcap is not None and (isinstance(softcap, bool) or not isinstance(softcap, (int, float, np.floating, np.integer))
                                or not math.isfinite(softcap) or softcap <= 0):
        raise ValueError(f"softcap must be a positive finite number or None, got {softcap!r}")
    out = np.empty((T, H, D), np.float32)
    if T:
        _native.attention(q, k, v, out, T, S, H, Hkv, D, 0, float(scale), bool(causal), window,
                          _KV_DTYPES[kv_dtype][0], float(softcap or 0.0))
    return out
