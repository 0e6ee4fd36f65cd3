"""LiveMind: a team of local language models, routed, memory-safe, in consensus, streaming.

>>> import livemind as lm
>>> pool = lm.ExpertPool(lm.default_team())                  # doctest: +SKIP
>>> async with lm.LiveMind(pool, router=lm.Router(pool)) as mind:   # doctest: +SKIP
...     print((await mind.ask("Write a haiku about rain")).text)

The kernels are :mod:`livemind.kernels`; the engine is :mod:`livemind.engine`.
"""

from livemind.consensus import Auto, Parallel, Turns
from livemind.errors import (
    BackendError,
    Cancelled,
    ContextLengthError,
    LiveMindError,
    MemoryBudgetExceeded,
    ModelLoadError,
    UnknownExpert,
)
from livemind.events import (
    Done,
    Event,
    ExpertAnswer,
    ExpertDone,
    ExpertFailed,
    ModelLoaded,
    ModelLoading,
    ModelUnloaded,
    Result,
    RouteChosen,
    RouteDecision,
    SynthesisStarted,
    Token,
    Usage,
)
from livemind.experts import Expert
from livemind.mind import LiveMind

__version__ = "0.1.0"

__all__ = sorted([
    "Auto", "BackendError", "Cancelled", "ContextLengthError", "Done", "Event", "Expert", "ExpertAnswer",
    "ExpertDone", "ExpertFailed", "LiveMind", "LiveMindError", "MemoryBudgetExceeded", "ModelLoadError",
    "ModelLoaded", "ModelLoading", "ModelUnloaded", "Parallel", "Result", "RouteChosen", "RouteDecision",
    "SynthesisStarted", "Token", "Turns", "UnknownExpert", "Usage", "__version__",
])
