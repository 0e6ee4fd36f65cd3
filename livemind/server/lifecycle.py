"""A server's graceful shutdown. On the first SIGTERM (or Ctrl-C) ``livemind serve`` drains: new
chat completions are answered 503 ``shutting_down`` with ``Retry-After`` (the listener stays open
so that clients hear it rather than a refused connection), requests in flight get
``[server] shutdown_grace`` seconds to finish, and the ones still going after that end with a
``shutting_down`` error — an error frame then ``[DONE]`` for a stream, a 503 otherwise. Then
uvicorn stops and the app's lifespan unloads every model. A second signal skips the wait.

An app mounted in another server drains the same way when that server awaits
``app.state.drain(grace)`` before it stops.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from livemind.server.errors import APIError

log = logging.getLogger("livemind.server")

SETTLE_SECONDS = 2.0   # after the grace: for interrupted requests to send their last frame


class ShuttingDown(APIError):
    """The server is stopping: nothing new is started, and what ran past the grace is ended."""

    status = 503
    type = "server_error"

    def __init__(self, retry_after: int):
        super().__init__("The server is shutting down; retry on another instance or once it is back.",
                         code="shutting_down")
        self.headers = {"Retry-After": str(retry_after)}


class Drain:
    """The shutdown of one app: ``draining`` once it began; :meth:`track` is told of every
    generation started, so that those left at the end of the grace can be interrupted."""

    def __init__(self, counters, retry_after: int):
        self.counters, self.retry_after = counters, retry_after
        self.draining = False
        self._live: weakref.WeakSet = weakref.WeakSet()   # a finished generation just drops out

    def track(self, generation) -> None:
        self._live.add(generation)

    def refusal(self) -> ShuttingDown | None:
        """What a request that just arrived is refused with: :class:`ShuttingDown` once the drain
        began, else None."""
        return ShuttingDown(self.retry_after) if self.draining else None

    async def __call__(self, grace: float, settle: float = SETTLE_SECONDS) -> None:
        """Drains: refuses new requests, waits up to ``grace`` seconds for those in flight, ends
        the rest with :class:`ShuttingDown`, and returns once none is left (or ``settle`` seconds
        later)."""
        self.draining = True
        if not await self._idle(grace):
            left = list(self._live)
            log.warning("shutting down: ending %d generation(s) still running after %g s", len(left), grace)
            for generation in left:
                generation.interrupt(ShuttingDown(self.retry_after))
            await self._idle(settle)

    async def _idle(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.counters.in_flight > 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True


def uvicorn_server(config, app):
    """A ``uvicorn.Server`` whose first exit signal drains ``app`` (see the module) before the
    usual shutdown; the second is uvicorn's own (stop now)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        _draining: asyncio.Task | None = None

        async def serve(self, sockets=None) -> None:
            self._loop = asyncio.get_running_loop()
            await super().serve(sockets)

        def handle_exit(self, sig, frame) -> None:
            if self._draining is not None or self.should_exit or not hasattr(self, "_loop"):
                return super().handle_exit(sig, frame)
            self._captured_signals.append(sig)   # uvicorn re-raises it once stopped, as it does
            self._loop.call_soon_threadsafe(self._begin)

        def _begin(self) -> None:
            log.info("draining: new requests get 503, those in flight have %g s", grace)
            self._draining = self._loop.create_task(self._drain())

        async def _drain(self) -> None:
            try:
                await app.state.drain(grace)
            finally:
                self.should_exit = True

    grace = app.state.config.server.shutdown_grace
    return DrainingServer(config)
