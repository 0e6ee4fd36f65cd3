"""Where the packaged model files are. A fuller registry (names, hubs, install) arrives with the
orchestration layer; for now, the two GGUF files the tests and benchmarks read."""

from livemind.models._packaged import gemma3_gguf, smollm2_gguf

__all__ = ["gemma3_gguf", "smollm2_gguf"]
