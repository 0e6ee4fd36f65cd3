"""GGUF block quantization: quantize, dequantize and quantized matmul, byte-compatible with ggml.

Formats (``fmt``) are named as in GGUF files: blocks of 32 elements for ``q8_0``, ``q4_0``,
``q4_1``, ``q5_0``, ``q5_1``, ``iq4_nl``; super-blocks of 256 for ``q2_k``, ``q3_k``, ``q4_k``,
``q5_k``, ``q6_k`` and ``iq4_xs``. :func:`quantize` writes the first six (``QUANTIZABLE``); the
others come quantized in files and are read (dequantized, multiplied) only. A quantized row of ``K``
elements is ``K // block_elems * block_bytes`` bytes; a matrix is its rows back to back, exactly
as a GGUF tensor's data.

>>> import numpy as np, livemind.kernels as K
>>> w = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
>>> q = K.quantize(w, "q8_0")
>>> q.shape, q.dtype
((4, 68), dtype('uint8'))
>>> K.dequantize(q, "q8_0", w.shape).shape
(4, 64)
"""

from __future__ import annotations

import numpy as np

from livemind import _native
from livemind.kernels._checks import as_f32

QUANT_FORMATS = ("q8_0", "q4_0", "q4_1", "q5_0", "q4_k", "q6_k", "q5_1", "iq4_nl", "q2_k", "q3_k", "q5_k",
                 "iq4_xs")
QUANTIZABLE = QUANT_FORMATS[:6]

# ggml type ids (lmk_qfmt)
_TYPE_IDS = {"q8_0": 8, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q4_k": 12, "q6_k": 14, "q5_1": 7, "iq4_nl": 20,
             "q2_k": 10, "q3_k": 11, "q5_k": 13, "iq4_xs": 23}


def _format(fmt) -> tuple[int, int, int]:
    """(type id, block elements, block bytes) of a format name."""
    if not isinstance(fmt, str) or fmt.lower() not in _TYPE_IDS:
        raise ValueError(f"fmt must be one of {', '.join(QUANT_FORMATS)}; got {fmt!r}")
    tid = _TYPE_IDS[fmt.lower()]
    elems, nbytes = _native.qblock(tid)
    return tid, elems, nbytes


def _shape(shape, name: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of ints, got {shape!r}") from None
    if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise ValueError(f"{name} must be a non-empty tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def _check_block(k: int, block: int, fmt: str, name: str) -> None:
    if k % block:
        raise ValueError(f"{name}: the last dimension ({k}) must be a multiple of {fmt}'s block of {block}")


def _as_bytes(q, name: str = "q") -> np.ndarray:
    if isinstance(q, (bytes, bytearray, memoryview)):
        q = np.frombuffer(q, dtype=np.uint8)
    arr = np.asarray(q)
    if arr.dtype not in (np.uint8, np.int8):
        raise ValueError(f"{name} must hold bytes (dtype uint8), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr).view(np.uint8)


def quantize(w, fmt: str) -> np.ndarray:
    """Quantize ``w`` (float, 1-D or 2-D; last dimension a multiple of the block) to ``fmt``.

    Returns the packed blocks as ``uint8``: shape ``(rows, row_bytes)`` for a 2-D ``w`` (one GGUF
    row per row of ``w``), flat ``(row_bytes,)`` for a 1-D one. The 32-element formats round as
    ggml's reference quantizer does; ``q4_k`` and ``q6_k`` search each sub-block's scale (and min).
    Only the formats in ``QUANTIZABLE``.
    """
    tid, block, nbytes = _format(fmt)
    if fmt.lower() not in QUANTIZABLE:
        raise ValueError(f"quantize writes {', '.join(QUANTIZABLE)}; {fmt} blocks come from GGUF files")
    x = as_f32(w, "w", ndim=(1, 2))
    _check_block(x.shape[-1], block, fmt, "w")
    rows = 1 if x.ndim == 1 else x.shape[0]
    row_bytes = x.shape[-1] // block * nbytes
    q = np.empty((rows, row_bytes), dtype=np.uint8)
    _native.quantize(tid, x, q, x.size)
    return q.reshape(-1) if x.ndim == 1 else q


def dequantize(q, fmt: str, shape) -> np.ndarray:
    """Decode the ``fmt`` blocks in ``q`` (bytes or a ``uint8`` array of any shape, such as a GGUF
    tensor's data) to a float32 array of ``shape``. ``q`` must hold exactly the bytes of
    ``shape``; its last dimension must be a multiple of the block."""
    tid, block, nbytes = _format(fmt)
    dims = _shape(shape)
    _check_block(dims[-1], block, fmt, "shape")
    data = _as_bytes(q)
    n = int(np.prod(dims, dtype=np.int64))
    need = n // block * nbytes
    if data.nbytes != need:
        raise ValueError(f"q holds {data.nbytes} bytes; {fmt} of shape {dims} needs {need}")
    y = np.empty(dims, dtype=np.float32)
    _native.dequantize(tid, data, y, n)
    return y


def _matrix(q, fmt: str, shape) -> tuple[int, int, int, np.ndarray]:
    """(type id, N, K, bytes) of a quantized (N, K) matrix, checked."""
    tid, block, nbytes = _format(fmt)
    dims = _shape(shape)
    if len(dims) != 2:
        raise ValueError(f"shape must be (N, K), got {shape!r}")
    n_out, k = dims
    _check_block(k, block, fmt, "shape")
    data = _as_bytes(q)
    need = n_out * (k // block) * nbytes
    if data.nbytes != need:
        raise ValueError(f"q holds {data.nbytes} bytes; {fmt} of shape {dims} needs {need}")
    return tid, n_out, k, data


def qmatmul(a, q, fmt: str, shape, *, layout: str = "rows") -> np.ndarray:
    """``a @ w.T`` with ``w`` of ``shape`` = (N, K) held quantized in ``q`` (as :func:`dequantize`,
    or as :func:`repack_x16` made it with ``layout="x16"``).

    ``a`` is (M, K) or (K,) float32; the result is (M, N) float32 or (N,). The weights stay
    quantized; ``a`` is rounded to 8 bits per block inside (about 0.5% relative error per
    element), as llama.cpp does.
    """
    if layout not in ("rows", "x16"):
        raise ValueError(f"layout must be 'rows' or 'x16', got {layout!r}")
    tid, n_out, k, data = _matrix(q, fmt, shape)
    if layout == "x16":
        _check_x16(tid, fmt, n_out)
    x = as_f32(a, "a", ndim=(1, 2))
    if x.shape[-1] != k:
        raise ValueError(f"a must have {k} columns to match shape {(n_out, k)}, got shape {x.shape}")
    x2 = x.reshape(-1, k)
    c = np.empty((x2.shape[0], n_out), dtype=np.float32)
    _native.qmatmul(tid, x2, data, c, x2.shape[0], n_out, k, 2 if layout == "x16" else 0)
    return c.reshape(n_out) if x.ndim == 1 else c


# ---------------------------------------------------------------- row-interleaved layout

def _check_x16(tid: int, fmt: str, n_out: int) -> None:
    if not _native.qx16(tid)[0]:
        held = [f for f in QUANT_FORMATS if _native.qx16(_TYPE_IDS[f])[0]]
        raise ValueError(f"the x16 layout holds {', '.join(held[:-1])} and {held[-1]} weights, not {fmt}")
    if n_out % 16:
        raise ValueError(f"the x16 layout needs a multiple of 16 rows, got {n_out}")


def repack_x16(q, fmt: str, shape, *, inverse: bool = False) -> np.ndarray:
    """``q`` (as :func:`quantize` returns it) in the row-interleaved "x16" layout, or back with
    ``inverse=True``: rows in groups of 16, each block's 16 scales side by side and then the
    values four bytes per row, so one 512-bit vector holds the same four values of 16 rows
    (docs/kernels.md). Same number of bytes; N must be a multiple of 16."""
    tid, n_out, k, data = _matrix(q, fmt, shape)
    _check_x16(tid, fmt, n_out)
    out = np.empty(data.nbytes, np.uint8)
    _native.qrepack_x16(tid, data, out, n_out, k, inverse)
    return out.reshape(n_out, -1) if n_out else out


def x16_pays(fmt: str) -> bool:
    """Whether the active ISA has a fast kernel for the x16 layout of ``fmt`` (the engine then
    repacks such weights once at load)."""
    tid, _, _ = _format(fmt)
    return bool(_native.qx16(tid)[1])
