"""ISA selection and the thread pool, as the Python surface exposes them."""

import os
import subprocess
import sys

import numpy as np
import pytest

import livemind.kernels as K


def test_scalar_is_always_available_and_last():
    isas = K.available_isas()
    assert isas[-1] == "scalar"
    assert K.isa() in isas
    assert set(isas) <= {"avx512", "avx2", "neon", "scalar"}


def test_set_isa_switches_and_rejects_unknown_names(each_isa):
    assert K.isa() == each_isa
    with pytest.raises(ValueError, match="not available"):
        K.set_isa("sse9")


def test_unsupported_isa_is_an_error():
    foreign = "neon" if K.isa() != "neon" else "avx512"
    with pytest.raises(ValueError, match=foreign):
        K.set_isa(foreign)


def test_env_picks_the_starting_isa():
    env = dict(os.environ, LMK_ISA="scalar")
    out = subprocess.run([sys.executable, "-c", "import livemind.kernels as K; print(K.isa())"],
                         capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "scalar"


def test_threads_resize_and_results_do_not_depend_on_them(rng):
    a = rng.standard_normal((33, 257)).astype(np.float32)
    b = rng.standard_normal((65, 257)).astype(np.float32)
    try:
        K.set_threads(1)
        assert K.get_threads() == 1
        one = K.matmul(a, b)
        K.set_threads(3)
        assert K.get_threads() == 3
        three = K.matmul(a, b)
    finally:
        K.set_threads(None)
    assert K.get_threads() == K.cpu_count()
    np.testing.assert_array_equal(one, three)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_set_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        K.set_threads(bad)
