"""Models LiveMind knows by name, and where their files are on this machine."""

from livemind.models._packaged import gemma3_gguf, smollm2_gguf
from livemind.models._registry import KNOWN_MODELS, KnownModel, resolve_model

__all__ = ["KNOWN_MODELS", "KnownModel", "gemma3_gguf", "resolve_model", "smollm2_gguf"]
