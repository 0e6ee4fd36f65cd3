"""Each GGUF weight type the engine reads, held to llama.cpp's own band on random-weight files
(livemind/bench/synthetic.py) that llama.cpp's quantizer converted: the float types (F16, BF16) and
the quantized mixes beyond test_architectures.py's Q8_0 and Q4_K_M. The band and the criterion
are test_architectures.py's (_check). A type the engine has no kernel for is refused at load,
naming the tensor, its type and the supported list."""

from __future__ import annotations

import gguf
import pytest
from test_architectures import _check

from livemind.bench.synthetic import quantized, write
from livemind.engine.model import load_model
from livemind.errors import ModelLoadError

# llama.cpp's LLAMA_FTYPE_MOSTLY_* mixes, and the GGUF types each must put in the file (so the test
# fails if the quantizer fell back to some other type and left the new one untested)
FTYPES = {"F16": {"F16"}, "BF16": {"BF16"}, "Q4_0": {"Q4_0"}, "Q4_1": {"Q4_1"}, "Q5_0": {"Q5_0"}, "Q5_1": {"Q5_1"},
          "Q2_K": {"Q2_K"}, "Q3_K_M": {"Q3_K"}, "Q5_K_M": {"Q5_K"}, "Q6_K": {"Q6_K"}, "IQ4_NL": {"IQ4_NL"},
          "IQ4_XS": {"IQ4_XS"}}
FAMILIES = ["llama", "qwen2", "qwen3", "gemma3", "command-r"]


def _types(path) -> set[str]:
    return {t.tensor_type.name for t in gguf.GGUFReader(str(path)).tensors}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("ftype", list(FTYPES))
def test_weight_type_sits_in_llamacpps_own_band(tmp_path, family, ftype):
    src = write(tmp_path / f"{family}.gguf", family, n_layer=6 if family == "gemma3" else 2)
    dst = quantized(src, tmp_path / f"{family}-{ftype}.gguf", ftype)
    assert FTYPES[ftype] <= _types(dst), f"{ftype}: llama.cpp wrote {sorted(_types(dst))}"
    print(ftype, family, _check(dst))


def test_a_type_without_a_kernel_is_refused_naming_tensor_type_and_list(tmp_path):
    src = write(tmp_path / "llama.gguf", "llama")
    dst = quantized(src, tmp_path / "llama-IQ3_S.gguf", "IQ3_S")
    with pytest.raises(ModelLoadError, match=r"tensor '[\w.]+' is IQ3_S; the engine reads \w+ weights as F32, F16, BF16, "):
        load_model(dst).close()
