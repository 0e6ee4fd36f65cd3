"""Where experts run. One protocol (:class:`Backend`), several implementations: LiveMind's own
engine (:class:`NativeBackend`), vLLM embedded in this process (:class:`VLLMBackend`; vLLM itself is
imported only when a model loads) and any OpenAI-compatible server (:class:`OpenAIBackend`).
docs/backends.md compares them."""

from livemind.backends.base import Backend, Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.backends.native import NativeBackend
from livemind.backends.openai import OpenAIBackend
from livemind.backends.vllm import VLLMBackend

__all__ = ["Backend", "Capabilities", "Delta", "GenerationRequest", "MemoryEstimate", "NativeBackend",
           "OpenAIBackend", "VLLMBackend"]
