"""The HTTP layer: routes, the API key, the bounds (body size and depth, concurrent requests, the
request timeout), client disconnects, the OpenAPI document, and the one exception handler that
turns every error into OpenAI's error shape (through :func:`error_reply`).

>>> app = create_app(LiveMindConfig.load("livemind.toml"))     # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from livemind import __version__
from livemind.config import LiveMindConfig
from livemind.errors import LiveMindError, Overloaded
from livemind.server import openapi
from livemind.server.body import parse_json, read_body
from livemind.server.errors import APIError, BodyTimeout, InvalidRequest, Unauthorized, error_reply, log
from livemind.server.metrics import ServerCounters, prometheus
from livemind.server.protocol import ChatCompletionRequest, Health, ModelCard, ModelList
from livemind.server.serving import AUTO, PARALLEL, TURNS, ChatService

_POLL_S = 0.05   # how often a non-streaming request checks that its client is still there
_BIG_BODY = 64 << 10   # bodies past this many bytes are parsed on a worker thread, not the event loop


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


class ContainErrors:
    """ASGI middleware: an unexpected exception before the response started becomes the exception
    handler's 500 here. Starlette would answer it too but then re-raise it to the server, and
    uvicorn closes a connection whose request raised: the client's next keep-alive request would
    find it reset."""

    def __init__(self, app, handle):
        self.app, self.handle = app, handle

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            response = await self.handle(Request(scope), exc)
            await response(scope, receive, send)


async def _read_json(request: Request, limits, deadline: float) -> dict:
    """The body as a JSON object, within the size and depth limits, arrived before ``deadline``
    (the event loop's clock)."""
    reading = read_body(request.stream(), limits.max_body_bytes, request.headers.get("content-length", ""))
    try:
        body = await asyncio.wait_for(reading, deadline - asyncio.get_running_loop().time())
    except asyncio.TimeoutError:
        raise BodyTimeout(f"The request body did not arrive within {limits.request_timeout:g} s.",
                          code="request_timeout") from None
    if len(body) > _BIG_BODY:
        return await anyio.to_thread.run_sync(lambda: parse_json(body, max_depth=limits.max_json_depth))
    return parse_json(body, max_depth=limits.max_json_depth)


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
    known_models = [AUTO, PARALLEL, TURNS, *mind.pool.experts]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with mind:
            if hasattr(mind.router, "prepare"):   # the router's encoder now, not on the first request
                await mind.router.prepare()
            yield

    app = FastAPI(title="LiveMind", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", separate_input_output_schemas=False,
                  description="An OpenAI-compatible API over a team of local language models.")
    app.state.mind, app.state.counters, app.state.config = mind, counters, config
    app.state.drain = service.drain   # awaited by livemind serve on SIGTERM (server/lifecycle.py)
    app.openapi = lambda: openapi.openapi_document(app, limits, known_models, secured=api_key is not None)

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        extra = {}
        if isinstance(exc, RequestValidationError):
            exc = InvalidRequest("Invalid request.")
        elif isinstance(exc, HTTPException):   # routing: no such path, or a wrong method
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            routing = APIError(f"{code.replace('_', ' ').capitalize()}.", code=code)
            routing.status, extra = exc.status_code, dict(exc.headers or {})   # a 405 keeps its Allow
            exc = routing
        status, body, headers = error_reply(exc, retry_after=limits.retry_after)
        headers = {**extra, **headers}
        if body["error"]["code"] == "internal_error":
            log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return JSONResponse(body, status_code=status, headers=headers)

    for kind in (APIError, LiveMindError, RequestValidationError, HTTPException, ValueError, Exception):
        app.add_exception_handler(kind, handle)
    app.add_middleware(ContainErrors, handle=handle)

    async def require_key(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), api_key.encode()):
            raise Unauthorized("Missing or invalid API key: send 'Authorization: Bearer <key>'.",
                               code="invalid_api_key")

    @app.get("/health", response_model=Health, response_model_exclude_none=True, responses=openapi.ERRORS_ANY)
    async def health() -> Health:
        """"ok", or "degraded" with the models whose engine died (each reloads on its next
        request, so the server still answers); never needs a key, never loads a model."""
        unhealthy = mind.pool.unhealthy()
        return Health(status="degraded", unhealthy=unhealthy) if unhealthy else Health(status="ok")

    api = APIRouter(dependencies=[Depends(require_key)])

    @api.get("/v1/models", response_model=ModelList, responses=openapi.ERRORS_ANY)
    async def models() -> ModelList:
        """Every expert, and the virtual models livemind-auto, livemind-parallel and livemind-turns."""
        return service.models()

    @api.get("/stats", responses=openapi.ERRORS_ANY)
    async def stats() -> dict:
        """The pool's, governor's, router's and server's figures; never wakes a model."""
        router = mind.router
        return {"server": counters.as_dict(), "pool": mind.pool.stats().model_dump(mode="json"),
                "router": {"kind": type(router).__name__ if router is not None else None,
                           "threshold": getattr(router, "threshold", None), "routes": dict(counters.routes)}}

    @api.get("/metrics", response_class=PlainTextResponse, responses=openapi.ERRORS_ANY)
    async def metrics() -> PlainTextResponse:
        """The counters and the pool's figures in Prometheus text format."""
        return PlainTextResponse(prometheus(counters, mind.pool.stats()), media_type="text/plain; version=0.0.4")

    @api.get("/v1/models/{model}", response_model=ModelCard, responses=openapi.ERRORS_MODEL)
    async def model(model: str) -> ModelCard:
        """One entry of /v1/models."""
        return service.model(model)

    def gone() -> None:
        counters.disconnects += 1

    @api.post("/v1/chat/completions", responses=openapi.CHAT_RESPONSES, openapi_extra=openapi.CHAT_BODY)
    async def chat(request: Request):
        """A chat completion, whole or streamed (``"stream": true``), OpenAI's way."""
        refusal = service.drain.refusal()
        if refusal is None and counters.in_flight >= limits.max_concurrent_requests:
            refusal = Overloaded("the server's queue of concurrent requests", limits.max_concurrent_requests)
        if refusal is not None:
            counters.finished("unknown", 503)
            raise refusal
        deadline = asyncio.get_running_loop().time() + limits.request_timeout
        counters.in_flight += 1
        label, status, streaming = "unknown", 200, False
        try:
            req = _parse(await _read_json(request, limits, deadline))
            label = req.model if req.model in known_models else "unknown"
            if not req.stream:
                async def answer():
                    return await service.complete(req, await service.start(req, deadline))

                return JSONResponse((await _until_disconnected(request, answer())).model_dump(exclude_none=True))
            gen = await _until_disconnected(request, service.start(req, deadline))

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
