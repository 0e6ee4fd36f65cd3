"""LiveMind's errors. Every error LiveMind raises on purpose derives from one root, and each
carries what a caller needs to act on it:

    LiveMindError
    ├── UnknownExpert           no expert by that name (.name, .known)
    ├── ModelLoadError          a model file is missing, corrupt, truncated or unsupported (.path, .reason)
    ├── MemoryBudgetExceeded    loading would push memory past the budget (.model, .needed, .available,
    │                           .budget, .retryable: False when the model can never fit)
    ├── ContextLengthError      a prompt does not fit the model's context (.n_tokens, .n_ctx)
    ├── BackendError            a backend failed while serving (.backend, .reason)
    ├── Overloaded              a queue is full; retry later (.what, .limit, .retry_after)
    └── Cancelled               the request was cancelled before it finished

Kernel calls given a wrong shape or dtype raise ``ValueError`` naming the argument, as numpy does:
those are programming errors, not run-time conditions a caller recovers from.
"""

from __future__ import annotations

from pathlib import Path


class LiveMindError(Exception):
    """Root of every error LiveMind raises on purpose."""


class UnknownExpert(LiveMindError, KeyError):
    """No expert has this name. ``known`` lists the names there are."""

    def __init__(self, name: str, known=()):
        self.name, self.known = name, tuple(known)
        super().__init__(f"no expert named {name!r}" + (f" (experts: {', '.join(self.known)})" if self.known else ""))

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


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


class MemoryBudgetExceeded(LiveMindError):
    """Loading ``model`` needs ``needed`` bytes but only ``available`` of the ``budget`` are free.
    ``retryable`` is False when the model is bigger than the whole budget (it can never fit);
    True when it could fit once other work finishes and models unload."""

    def __init__(self, model: str, *, needed: int, available: int, budget: int, retryable: bool, reason: str = ""):
        self.model, self.needed, self.available, self.budget, self.retryable = model, needed, available, budget, retryable
        mib = 1 << 20
        what = reason or ("can never fit" if not retryable else "not enough free memory now")
        super().__init__(f"loading {model!r} needs {needed / mib:.0f} MiB; {available / mib:.0f} MiB free of a "
                         f"{budget / mib:.0f} MiB budget ({what})")


class ContextLengthError(LiveMindError):
    """A prompt (with what is to be generated) does not fit the model's context. Raised before
    any work is done. ``n_tokens`` is what was asked, ``n_ctx`` the limit."""

    def __init__(self, n_tokens: int, n_ctx: int):
        self.n_tokens, self.n_ctx = n_tokens, n_ctx
        super().__init__(f"{n_tokens} tokens do not fit the context of {n_ctx} tokens")


class BackendError(LiveMindError):
    """A backend failed while serving a request. ``backend`` names it; ``reason`` says what
    happened; ``retry_after`` (seconds) is set when the backend said when to try again."""

    def __init__(self, backend: str, reason: str, *, retry_after: float | None = None):
        self.backend, self.reason, self.retry_after = backend, reason, retry_after
        super().__init__(f"backend {backend}: {reason}")


class Overloaded(LiveMindError):
    """A bounded queue is full: ``what`` says which (a model's waiting requests, the pool's
    waiters at the model cap, the server's concurrent requests), ``limit`` its size. Nothing was
    started; the same request may succeed after ``retry_after`` seconds."""

    retryable = True

    def __init__(self, what: str, limit: int, *, retry_after: float = 1.0):
        self.what, self.limit, self.retry_after = what, limit, retry_after
        super().__init__(f"{what} is full (limit {limit}); retry in {retry_after:g} s")


class Cancelled(LiveMindError):
    """The request was cancelled (its caller went away or asked) before it finished."""
