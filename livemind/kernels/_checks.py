"""Argument checks shared by the kernel wrappers: every wrong shape or dtype becomes a
``ValueError`` naming the argument before any native code runs."""

from __future__ import annotations

import numpy as np


def as_f32(x, name: str, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 array (converting from other float dtypes), checked for
    its number of dimensions."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    check_ndim(arr, name, ndim)
    return np.ascontiguousarray(arr, dtype=np.float32)


def as_dtype(x, dtype, name: str, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``x`` as a C-contiguous array of exactly ``dtype`` (no conversion: a mismatch is an error)."""
    arr = np.asarray(x)
    if arr.dtype != np.dtype(dtype):
        raise ValueError(f"{name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    check_ndim(arr, name, ndim)
    return np.ascontiguousarray(arr)


def check_ndim(arr: np.ndarray, name: str, ndim: int | tuple[int, ...] | None) -> None:
    if ndim is None:
        return
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")


def check_shape(arr: np.ndarray, name: str, shape: tuple[int, ...]) -> None:
    """Exact shape check; -1 in ``shape`` matches any size."""
    if len(arr.shape) != len(shape) or any(w != -1 and g != w for g, w in zip(arr.shape, shape)):
        want = "(" + ", ".join("*" if w == -1 else str(w) for w in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
