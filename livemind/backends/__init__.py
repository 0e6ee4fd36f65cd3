"""Where experts run. One protocol (:class:`Backend`), several implementations: LiveMind's own
engine (:class:`NativeBackend`); vLLM and OpenAI-compatible servers arrive with their issue."""

from livemind.backends.base import Backend, Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.backends.native import NativeBackend

__all__ = ["Backend", "Capabilities", "Delta", "GenerationRequest", "MemoryEstimate", "NativeBackend"]
