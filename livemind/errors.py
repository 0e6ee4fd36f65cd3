"""LiveMind's errors. Every error LiveMind raises on purpose derives from one root:

    LiveMindError
    ├── ModelLoadError          a model file is missing, corrupt, truncated or unsupported
    └── ContextLengthError      a prompt does not fit the model's context

(More arrive with the layers that raise them: UnknownExpert, MemoryBudgetExceeded,
BackendError, Cancelled.)

Kernel calls given a wrong shape or dtype raise ``ValueError`` naming the argument, as numpy does:
those are programming errors, not run-time conditions a caller recovers from.
"""

from __future__ import annotations

from pathlib import Path


class LiveMindError(Exception):
    """Root of every error LiveMind raises on purpose."""


class ModelLoadError(LiveMindError):
    """A model could not be loaded. ``path`` is the file, ``reason`` says what is wrong with it.

    >>> raise ModelLoadError("m.gguf", "bad magic b'GGUX' (not a GGUF file)")
    Traceback (most recent call last):
    livemind.errors.ModelLoadError: m.gguf: bad magic b'GGUX' (not a GGUF file)
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ContextLengthError(LiveMindError):
    """A prompt (with what is to be generated) does not fit the model's context. Raised before
    any work is done. ``n_tokens`` is what was asked, ``n_ctx`` the limit."""

    def __init__(self, n_tokens: int, n_ctx: int):
        self.n_tokens, self.n_ctx = n_tokens, n_ctx
        super().__init__(f"{n_tokens} tokens do not fit the context of {n_ctx} tokens")
