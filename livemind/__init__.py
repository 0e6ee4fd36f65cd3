"""LiveMind: a team of local language models, routed, memory-safe, in consensus, streaming.

>>> import livemind as lm
>>> pool = lm.ExpertPool(lm.default_team())                  # doctest: +SKIP
>>> async with lm.LiveMind(pool, router=lm.Router(pool)) as mind:   # doctest: +SKIP
...     print((await mind.ask("Write a haiku about rain")).text)

The kernels are :mod:`livemind.kernels`; the engine is :mod:`livemind.engine`.
"""

from livemind.backends.openai import OpenAIBackend
from livemind.backends.vllm import VLLMBackend
from livemind.consensus import Auto, Parallel, Turns
from livemind.errors import (
    BackendError,
    Cancelled,
    ContextLengthError,
    LiveMindError,
    MemoryBudgetExceeded,
    ModelLoadError,
    Overloaded,
    UnknownExpert,
)
from livemind.events import (
    Done,
    ExpertAnswer,
    ExpertDone,
    ExpertFailed,
    ModelLoaded,
    ModelLoading,
    ModelUnloaded,
    Notice,
    Result,
    RouteChosen,
    RouteDecision,
    SynthesisStarted,
    Token,
    Usage,
)
from livemind.experts import Expert
from livemind.governor import GovernorSnapshot, MemoryGovernor
from livemind.mind import LiveMind
from livemind.pool import ExpertPool
from livemind.pool_stats import PoolStats
from livemind.router import FunctionRouter, Router
from livemind.team import default_team

__version__ = "0.1.0"

__all__ = sorted([
    "Auto", "BackendError", "Cancelled", "ContextLengthError", "Done", "Expert", "ExpertAnswer",
    "ExpertDone", "ExpertFailed", "ExpertPool", "FunctionRouter", "GovernorSnapshot", "LiveMind",
    "LiveMindError", "MemoryBudgetExceeded", "MemoryGovernor", "ModelLoadError", "ModelLoaded",
    "ModelLoading", "ModelUnloaded", "Notice", "OpenAIBackend", "Overloaded", "Parallel", "PoolStats",
    "Result", "RouteChosen", "RouteDecision", "Router", "SynthesisStarted", "Token", "Turns", "UnknownExpert",
    "Usage", "VLLMBackend", "__version__", "default_team",
])
