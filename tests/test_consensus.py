"""How a consensus fails, on FakeBackend (orchestration logic only): a failed synthesis falls back
to an expert's answer with a Notice; a consensus none of whose experts answered raises the
refusal they all met (memory, a full queue, the context), or a BackendError naming each failure;
an expert left out is in the result's answers with the reason its failure event gave."""

from __future__ import annotations

import asyncio

import pytest
from fakes import FakeBackend

import livemind as lm
from livemind.events import Done, ExpertFailed, Notice, Token

MIB = 1 << 20


def team(**backends):
    return [lm.Expert(name, backend=b, description=f"{name} things") for name, b in backends.items()]


async def events_of(pool, strategy, question="one two three"):
    async with lm.LiveMind(pool) as mind:
        return [ev async for ev in mind.stream(question, strategy=strategy)]


@pytest.mark.parametrize("how", ["load", "stream"])
def test_parallel_whose_synthesis_fails_answers_with_the_first_listed_expert_and_a_notice(how):
    pool = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B"), synth=FakeBackend("S", fail=how)))
    events = asyncio.run(events_of(pool, lm.Parallel(["a", "b"], synthesizer="synth")))
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and notices[0].code == "synthesis_failed" and notices[0].expert == "synth"
    assert "'a'" in notices[0].message
    result = events[-1].result
    assert isinstance(events[-1], Done) and result.text == "A says: one two three"
    assert result.notices == notices and result.experts == ["a", "b"]
    assert result.usage.completion_tokens == sum(a.usage.completion_tokens for a in result.answers)


def test_turns_whose_synthesis_fails_answers_with_the_last_turn():
    pool = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B", reply="the last turn"),
                              synth=FakeBackend("S", fail="load")))
    result = asyncio.run(events_of(pool, lm.Turns(["a", "b"], synthesizer="synth")))[-1].result
    assert result.text == "the last turn" and result.notices[0].code == "synthesis_failed"


def test_a_synthesis_past_the_timeout_falls_back_too():
    pool = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B"), synth=FakeBackend("S", token_seconds=0.3)))
    events = asyncio.run(events_of(pool, lm.Parallel(["a", "b"], synthesizer="synth", timeout=0.5)))
    assert events[-1].result.text == "A says: one two three"
    assert "timed out" in events[-1].result.notices[0].message
    assert any(isinstance(e, Token) and e.stage == "synthesis" for e in events)   # it had begun


def test_a_consensus_refused_for_memory_names_the_budget():
    pool = lm.ExpertPool(team(a=FakeBackend("A", nbytes=500 * MIB), b=FakeBackend("B", nbytes=600 * MIB)),
                         governor=lm.MemoryGovernor(budget_bytes=100 * MIB))
    for strategy in (lm.Parallel(["a", "b"]), lm.Turns(["a", "b"])):
        with pytest.raises(lm.MemoryBudgetExceeded) as e:
            asyncio.run(events_of(pool, strategy))
        assert e.value.budget == 100 * MIB and not e.value.retryable
        assert "100 MiB budget" in str(e.value)


def test_an_expert_left_out_is_in_the_result_with_the_reason_its_failure_event_gave():
    pool = lm.ExpertPool(team(a=FakeBackend("A", nbytes=50 * MIB), b=FakeBackend("B", nbytes=600 * MIB)),
                         governor=lm.MemoryGovernor(budget_bytes=100 * MIB))
    for strategy in (lm.Parallel(["a", "b"]), lm.Turns(["a", "b"])):
        events = asyncio.run(events_of(pool, strategy))
        failed = [e for e in events if isinstance(e, ExpertFailed)]
        result = events[-1].result
        assert result.experts == ["a"] and [f.expert for f in failed] == ["b"]
        assert [(a.expert, a.error) for a in result.answers] == [("a", None), ("b", failed[0].error)]
        assert "100 MiB budget (can never fit" in failed[0].error


def test_a_consensus_whose_experts_all_overflow_the_context_is_a_context_length_error():
    class Short(FakeBackend):
        """Refuses every prompt as too long, as a real backend does past its context."""

        async def stream(self, request):
            raise lm.ContextLengthError(100, self.context)
            yield

    pool = lm.ExpertPool(team(a=Short("A", context=4), b=Short("B", context=4)))
    with pytest.raises(lm.ContextLengthError):
        asyncio.run(events_of(pool, lm.Parallel(["a", "b"])))


def test_different_failures_are_a_backend_error_naming_each_kind():
    class Busy(FakeBackend):
        """Its queue is always full."""

        async def stream(self, request):
            raise lm.Overloaded("the fake's queue", 1)
            yield

    pool = lm.ExpertPool(team(x=FakeBackend("X", fail="load"), y=Busy("Y")))
    with pytest.raises(lm.BackendError, match=r"every expert failed \(x: ModelLoadError; y: Overloaded\)"):
        asyncio.run(events_of(pool, lm.Parallel(["x", "y"])))
    pool = lm.ExpertPool(team(x=Busy("X"), y=Busy("Y")))
    with pytest.raises(lm.Overloaded):
        asyncio.run(events_of(pool, lm.Parallel(["x", "y"])))
