"""LiveMind's native inference engine. Today: the GGUF reader the engine loads models through."""

from livemind.engine.gguf import GGML_TYPES, GGUFFile, TensorInfo

__all__ = ["GGML_TYPES", "GGUFFile", "TensorInfo"]
