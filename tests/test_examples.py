"""Every program in examples/ runs on the packaged models and prints what it promises."""

import os
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


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name):
    args, expected = CASES[name]
    # the checkout's package, whether or not it is installed (as a user running examples/ from a clone)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(EXAMPLES.parent), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                         timeout=300, cwd=EXAMPLES.parent, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    for marker in expected:
        assert marker in out.stdout, (marker, out.stdout[-2000:])


def test_every_example_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(CASES)
