"""float32 matrix multiply against weights in GGUF's "out × in" layout."""

from __future__ import annotations

import numpy as np

from livemind import _native
from livemind.kernels._checks import as_f32


def matmul(a, b) -> np.ndarray:
    """``a @ b.T`` in float32: ``a`` is (M, K) activations, ``b`` is (N, K) weights stored one
    output row per line, as GGUF keeps them. Returns a new (M, N) float32 array.

    Other numeric dtypes are converted to float32 first. Runs on the active ISA (see
    :func:`livemind.kernels.isa`), threaded over the kernel pool; M == 1 takes a GEMV path that
    reads ``b`` once.

    Raises ``ValueError`` naming the argument when ``a`` or ``b`` is not 2-D or their K differ.

    >>> import numpy as np
    >>> a = np.array([[1, 2, 3]], np.float32)             # (M=1, K=3)
    >>> b = np.array([[1, 0, 0], [1, 1, 1]], np.float32)  # (N=2, K=3)
    >>> matmul(a, b)
    array([[1., 6.]], dtype=float32)
    """
    a = as_f32(a, "a", ndim=2)  # (M, K)
    b = as_f32(b, "b", ndim=2)  # (N, K)
    (M, K), (N, Kb) = a.shape, b.shape
    if Kb != K:
        raise ValueError(f"b must have K = {K} columns to match a {a.shape}, got shape {b.shape}")
    c = np.empty((M, N), np.float32)  # (M, N)
    _native.matmul_f32(a, b, c, M, N, K)
    return c
