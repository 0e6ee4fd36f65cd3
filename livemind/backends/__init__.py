"""Where experts run. One protocol (:class:`Backend`), several implementations: LiveMind's own
engine (:class:`NativeBackend`) and any OpenAI-compatible server (:class:`OpenAIBackend`); vLLM
embedded in-process arrives with its issue. docs/backends.md compares them."""

from livemind.backends.base import Backend, Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.backends.native import NativeBackend
from livemind.backends.openai import OpenAIBackend

__all__ = ["Backend", "Capabilities", "Delta", "GenerationRequest", "MemoryEstimate", "NativeBackend",
           "OpenAIBackend"]
