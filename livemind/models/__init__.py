"""Models LiveMind knows by name, where their files are on this machine, GGUF files from a
Hugging Face-compatible hub (:func:`pull`, ``livemind pull``), and converting a GGUF file into the
Hugging Face folder vLLM loads (:func:`convert_gguf`, ``livemind convert``)."""

from livemind.models._convert import convert_gguf
from livemind.models._hub import pull, pulled
from livemind.models._packaged import gemma3_gguf, smollm2_gguf
from livemind.models._registry import KNOWN_MODELS, KnownModel, resolve_model

__all__ = ["KNOWN_MODELS", "KnownModel", "convert_gguf", "gemma3_gguf", "pull", "pulled", "resolve_model",
           "smollm2_gguf"]
