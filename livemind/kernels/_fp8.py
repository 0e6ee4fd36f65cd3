"""FP8 E4M3FN ("fn": finite values and NaN, no infinities) encoding and decoding.

E4M3FN has 1 sign, 4 exponent (bias 7) and 3 mantissa bits: values up to ±448, subnormals down
to 2^-9. Encoding rounds to nearest even, saturates to ±448 (infinities too) and keeps NaN as
0x7F / 0xFF with its sign.
"""

from __future__ import annotations

import numpy as np

from livemind import _native

_ENCODERS = {np.dtype(np.float32): _native.fp8_from_f32, np.dtype(np.float16): _native.fp8_from_f16}
_DECODERS = {np.dtype(np.float32): _native.fp8_to_f32, np.dtype(np.float16): _native.fp8_to_f16}


def fp8_encode(x) -> np.ndarray:
    """Encode a float32 or float16 array of any shape into E4M3FN codes (uint8, same shape).

    Other dtypes are refused rather than converted: going through float32 first could round
    twice.

    >>> fp8_encode(np.array([1.0, -0.3, 1e6], np.float32))
    array([ 56, 170, 126], dtype=uint8)
    """
    arr = np.asarray(x)
    encode = _ENCODERS.get(arr.dtype)
    if encode is None:
        raise ValueError(f"x must have dtype float32 or float16, got {arr.dtype}")
    arr = np.asarray(arr, order="C")
    out = np.empty(arr.shape, np.uint8)
    encode(arr, out, arr.size)
    return out


def fp8_decode(codes, dtype=np.float32) -> np.ndarray:
    """Decode E4M3FN codes (a uint8 array of any shape) into ``dtype`` (float32 or float16),
    exactly: every E4M3FN value is a float16 value. 0x7F / 0xFF decode to NaN.

    >>> fp8_decode(np.array([56, 170, 64], np.uint8))
    array([ 1.    , -0.3125,  2.    ], dtype=float32)
    """
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        raise ValueError(f"codes must have dtype uint8, got {arr.dtype}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float16, got {dtype!r}") from exc
    decode = _DECODERS.get(out_dtype)
    if decode is None:
        raise ValueError(f"dtype must be float32 or float16, got {out_dtype}")
    arr = np.asarray(arr, order="C")
    out = np.empty(arr.shape, out_dtype)
    decode(arr, out, arr.size)
    return out
