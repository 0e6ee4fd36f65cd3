"""Errors to HTTP, in one place. :func:`error_reply` turns any exception a request can raise —
LiveMind's typed errors, the server's own :class:`APIError`, a framework error — into a status,
OpenAI's error body ``{"error": {"message", "type", "param", "code"}}`` and headers. The app's
exception handler uses it before a response starts; a stream that already started sends the
same body as its last ``data:`` frame.

Messages never echo what the user sent: they name the parameter and the rule, not the value.

| error                                          | status | code                    |
| ---------------------------------------------- | ------ | ----------------------- |
| invalid request (:class:`InvalidRequest`)      | 400    | invalid_request / …     |
| body not JSON, too deeply nested, NaN          | 400    | invalid_json            |
| prompt longer than the context                 | 400    | context_length_exceeded |
| missing or wrong API key                       | 401    | invalid_api_key         |
| unknown model / expert                         | 404    | model_not_found         |
| the body did not arrive in time                | 408    | request_timeout         |
| body too large                                 | 413    | request_too_large       |
| an unexpected error (a bug)                    | 500    | internal_error          |
| a backend failed                               | 502    | backend_error           |
| a synthesis failed after streaming began       | 502    | synthesis_failed (frame) |
| memory short now (retryable)                   | 503    | memory_budget_exceeded (+ Retry-After) |
| a bounded queue is full: the server's concurrent requests, the pool's or a model's waiters (retryable) | 503 | overloaded (+ Retry-After) |
| the server is shutting down (retryable)        | 503    | shutting_down (+ Retry-After) |
| the request was cancelled as the server stops (retryable) | 503 | cancelled (+ Retry-After) |
| the request ran past its timeout               | 504    | timeout                 |
| model can never fit the budget                 | 507    | model_too_large (+ x-should-retry: false) |
"""

from __future__ import annotations

import logging

from livemind.errors import (
    BackendError,
    Cancelled,
    ContextLengthError,
    MemoryBudgetExceeded,
    ModelLoadError,
    Overloaded,
    UnknownExpert,
)
from livemind.server.protocol import ErrorInfo, ErrorResponse

log = logging.getLogger("livemind.server")


class APIError(Exception):
    """An error the server raises itself, already in HTTP terms."""

    status = 400
    type = "invalid_request_error"
    headers: dict[str, str] = {}   # sent with the error (a Retry-After)

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class InvalidRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401
    type = "authentication_error"


class NotFound(APIError):
    status = 404


class BodyTooLarge(APIError):
    status = 413


class BodyTimeout(APIError):
    """The request body did not arrive within the request timeout."""

    status = 408


class RequestTimeout(APIError):
    """The request ran past ``[server.limits] request_timeout``; its generations are cancelled."""

    status = 504
    type = "server_error"

    def __init__(self, seconds: float):
        super().__init__(f"The request took longer than this server's limit of {seconds:g} s and was cancelled; "
                         "ask for fewer tokens, or retry when the server is less busy.", code="timeout")


class SynthesisBroke(APIError):
    """A consensus's synthesis failed after part of it was streamed as content, so the expert
    answer a whole response would fall back to cannot replace it."""

    status = 502
    type = "server_error"


def _body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return ErrorResponse(error=ErrorInfo(message=message, type=type_, param=param, code=code)).model_dump()


def error_reply(exc: BaseException, *, retry_after: int = 5) -> tuple[int, dict, dict[str, str]]:
    """``(status, body, headers)`` for ``exc``. ``retry_after`` (the server's ``[server.limits]
    retry_after``) is the Retry-After of every retryable 503."""
    if isinstance(exc, APIError):
        return exc.status, _body(exc.message, exc.type, exc.param, exc.code), dict(exc.headers)
    if isinstance(exc, UnknownExpert):
        return 404, _body("The model does not exist on this server; GET /v1/models lists them.",
                          "invalid_request_error", "model", "model_not_found"), {}
    if isinstance(exc, ContextLengthError):
        return 400, _body(f"This model's context is {exc.n_ctx} tokens; the messages take {exc.n_tokens}. "
                          "Shorten the messages.", "invalid_request_error", "messages", "context_length_exceeded"), {}
    if isinstance(exc, MemoryBudgetExceeded):
        mib = 1 << 20
        if exc.retryable:
            return 503, _body(f"Not enough memory to load {exc.model!r} now ({exc.needed // mib} MiB needed, "
                              f"{exc.available // mib} MiB free of a {exc.budget // mib} MiB budget); "
                              "retry after other requests finish.",
                              "server_error", None, "memory_budget_exceeded"), {"Retry-After": str(retry_after)}
        return 507, _body(f"Model {exc.model!r} needs {exc.needed // mib} MiB, more than this server's whole "
                          f"memory budget ({exc.budget // mib} MiB); it can never be loaded here.",
                          "server_error", "model", "model_too_large"), {"x-should-retry": "false"}
    if isinstance(exc, ModelLoadError):
        return 500, _body(f"The model could not be loaded: {exc.reason}", "server_error", None, "model_load_error"), {}
    if isinstance(exc, BackendError):
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else {}
        log.warning("backend %s failed: %s", exc.backend, exc.reason)   # its text may quote the request
        return 502, _body(f"The model failed while answering ({exc.backend}); the server log has the details.",
                          "server_error", None, "backend_error"), headers
    if isinstance(exc, Overloaded):   # whichever queue it was, the server's configured wait
        return 503, _body(f"The server is busy: {exc.what} is full (limit {exc.limit}); retry in {retry_after} s.",
                          "server_error", None, "overloaded"), {"Retry-After": str(retry_after)}
    if isinstance(exc, Cancelled):
        return 503, _body("The request was cancelled (the server is shutting down).", "server_error", None,
                          "cancelled"), {"Retry-After": str(retry_after)}
    if isinstance(exc, ValueError):   # the engine refused a parameter; its text may quote the value
        log.info("request refused: %s", exc)
        return 400, _body("A parameter is out of the range this model accepts.", "invalid_request_error"), {}
    return 500, _body("Internal server error.", "server_error", None, "internal_error"), {}
