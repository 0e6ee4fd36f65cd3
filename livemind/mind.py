"""LiveMind: the facade that ties the team together — route a request to one expert, or ask
several through a consensus strategy — and streams typed events as it goes.

>>> async with LiveMind(pool, router=Router(pool)) as mind:              # doctest: +SKIP
...     async for ev in mind.stream([{"role": "user", "content": "Write a haiku"}]):
...         print(ev.text, end="")
...     result = await mind.ask("Is P = NP?", strategy=Parallel(["general", "technical"]))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from livemind._run import check_sampling, normalize_messages, run_expert
from livemind.errors import BackendError, Cancelled, LiveMindError
from livemind.events import Done, Event, ExpertDone, Result, RouteChosen, RouteDecision

_END = object()


class LiveMind:
    """The orchestrator. ``router`` is a :class:`~livemind.router.Router` (or anything with an
    async ``route(messages) -> RouteDecision``) or a plain function ``(messages) -> expert
    name``; without one, requests go to the first expert. ``strategy`` is the default consensus
    strategy (None: routed, one expert)."""

    def __init__(self, pool, *, router=None, strategy=None):
        self.pool = pool
        self.router = router
        self.strategy = strategy
        self._entered_pool = False

    async def __aenter__(self) -> LiveMind:
        if not getattr(self.pool, "started", False):
            await self.pool.__aenter__()
            self._entered_pool = True
        return self

    async def __aexit__(self, *exc) -> None:
        if self._entered_pool:
            self._entered_pool = False
            await self.pool.__aexit__(*exc)

    # ------------------------------------------------------------------ routing

    async def route(self, messages) -> RouteDecision:
        """Which expert would answer ``messages``, and why."""
        messages = normalize_messages(messages)
        router = self.router
        if router is None:
            return RouteDecision(expert=self.pool.experts[0], reason="no router: the first expert")
        if hasattr(router, "route"):
            decision = await router.route(messages)
        elif callable(router):
            name = router(messages)
            if asyncio.iscoroutine(name):
                name = await name
            decision = RouteDecision(expert=name, reason="custom router")
        else:
            raise TypeError("router must be a Router or a function (messages) -> expert name")
        self.pool.expert(decision.expert)   # UnknownExpert for a name the router made up
        return decision

    # ------------------------------------------------------------------ requests

    async def stream(self, messages, *, strategy=None, expert: str | None = None, **sampling) -> AsyncIterator[Event]:
        """Streams the answer to ``messages`` (a string or chat messages) as typed events, ending
        with :class:`~livemind.events.Done`. ``expert`` skips routing; ``strategy`` (or the
        default set on the facade) asks several experts. Sampling options: max_tokens,
        temperature, top_p, top_k, min_p, repetition_penalty, seed, stop.

        Leaving the loop early, or cancelling the task, cancels every expert's generation."""
        messages = normalize_messages(messages)
        sampling = check_sampling(sampling)
        strategy = strategy if strategy is not None else (None if expert else self.strategy)
        if expert is not None:
            self.pool.expert(expert)
        elif strategy is not None:
            strategy.check(self.pool)
        queue: asyncio.Queue = asyncio.Queue()
        task = asyncio.create_task(self._produce(messages, sampling, strategy, expert, queue.put_nowait))
        task.add_done_callback(lambda _: queue.put_nowait(_END))
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                yield item
            task.result()   # re-raises the request's error, if any
        finally:
            if not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass

    async def _produce(self, messages, sampling, strategy, expert, sink) -> None:
        t0 = time.perf_counter()
        if strategy is not None:
            result = await strategy.run(self.pool, messages, sampling, sink)
        else:
            if expert is not None:
                decision = RouteDecision(expert=expert, reason="chosen by the caller")
            else:
                decision = await self.route(messages)
            sink(RouteChosen(decision=decision))
            try:
                answer = await run_expert(self.pool, decision.expert, messages, sampling, sink)
            except LiveMindError:
                raise
            except Exception as exc:
                raise BackendError(decision.expert, f"{type(exc).__name__}: {exc}") from exc
            sink(ExpertDone(answer=answer))
            result = Result(text=answer.text, experts=[answer.expert], strategy="single", route=decision,
                            answers=[answer], usage=answer.usage, seconds=time.perf_counter() - t0,
                            expert_seconds=answer.seconds, finish_reason=answer.finish_reason)
        sink(Done(result=result))

    async def ask(self, messages, *, strategy=None, expert: str | None = None, **sampling) -> Result:
        """The whole answer at once: the :class:`~livemind.events.Result` of :meth:`stream`."""
        result = None
        async for event in self.stream(messages, strategy=strategy, expert=expert, **sampling):
            if isinstance(event, Done):
                result = event.result
        if result is None:
            raise Cancelled("the request ended without a result")
        return result

    def ask_sync(self, messages, **kwargs) -> Result:
        """:meth:`ask` for code without an event loop (enters and leaves the pool around it)."""
        async def go():
            async with self:
                return await self.ask(messages, **kwargs)
        return asyncio.run(go())

