"""Consensus: several experts answer one request and one answer comes out.

- :class:`Parallel` — the experts answer at once (as many as the pool and governor admit; the
  rest wait their turn), then a synthesizer writes one answer from a prompt that quotes them
  (Mixture-of-Agents style).
- :class:`Turns` — the experts answer one after another, each seeing the answers so far; with
  ``max_loaded=1`` or a tight memory budget only one of their models is resident at a time, so
  this is the consensus that works under memory pressure.
- :class:`Auto` — Parallel when the pool can hold all their models at once, else Turns.

An expert that fails or times out is reported (:class:`~livemind.events.ExpertFailed`) and
skipped; the consensus answers from the others. When every expert fails the consensus raises
the one error they all met when they all met the same kind — refused for memory
(MemoryBudgetExceeded, naming the budget), turned away by full queues (Overloaded), a prompt past
every context (ContextLengthError) — else a BackendError listing each failure.
A synthesis that fails (or times out) does not fail a consensus whose experts answered: the
result is the answer the strategy gives without a synthesizer — Parallel: the first listed expert
that answered; Turns: the last turn, written with the others in view — and a
:class:`~livemind.events.Notice` (code ``synthesis_failed``) says so.

>>> result = await mind.ask("Is P = NP?", strategy=Parallel(["general", "technical"]))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from livemind._run import Sink, run_expert
from livemind.errors import (BackendError, ContextLengthError, LiveMindError, MemoryBudgetExceeded, Overloaded,
                             UnknownExpert)
from livemind.events import ExpertAnswer, ExpertDone, ExpertFailed, Notice, Result, SynthesisStarted, Usage

log = logging.getLogger("livemind.consensus")

SYNTHESIS_PROMPT = (
    "Several experts answered the question below. Write one answer that keeps what is correct and "
    "useful in theirs and drops what is wrong. Answer the question directly; do not mention the experts.\n\n"
    "Question: {question}\n\n{answers}\n\nAnswer:"
)
TURN_PROMPT = (
    "{question}\n\nOther experts have answered so far:\n\n{answers}\n\n"
    "Give your own answer, improving on theirs where you can."
)


def _quote(answers: Sequence[ExpertAnswer]) -> str:
    return "\n\n".join(f"Expert {i + 1} ({a.expert}):\n{a.text.strip()}" for i, a in enumerate(answers))


def _question(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), messages[-1]["content"])


def _with_question(messages: list[dict], text: str) -> list[dict]:
    """The conversation with its last user message replaced by ``text``."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "user":
            return messages[:i] + [{"role": "user", "content": text}] + messages[i + 1:]
    return messages + [{"role": "user", "content": text}]


class _Strategy:
    name = "consensus"

    def __init__(self, experts: Sequence[str], *, synthesizer: str | None = None, timeout: float | None = None):
        experts = list(experts)
        if not experts or not all(isinstance(e, str) for e in experts):
            raise ValueError("a consensus needs a non-empty list of expert names")
        if len(set(experts)) != len(experts):
            raise ValueError("a consensus lists each expert once")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self.experts, self.synthesizer, self.timeout = experts, synthesizer, timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.experts!r}, synthesizer={self.synthesizer!r})"

    def check(self, pool) -> None:
        for name in [*self.experts, *([self.synthesizer] if self.synthesizer else [])]:
            pool.expert(name)    # raises UnknownExpert

    def _timed(self, coro):
        return asyncio.wait_for(coro, self.timeout) if self.timeout else coro

    async def _one(self, pool, name, messages, sampling, sink: Sink, failures: dict[str, Exception], *,
                   wait_for_memory: bool = False) -> ExpertAnswer | None:
        """One expert's answer, or None after reporting its failure (and noting it in
        ``failures``). With ``wait_for_memory``, a retryable MemoryBudgetExceeded propagates (the
        caller waits and tries again)."""
        try:
            answer = await self._timed(run_expert(pool, name, messages, sampling, sink))
        except UnknownExpert:
            raise
        except Exception as exc:   # one expert's failure (a timeout too) never ends the request
            if wait_for_memory and isinstance(exc, MemoryBudgetExceeded) and exc.retryable:
                raise
            failures[name] = exc
            sink(ExpertFailed(expert=name, error=self._why(exc)))
            return None
        sink(ExpertDone(answer=answer))
        return answer

    def _why(self, exc: Exception) -> str:
        """What an expert's failure event and its entry in the result's answers say."""
        if isinstance(exc, asyncio.TimeoutError):
            return f"timed out after {self.timeout:g} s"
        return str(exc) if isinstance(exc, MemoryBudgetExceeded) else f"{type(exc).__name__}: {exc}"

    def _failed(self, name: str, failures: dict[str, Exception]) -> ExpertAnswer:
        return ExpertAnswer(expert=name, error=self._why(failures[name]))

    async def _synthesize(self, pool, messages, answers, sampling, sink: Sink, name: str) -> ExpertAnswer:
        sink(SynthesisStarted(synthesizer=name, experts=[a.expert for a in answers]))
        prompt = SYNTHESIS_PROMPT.format(question=_question(messages), answers=_quote(answers))
        return await self._timed(run_expert(pool, name, _with_question(messages, prompt), sampling, sink,
                                            stage="synthesis"))

    async def _conclude(self, pool, messages, answers: list[ExpertAnswer], failed: list[ExpertAnswer], sampling,
                        sink: Sink, t0: float, synthesizer: str, fallback: ExpertAnswer) -> Result:
        """The result synthesized from ``answers``; if the synthesis fails, ``fallback`` (one
        expert's own answer) with a Notice saying why, instead of an error."""
        try:
            synth = await self._synthesize(pool, messages, answers, sampling, sink, synthesizer)
        except Exception as exc:
            log.warning("the synthesis by %r failed; answering with %r's answer", synthesizer, fallback.expert,
                        exc_info=exc)
            why = "timed out" if isinstance(exc, asyncio.TimeoutError) else (
                str(exc) if isinstance(exc, (ContextLengthError, MemoryBudgetExceeded, Overloaded))
                else type(exc).__name__)   # other errors' text may quote the request: the log has it
            notice = Notice(code="synthesis_failed", expert=synthesizer,
                            message=f"the synthesis by {synthesizer!r} failed ({why}); the answer is "
                                    f"{fallback.expert!r}'s own")
            sink(notice)
            return self._result(fallback, answers, failed, t0, notices=[notice])
        return self._result(synth, answers, failed, t0, extra=[synth])

    def _result(self, final: ExpertAnswer, answers: list[ExpertAnswer], failed: list[ExpertAnswer], t0: float,
                extra: list[ExpertAnswer] = (), notices: list[Notice] = ()) -> Result:
        spent = [*answers, *extra]
        usage = Usage(prompt_tokens=sum(a.usage.prompt_tokens for a in spent),
                      completion_tokens=sum(a.usage.completion_tokens for a in spent),
                      cached_tokens=sum(a.usage.cached_tokens for a in spent))
        used = [a.expert for a in answers] + [a.expert for a in extra if a.expert not in {x.expert for x in answers}]
        return Result(text=final.text, experts=used, strategy=self.name, answers=answers + failed, usage=usage,
                      seconds=time.perf_counter() - t0, expert_seconds=sum(a.seconds for a in spent),
                      notices=list(notices), finish_reason=final.finish_reason)

    @staticmethod
    def _all_failed(failures: dict[str, Exception]) -> LiveMindError:
        """The error of a consensus none of whose experts answered: when every one met the same
        refusal — memory, a full queue, the context — that refusal (it names the budget, the
        limit or the context, and says whether to retry; a retryable one first); else a
        BackendError naming each failure's kind."""
        errors = list(failures.values())
        for kind in (MemoryBudgetExceeded, Overloaded, ContextLengthError):
            if all(isinstance(e, kind) for e in errors):
                return next((e for e in errors if getattr(e, "retryable", False)), errors[0])
        reasons = "; ".join(f"{name}: {type(e).__name__}" for name, e in failures.items())
        return BackendError("consensus", f"every expert failed ({reasons})")


class Parallel(_Strategy):
    """The experts answer concurrently, then ``synthesizer`` (default: the first expert) writes
    one answer from theirs. ``timeout`` (seconds) bounds each expert."""

    name = "parallel"

    async def run(self, pool, messages: list[dict], sampling: dict, sink: Sink) -> Result:
        t0 = time.perf_counter()
        self.check(pool)
        failures: dict[str, Exception] = {}
        results = await asyncio.gather(*(self._admitted(pool, n, messages, sampling, sink, failures)
                                         for n in self.experts))
        answers = [a for a in results if a is not None]
        failed = [self._failed(n, failures) for n, a in zip(self.experts, results) if a is None]
        if not answers:
            raise self._all_failed(failures)
        if len(answers) == 1:
            return self._result(answers[0], answers, failed, t0)
        return await self._conclude(pool, messages, answers, failed, sampling, sink, t0,
                                    self.synthesizer or answers[0].expert, fallback=answers[0])

    async def _admitted(self, pool, name, messages, sampling, sink, failures) -> ExpertAnswer | None:
        """Runs the expert; if the governor has no room now (retryable), waits and tries again
        while other experts finish, so 'as many at once as fit' run at once."""
        delay = 0.05
        while True:
            try:
                return await self._one(pool, name, messages, sampling, sink, failures, wait_for_memory=delay <= 30)
            except MemoryBudgetExceeded:
                await asyncio.sleep(delay)
                delay *= 2


class Turns(_Strategy):
    """The experts answer one after another, each seeing the answers so far. With a
    ``synthesizer`` the last step is a synthesis over all answers; without one, the last
    expert's answer (written with all the others in view) is the result."""

    name = "turns"

    async def run(self, pool, messages: list[dict], sampling: dict, sink: Sink) -> Result:
        t0 = time.perf_counter()
        self.check(pool)
        answers: list[ExpertAnswer] = []
        failed: list[ExpertAnswer] = []
        failures: dict[str, Exception] = {}
        for name in self.experts:
            turn = messages if not answers else _with_question(
                messages, TURN_PROMPT.format(question=_question(messages), answers=_quote(answers)))
            answer = await self._one(pool, name, turn, sampling, sink, failures)
            (answers.append(answer) if answer else failed.append(self._failed(name, failures)))
        if not answers:
            raise self._all_failed(failures)
        if self.synthesizer and len(answers) > 1:
            return await self._conclude(pool, messages, answers, failed, sampling, sink, t0, self.synthesizer,
                                        fallback=answers[-1])
        return self._result(answers[-1], answers, failed, t0)


class Auto(_Strategy):
    """:class:`Parallel` when the pool can hold every expert's model at once, else :class:`Turns`."""

    name = "auto"

    def choose(self, pool) -> _Strategy:
        kind = Parallel if pool.fits_together(self.experts) else Turns
        return kind(self.experts, synthesizer=self.synthesizer, timeout=self.timeout)

    async def run(self, pool, messages: list[dict], sampling: dict, sink: Sink) -> Result:
        self.check(pool)
        await pool.size(self.experts)       # header reads off the loop; choose() then only counts
        return await self.choose(pool).run(pool, messages, sampling, sink)
