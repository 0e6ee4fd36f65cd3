"""LiveMind: a team of local language models, routed, memory-safe, in consensus, streaming.

The kernel library is exposed as :mod:`livemind.kernels`. The orchestration layer (experts,
pool, governor, router, consensus) is described in DESIGN.md and grows issue by issue.
"""

from livemind.errors import (
    BackendError,
    Cancelled,
    ContextLengthError,
    LiveMindError,
    MemoryBudgetExceeded,
    ModelLoadError,
    UnknownExpert,
)

__version__ = "0.1.0"

__all__ = sorted([
    "BackendError", "Cancelled", "ContextLengthError", "LiveMindError", "MemoryBudgetExceeded",
    "ModelLoadError", "UnknownExpert", "__version__",
])
