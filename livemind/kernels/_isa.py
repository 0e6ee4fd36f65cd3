"""Which SIMD path the kernels use, and how many threads they share."""

from __future__ import annotations

from contextlib import contextmanager

from livemind import _native


def isa() -> str:
    """The ISA the kernels run on now: ``"avx512"``, ``"avx2"``, ``"neon"`` or ``"scalar"``."""
    return _native.isa_active()


def available_isas() -> list[str]:
    """Every ISA this CPU can run, best first (``"scalar"`` is always last)."""
    return _native.isa_supported()


def set_isa(name: str) -> None:
    """Force a path (tests and benchmarks compare them). ``ValueError`` if the name is unknown or
    this CPU cannot run it. The choice is process-wide.

    >>> set_isa("scalar"); isa()
    'scalar'
    """
    if name not in available_isas():
        raise ValueError(f"ISA {name!r} is not available here; available: {', '.join(available_isas())}")
    _native.isa_set(name)


def get_threads() -> int:
    """Threads in the kernel pool (the calling thread included)."""
    return _native.threads_get()


def set_threads(n: int | None = None) -> None:
    """Resize the kernel pool; ``None`` or 0 means every CPU this process may use."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"threads must be a non-negative integer or None, got {n!r}")
    _native.threads_set(n or 0)


def cpu_count() -> int:
    """CPUs in this process's affinity mask (what the pool uses by default)."""
    return _native.cpu_count()


@contextmanager
def thread_cap(n: int):
    """Caps the threads kernel calls use while in the block, for the calling thread only (other
    threads' calls are unaffected). ``thread_cap(1)`` runs small, latency-bound work inline.

    >>> with thread_cap(1):
    ...     pass
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"thread cap must be a positive integer, got {n!r}")
    previous = _native.threads_cap_local(n)
    try:
        yield
    finally:
        _native.threads_cap_local(previous)
