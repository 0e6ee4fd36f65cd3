"""The facade and consensus on the packaged models, end to end through the native engine."""

from __future__ import annotations

import asyncio

import livemind as lm


def test_parallel_consensus_of_three_real_experts_streams_answers_and_synthesis():
    pool = lm.ExpertPool(lm.default_team(), context=512, warm=())

    async def go():
        async with lm.LiveMind(pool) as mind:
            events = [ev async for ev in mind.stream("What is the capital of France?",
                                                   strategy=lm.Parallel(["general", "technical", "coder"],
                                                                        synthesizer="general"),
                                                   max_tokens=12, temperature=0)]
            return events, pool.stats()

    events, stats = asyncio.run(go())
    answered = {e.expert for e in events if isinstance(e, lm.Token) and e.stage == "answer"}
    assert answered == {"general", "technical", "coder"}
    assert any(isinstance(e, lm.SynthesisStarted) for e in events)
    synthesis = "".join(e.text for e in events if isinstance(e, lm.Token) and e.stage == "synthesis")
    result = events[-1].result
    assert result.text == synthesis and synthesis.strip()
    assert len(result.answers) == 3 and result.usage.completion_tokens > 0
    # the three experts share one model (SmolLM2): one load
    assert stats.counters.loads == 1
    assert result.seconds > 0 and result.expert_seconds > 0


def test_routed_question_on_real_models():
    pool = lm.ExpertPool(lm.default_team(), context=512, warm=())

    async def go():
        async with lm.LiveMind(pool, router=lm.Router(pool)) as mind:
            return await mind.ask("What is the capital of France?", max_tokens=16, temperature=0)

    result = asyncio.run(go())
    assert result.route is not None and result.route.expert in ("general", "technical")
    assert "Paris" in result.text


def test_turns_under_max_loaded_1_swaps_real_models_never_holding_two():
    pool = lm.ExpertPool(lm.default_team(), context=512, warm=(), max_loaded=1)
    resident_seen = []

    async def go():
        async with lm.LiveMind(pool) as mind:
            async for ev in mind.stream("Name a colour.", strategy=lm.Turns(["general", "writer"]),
                                        max_tokens=6, temperature=0):
                resident_seen.append(len(pool.resident()))
                if isinstance(ev, lm.Done):
                    return ev.result, pool.stats()

    result, stats = asyncio.run(go())
    assert max(resident_seen) == 1
    assert [a.expert for a in result.answers] == ["general", "writer"]
    assert stats.counters.loads == 2 and stats.counters.unloads.evicted >= 1
