"""LiveMind's errors. Every error LiveMind raises on purpose derives from one root:

    LiveMindError
    └── (subclasses arrive with the layers that raise them: UnknownExpert, ModelLoadError,
         MemoryBudgetExceeded, ContextLengthError, BackendError, Cancelled)

Kernel calls given a wrong shape or dtype raise ``ValueError`` naming the argument, as numpy does:
those are programming errors, not run-time conditions a caller recovers from.
"""


class LiveMindError(Exception):
    """Root of every error LiveMind raises on purpose."""
