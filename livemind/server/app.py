"""The HTTP layer: routes, the API key, body limits, client disconnects, and the one exception
handler that turns every error into OpenAI's error shape (through :func:`error_reply`).

>>> app = create_app(LiveMindConfig.load("livemind.toml"))     # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import asynccontextmanager
import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from livemind.config import LiveMindConfig
from livemind.errors import LiveMindError
from livemind.server.errors import APIError, BodyTooLarge, InvalidRequest, Unauthorized, error_reply, log
from livemind.server.metrics import ServerCounters, prometheus
from livemind.server.protocol import ChatCompletionRequest
from livemind.server.serving import AUTO, PARALLEL, TURNS, ChatService

_POLL_S = 0.05   # how often a non-streaming request checks that its client is still there


class ClientGone(Exception):
    """The client went away before its answer was ready."""


class EventStream(StreamingResponse):
    """Server-sent events that stop as soon as the client goes away, whatever ASGI server runs
    the app: the body is cancelled (its generations with it) and closed."""

    media_type = "text/event-stream"

    def __init__(self, content, *, on_disconnect=None, **kwargs):
        super().__init__(content, **kwargs)
        self.on_disconnect = on_disconnect

    async def __call__(self, scope, receive, send) -> None:
        finished = False
        try:
            async with anyio.create_task_group() as tg:
                async def stream() -> None:
                    nonlocal finished
                    await self.stream_response(send)
                    finished = True
                    tg.cancel_scope.cancel()

                tg.start_soon(stream)
                await self.listen_for_disconnect(receive)
                if not finished and self.on_disconnect is not None:
                    self.on_disconnect()
                tg.cancel_scope.cancel()
        except OSError:      # the connection broke while sending
            if self.on_disconnect is not None:
                self.on_disconnect()
        finally:
            await self.body_iterator.aclose()


async def _read_json(request: Request, limit: int) -> dict:
    """The request body as a JSON object, refusing more than ``limit`` bytes before reading them."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.", code="request_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.", code="request_too_large")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


def _parse(data: dict) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidRequest(f"Invalid request: '{param}': {err['msg']}.", param=param) from None


async def _until_disconnected(request: Request, coro):
    """Awaits ``coro``, cancelling it if the client goes away first (then raises ClientGone)."""
    task = asyncio.ensure_future(coro)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ClientGone()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def create_app(mind_or_config=None, *, config: LiveMindConfig | None = None) -> FastAPI:
    """The OpenAI-compatible app over a :class:`~livemind.LiveMind` (or one built from a
    :class:`~livemind.config.LiveMindConfig`; None: the defaults). ``config`` gives the server
    settings (limits, API key, consensus) when a LiveMind is passed. The app's lifespan enters
    and leaves the LiveMind; mounted inside another app, run ``app.router.lifespan_context(app)``
    from that app's lifespan, since mounted apps get none of their own."""
    if mind_or_config is None or isinstance(mind_or_config, LiveMindConfig):
        config = mind_or_config or LiveMindConfig()
        mind = config.build()
    else:
        mind, config = mind_or_config, config or LiveMindConfig()
    counters = ServerCounters()
    service = ChatService(mind, config, counters)
    limits = config.server.limits
    api_key = config.server.key()
    known_models = {AUTO, PARALLEL, TURNS, *mind.pool.experts}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with mind:
            if hasattr(mind.router, "prepare"):   # the router's encoder now, not on the first request
                await mind.router.prepare()
            yield

    app = FastAPI(title="LiveMind", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.mind, app.state.counters, app.state.config = mind, counters, config

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RequestValidationError):
            exc = InvalidRequest("Invalid request.")
        elif isinstance(exc, HTTPException):   # routing: no such path, or a wrong method
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            routing = APIError(f"{code.replace('_', ' ').capitalize()}.", code=code)
            routing.status = exc.status_code
            exc = routing
        status, body, headers = error_reply(exc, retry_after=limits.retry_after)
        if body["error"]["code"] == "internal_error":
            log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in (APIError, LiveMindError, RequestValidationError, HTTPException, ValueError, Exception):
        app.add_exception_handler(kind, handle)

    async def require_key(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), api_key.encode()):
            raise Unauthorized("Missing or invalid API key: send 'Authorization: Bearer <key>'.",
                               code="invalid_api_key")

    @app.get("/health")
    async def health() -> dict:
        """"ok", or "degraded" with the models whose engine died (each reloads on its next
        request, so the server still answers); never needs a key, never loads a model."""
        unhealthy = mind.pool.unhealthy()
        return {"status": "degraded", "unhealthy": unhealthy} if unhealthy else {"status": "ok"}

    api = APIRouter(dependencies=[Depends(require_key)])

    @api.get("/v1/models")
    async def models() -> dict:
        return service.models().model_dump()

    @api.get("/stats")
    async def stats() -> dict:
        """The pool's, governor's, router's and server's figures; never wakes a model."""
        router = mind.router
        return {"server": counters.as_dict(), "pool": mind.pool.stats().model_dump(mode="json"),
                "router": {"kind": type(router).__name__ if router is not None else None,
                           "threshold": getattr(router, "threshold", None), "routes": dict(counters.routes)}}

    @api.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(prometheus(counters, mind.pool.stats()), media_type="text/plain; version=0.0.4")

    @api.get("/v1/models/{model}")
    async def model(model: str) -> dict:
        return service.model(model).model_dump()

    def gone() -> None:
        counters.disconnects += 1

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        counters.in_flight += 1
        label, status, streaming = "unknown", 200, False
        try:
            req = _parse(await _read_json(request, limits.max_body_bytes))
            label = req.model if req.model in known_models else "unknown"
            if not req.stream:
                async def answer():
                    return await service.complete(req, await service.start(req))

                return JSONResponse((await _until_disconnected(request, answer())).model_dump(exclude_none=True))
            gen = await _until_disconnected(request, service.start(req))

            async def body():
                try:
                    async for frame in service.frames(req, gen):
                        yield frame
                finally:
                    counters.in_flight -= 1
                    counters.finished(label, 200)

            streaming = True
            return EventStream(body(), on_disconnect=gone,
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        except ClientGone:
            gone()
            status = 499
            return PlainTextResponse("", status_code=499)
        except Exception as exc:
            status = error_reply(exc)[0]
            raise
        finally:
            if not streaming:
                counters.in_flight -= 1
                counters.finished(label, status)

    app.include_router(api)
    return app
