"""The elementwise kernels: softmax, RMSNorm, LayerNorm, RoPE and the activations.

Each takes numpy arrays (any float or integer dtype is converted to float32), checks shapes,
and returns a new float32 array; the caller's arrays are never modified."""

from __future__ import annotations

import math

import numpy as np

from livemind import _native
from livemind.kernels._checks import as_f32

_ROPE_STYLES = {"normal": 0, "neox": 1}
_INT32 = np.iinfo(np.int32)
_F32 = np.dtype(np.float32)


def _f32(x, name: str) -> np.ndarray:
    """``x`` as C-contiguous float32 of the same shape (0-d stays 0-d)."""
    if type(x) is np.ndarray and x.dtype == _F32 and x.flags.c_contiguous:
        return x  # the common case, without the conversions' microseconds
    arr = np.asarray(x)
    return as_f32(arr, name).reshape(arr.shape)


def _rows(x, name: str) -> tuple[np.ndarray, int, int]:
    """``x`` as float32 seen as rows over its last axis: (x, rows, n)."""
    x = _f32(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension, got a scalar")
    n = x.shape[-1]
    return x, (x.size // n if n else 0), n


def _eps(eps, name: str = "eps") -> float:
    eps = float(eps)
    if not (eps >= 0.0 and math.isfinite(eps)):
        raise ValueError(f"{name} must be a finite number >= 0, got {eps!r}")
    return eps


def _row_weight(w, name: str, n: int) -> np.ndarray:
    arr = as_f32(w, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match x's last dimension, got {arr.shape}")
    return arr


def softmax(x) -> np.ndarray:
    """Softmax over the last axis of ``x`` (any leading dimensions).

    The row maximum is subtracted first, so large values do not overflow. ``-inf`` entries
    (masked) get probability 0; a row that is entirely ``-inf`` gives zeros; a row holding NaN
    or ``+inf`` gives NaN, as numpy does.

    >>> import numpy as np, livemind.kernels as K
    >>> K.softmax(np.array([0.0, np.log(3.0)])).round(3)
    array([0.25, 0.75], dtype=float32)
    """
    x, rows, n = _rows(x, "x")
    y = np.empty_like(x)
    _native.softmax(x, y, rows, n)
    return y


def rmsnorm(x, w, eps: float = 1e-6) -> np.ndarray:
    """RMSNorm over the last axis: ``x / sqrt(mean(x**2) + eps) * w``.

    ``x`` is ``(..., n)`` and ``w`` is ``(n,)``.

    >>> import numpy as np, livemind.kernels as K
    >>> K.rmsnorm(np.array([[3.0, 4.0]]), np.ones(2), eps=0.0).round(4)
    array([[0.8485, 1.1314]], dtype=float32)
    """
    x, rows, n = _rows(x, "x")
    w = _row_weight(w, "w", n)
    y = np.empty_like(x)
    _native.rmsnorm(x, w, y, rows, n, _eps(eps))
    return y


def layernorm(x, w, b=None, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm over the last axis: ``(x - mean) / sqrt(var + eps) * w + b``.

    ``x`` is ``(..., n)``; ``w`` and the optional ``b`` are ``(n,)``.

    >>> import numpy as np, livemind.kernels as K
    >>> K.layernorm(np.array([1.0, 3.0]), np.ones(2), np.full(2, 0.5), eps=0.0)
    array([-0.5,  1.5], dtype=float32)
    """
    x, rows, n = _rows(x, "x")
    w = _row_weight(w, "w", n)
    b = None if b is None else _row_weight(b, "b", n)
    y = np.empty_like(x)
    _native.layernorm(x, w, b, y, rows, n, _eps(eps))
    return y


def rope(x, positions, theta: float = 10000.0, style: str = "normal") -> np.ndarray:
    """Rotary position embedding of ``x`` ``(T, H, D)``; returns a new array.

    Token ``t`` sits at ``positions[t]`` (integers, ``(T,)``); pair ``i`` of each head turns by
    ``positions[t] * theta ** (-2 i / D)``. ``style="normal"`` rotates interleaved pairs
    ``(x[2i], x[2i+1])`` (llama.cpp); ``style="neox"`` rotates ``(x[i], x[i + D/2])`` (GPT-NeoX,
    Gemma, Hugging Face Llama). Angles are computed in double precision, so large positions stay
    accurate; ``theta`` itself is taken as float32 (exact for the usual bases, 1e4, 5e5, 1e6).

    >>> import numpy as np, livemind.kernels as K
    >>> K.rope(np.array([[[1.0, 0.0]]]), [1], theta=10000.0).round(4)
    array([[[0.5403, 0.8415]]], dtype=float32)
    """
    src = np.asarray(x)
    y = as_f32(src, "x", ndim=3)
    if y is src or np.may_share_memory(y, src):
        y = y.copy()
    T, H, D = y.shape
    if D % 2:
        raise ValueError(f"x's last dimension (head size D) must be even, got shape {y.shape}")
    pos = np.asarray(positions)
    if pos.dtype.kind not in "iu" and pos.size:  # an empty list arrives as float64
        raise ValueError(f"positions must be integers, got dtype {pos.dtype}")
    if pos.shape != (T,):
        raise ValueError(f"positions must have shape ({T},) to match x's T, got {pos.shape}")
    if pos.size and (pos.min() < _INT32.min or pos.max() > _INT32.max):
        raise ValueError("positions must fit in int32")
    pos = np.ascontiguousarray(pos, dtype=np.int32)
    theta = float(theta)
    if not (theta > 0.0 and math.isfinite(theta)):
        raise ValueError(f"theta must be a finite number > 0, got {theta!r}")
    if not isinstance(style, str) or style not in _ROPE_STYLES:
        raise ValueError(f"style must be 'normal' or 'neox', got {style!r}")
    _native.rope(y, pos, T, H, D, theta, _ROPE_STYLES[style])
    return y


def _gated(op, gate, up) -> np.ndarray:
    gate = _f32(gate, "gate")
    up = _f32(up, "up")
    if up.shape != gate.shape:
        raise ValueError(f"up must have the shape of gate {gate.shape}, got {up.shape}")
    y = np.empty_like(gate)
    op(gate, up, y, gate.size)
    return y


def swiglu(gate, up) -> np.ndarray:
    """SwiGLU: ``silu(gate) * up`` elementwise, with ``silu(g) = g / (1 + exp(-g))``.

    >>> import numpy as np, livemind.kernels as K
    >>> K.swiglu(np.array([0.0, 1.0]), np.array([2.0, 2.0])).round(4)
    array([0.    , 1.4621], dtype=float32)
    """
    return _gated(_native.swiglu, gate, up)


def geglu(gate, up) -> np.ndarray:
    """GeGLU: ``gelu(gate) * up`` elementwise, with the tanh approximation of :func:`gelu`.

    >>> import numpy as np, livemind.kernels as K
    >>> K.geglu(np.array([1.0]), np.array([2.0])).round(4)
    array([1.6824], dtype=float32)
    """
    return _gated(_native.geglu, gate, up)


def gelu(x) -> np.ndarray:
    """GELU, tanh approximation (as llama.cpp and Gemma use):
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``.

    >>> import numpy as np, livemind.kernels as K
    >>> K.gelu(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.1588,  0.    ,  0.8412], dtype=float32)
    """
    x = _f32(x, "x")
    y = np.empty_like(x)
    _native.gelu(x, y, x.size)
    return y


def softcap(x, cap: float) -> np.ndarray:
    """Soft-capping, ``cap * tanh(x / cap)`` (Gemma-2 bounds its attention scores and logits so).

    >>> import numpy as np, livemind.kernels as K
    >>> K.softcap(np.array([-100.0, 0.0, 1.0]), 30.0).round(4)
    array([-29.9237,   0.    ,   0.9996], dtype=float32)
    """
    if isinstance(cap, bool) or not isinstance(cap, (int, float, np.floating, np.integer)) \
            or not math.isfinite(cap) or cap <= 0:
        raise ValueError(f"cap must be a positive finite number, got {cap!r}")
    x = _f32(x, "x")
    y = np.empty_like(x)
    _native.softcap(x, y, x.size, float(cap))
    return y
