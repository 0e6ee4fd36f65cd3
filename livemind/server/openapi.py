"""The OpenAPI document the server publishes at ``/openapi.json``: FastAPI's description of the
routes and responses, plus the chat request body — which the route reads itself, to bound its
size and depth — described from :class:`~livemind.server.protocol.ChatCompletionRequest` and this
server's own limits and models. It is meant to say exactly what the server accepts: every body it
allows is answered, every body it forbids is refused with a 4xx (tests/server/test_fuzz.py holds
the server to that with Schemathesis). What no schema can say: whether a prompt fits the model's
context (400 ``context_length_exceeded``), and whether there is room now (503).
"""

from __future__ import annotations

import copy

from fastapi.openapi.utils import get_openapi

from livemind.engine.sampling import MIN_TEMPERATURE
from livemind.server.protocol import (NEUTRAL, SUPPORTED_ROLES, ChatCompletion, ChatCompletionChunk,
                                      ChatCompletionRequest, ErrorResponse)
from livemind.server.serving import MAX_STOP_CHARS

_REF = "#/components/schemas/{model}"
_SECURITY = {"bearer": {"type": "http", "scheme": "bearer", "description": "the server's API key"}}
_PUBLIC = {"/health"}                            # the paths that never need the key
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _error(description: str, **headers: str) -> dict:
    out: dict = {"model": ErrorResponse, "description": description}
    if headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return out


ERRORS_ANY = {500: _error("an unexpected error (a bug; the server log has it)")}
ERRORS_MODEL = {404: _error("no model by that name (model_not_found)"), **ERRORS_ANY}
# one server-sent event of a stream (OpenAPI 3.1: the schema of an event-stream describes each event)
SSE_EVENT = {"type": "object", "required": ["data"], "properties": {
    "event": {"const": "message"},
    "data": {"anyOf": [{"const": "[DONE]"}, {
        "type": "string", "contentMediaType": "application/json",
        "contentSchema": {"anyOf": [{"$ref": "#/components/schemas/ChatCompletionChunk"}, _ERROR_REF]}}],
        "description": "a ChatCompletionChunk as JSON; an error body as the last one if the stream fails; "
                       "then [DONE]"}}}
CHAT_RESPONSES = {
    200: {"model": ChatCompletion, "description": "the whole answer; with `stream: true`, server-sent events",
          "content": {"text/event-stream": {"schema": SSE_EVENT}}},
    400: _error("an invalid request, a parameter this server cannot honour, a prompt past the context"),
    404: _error("no model by that name (model_not_found)"),
    408: _error("the body did not arrive within the request timeout (request_timeout)"),
    413: _error("the body is larger than the limit (request_too_large)"),
    500: ERRORS_ANY[500],
    502: _error("a model failed while answering (backend_error)"),
    503: _error("no room now: memory (memory_budget_exceeded) or a full queue (overloaded); retry",
                **{"Retry-After": "seconds to wait before retrying"}),
    504: _error("the request ran past the request timeout and was cancelled (timeout)"),
    507: _error("the model can never fit this server's memory budget (model_too_large)",
                **{"x-should-retry": "false: retrying cannot help"}),
}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}], "default": None}


def _text(max_chars: int | None = None) -> dict:
    return {"type": "string", "minLength": 1, **({"maxLength": max_chars} if max_chars else {})}


def chat_request_schema(limits, models: list[str]) -> tuple[dict, dict]:
    """``(schema, components)``: the chat request body this server accepts, with its limits."""
    schema = ChatCompletionRequest.model_json_schema(ref_template=_REF)
    components = schema.pop("$defs")
    p = schema["properties"]
    p["model"] = {"type": "string", "enum": models, "default": "livemind-auto"}
    p["messages"]["maxItems"] = limits.max_messages
    for name in ("max_tokens", "max_completion_tokens"):
        p[name] = _nullable({"type": "integer", "minimum": 1, "maximum": limits.max_tokens})
    p["n"] = {"type": "integer", "minimum": 1, "maximum": limits.max_n, "default": 1}
    p["temperature"] = _nullable({"anyOf": [{"const": 0}, {"type": "number", "minimum": MIN_TEMPERATURE,
                                                           "maximum": 2}]})
    p["seed"] = _nullable({"type": "integer", "minimum": -(1 << 63), "maximum": (1 << 63) - 1})
    stop_list = {"type": "array", "items": _text(MAX_STOP_CHARS), "maxItems": limits.max_stop}
    p["stop"] = _nullable({"anyOf": [_text(MAX_STOP_CHARS), stop_list]} if limits.max_stop else stop_list)
    for name, neutral in NEUTRAL.items():
        p[name] = neutral if neutral == {"type": "null"} else _nullable(neutral)
    components["ChatMessage"]["properties"]["role"]["enum"] = list(SUPPORTED_ROLES)
    components["TextPart"]["properties"]["type"] = {"const": "text"}
    components.pop("ResponseFormat", None)
    components["ChatCompletionRequest"] = schema
    return schema, components


def openapi_document(app, limits, models: list[str], *, secured: bool) -> dict:
    """The whole document for ``app`` (made once, then cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description,
                      separate_input_output_schemas=False)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(copy.deepcopy(chat_request_schema(limits, models)[1]))
    chunk = ChatCompletionChunk.model_json_schema(ref_template=_REF)
    schemas.update(chunk.pop("$defs", {}), ChatCompletionChunk=chunk)
    for name in ("HTTPValidationError", "ValidationError"):   # FastAPI's 422, which this server never sends
        schemas.pop(name, None)
    if secured:
        doc["components"]["securitySchemes"] = _SECURITY
    for path, operations in doc["paths"].items():
        for op in operations.values():
            op["responses"].pop("422", None)
            if secured and path not in _PUBLIC:
                op["security"] = [{"bearer": []}]
                op["responses"]["401"] = {"description": "a missing or wrong API key (invalid_api_key)",
                                          "content": {"application/json": {"schema": _ERROR_REF}}}
    app.openapi_schema = doc
    return doc


CHAT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}}}
