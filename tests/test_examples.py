"""Every program in examples/ runs on the packaged models and prints what it promises."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

CASES = {
    "routed_chat.py": (["What is the capital of France?"], ["[general", "loaded"]),
    "parallel_consensus.py": (["Why is the sky blue?"], ["[synthesis by general]", "the experts' own times add up to"]),
    "turns_tight_budget.py": (["Name a colour."], ["ModelUnloaded", "[writer done]"]),
    "custom_router.py": ([], ["[coder · custom router]", "[general · custom router]"]),
    "kernels_demo.py": ([], ["q4_k", "max rel err"]),
    "mixed_pool.py": (["Name a planet."], ["[local,", "[remote,", "[synthesis]"]),
}


def run_example(name: str, args: list[str], expected: list[str]) -> str:
    # the checkout's package, whether or not it is installed (as a user running examples/ from a clone)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(EXAMPLES.parent), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                         timeout=300, cwd=EXAMPLES.parent, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    for marker in expected:
        assert marker in out.stdout, (marker, out.stdout[-2000:])
    return out.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name):
    run_example(name, *CASES[name])


@pytest.mark.vllm
def test_mixed_pool_with_a_vllm_expert_runs(smollm2_hf):
    """The mixed pool with its third expert: native, vLLM in this process, and a remote server."""
    out = run_example("mixed_pool.py", ["--vllm", str(smollm2_hf), "Name a planet."],
                      ["[local,", "[vllm,", "[remote,", "[synthesis] "])
    assert out.split("[synthesis] ")[1].split("resident here:")[0].strip()   # the synthesis has text
    assert re.search(r"['\"]vllm:", out.split("resident here:")[1])   # and the vLLM expert stayed resident


def test_every_example_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(CASES)
