"""Timing helpers shared by the benchmarks: medians of repeated runs, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], *, repeats: int = 5, min_time: float = 0.05) -> float:
    """Median over ``repeats`` runs of the time of one call of ``fn``. Each run loops ``fn``
    enough times to last about ``min_time`` seconds (calibrated once), so tiny kernels are not
    measured at the clock's resolution."""
    fn()  # warm-up: page faults, lazy init, caches
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    """What a reader needs to compare numbers across machines."""
    import numpy as np

    import livemind.kernels as K

    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        blas_info = cfg.get("Build Dependencies", {}).get("blas", {})
        blas = f"{blas_info.get('name', '?')} {blas_info.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        pass
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cpus_usable": K.cpu_count(),
        "isas": K.available_isas(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": blas,
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS") if k in os.environ},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
