"""One chat completion request in flight: ``n`` generations of :meth:`LiveMind.stream` run side by
side, their events merged into one queue tagged with the choice index.

:meth:`Generation.start` waits until every choice has produced its first token (or finished):
an error before then — unknown model, prompt too long, no memory — is raised to the caller
while the HTTP response can still carry its status. :meth:`Generation.aclose` cancels every
generation (the engine frees the sequence's slot at its next decode step). With a ``deadline``
(the event loop's clock), waiting past it raises :class:`RequestTimeout`, from :meth:`start` or
from the iteration alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from livemind.events import Done, Token
from livemind.server.errors import RequestTimeout

_END = object()


class Generation:
    """``n`` runs of ``mind.stream(messages, **targets[i])``. Iterate it for ``(index, event)``
    pairs; an exception from any run is raised from the iteration."""

    def __init__(self, mind, messages: list[dict], targets: list[dict], *, deadline: float | None = None,
                 timeout: float | None = None):
        self.mind, self.messages, self.targets = mind, messages, targets
        self.deadline, self.timeout = deadline, timeout     # when it must end; the limit, to report
        self.n = len(targets)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._buffer: list[tuple[int, object]] = []
        self._ended: set[int] = set()

    async def _pump(self, index: int, kwargs: dict) -> None:
        stream = self.mind.stream(self.messages, **kwargs)
        try:
            async for event in stream:
                self._queue.put_nowait((index, event))
        except Exception as exc:
            self._queue.put_nowait((index, exc))
        finally:
            await stream.aclose()
            self._queue.put_nowait((index, _END))

    async def _next(self) -> tuple[int, object]:
        if self.deadline is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), self.deadline - asyncio.get_running_loop().time())
        except asyncio.TimeoutError:
            raise RequestTimeout(self.timeout or 0) from None

    async def start(self) -> None:
        """Starts the runs and returns once each has begun answering (or finished). Raises the
        first error any run met before that, after cancelling the others."""
        self._tasks = [asyncio.create_task(self._pump(i, kw)) for i, kw in enumerate(self.targets)]
        begun: set[int] = set()
        try:
            while len(begun) < self.n:
                index, item = await self._next()
                if isinstance(item, Exception):
                    raise item
                self._buffer.append((index, item))
                if item is _END or isinstance(item, (Token, Done)):
                    begun.add(index)
        except BaseException:
            await self.aclose()
            raise

    def begun(self) -> list[tuple[int, object]]:
        """The events :meth:`start` read while waiting (iteration yields them again)."""
        return [(i, ev) for i, ev in self._buffer if ev is not _END]

    async def __aiter__(self) -> AsyncIterator[tuple[int, object]]:
        pending, self._buffer = self._buffer, []
        while len(self._ended) < self.n:
            index, item = pending.pop(0) if pending else await self._next()
            if item is _END:
                self._ended.add(index)
            elif isinstance(item, Exception):
                raise item
            else:
                yield index, item

    def interrupt(self, exc: Exception) -> None:
        """Ends the request with ``exc``: raised from :meth:`start` or the iteration, wherever
        the request is (the runs are cancelled by :meth:`aclose` as on any error)."""
        self._queue.put_nowait((0, exc))

    async def aclose(self) -> None:
        """Cancels every run still going and waits until each has let go of its model."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
