"""The LiveMind facade and the consensus strategies, on FakeBackend (orchestration logic only;
tests/test_mind_real.py runs the same paths on the packaged models)."""

from __future__ import annotations

import asyncio

import pytest

import livemind as lm
from livemind.events import Done, ExpertDone, ExpertFailed, ModelLoaded, RouteChosen, SynthesisStarted, Token

from fakes import FakeBackend


def team(**backends):
    return [lm.Expert(name, backend=b, description=f"{name} things") for name, b in backends.items()]


def run(coro):
    return asyncio.run(coro)


async def collect(mind, messages, **kw):
    return [ev async for ev in mind.stream(messages, **kw)]


def test_routed_request_streams_route_load_tokens_and_result():
    pool = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B")))

    async def go():
        async with lm.LiveMind(pool, router=lambda messages: "b") as mind:
            return await collect(mind, "hello there")

    events = run(go())
    kinds = [type(e) for e in events]
    assert kinds[0] is RouteChosen and events[0].decision.expert == "b"
    assert ModelLoaded in kinds and kinds[-1] is Done
    text = "".join(e.text for e in events)
    assert text == "B says: hello there"
    result = events[-1].result
    assert result.text == text and result.experts == ["b"] and result.strategy == "single"
    assert result.route.reason == "custom router"


def test_router_naming_an_unknown_expert_is_a_typed_error():
    pool = lm.ExpertPool(team(a=FakeBackend("A")))

    async def go():
        async with lm.LiveMind(pool, router=lambda m: "nobody") as mind:
            await mind.ask("hi")

    with pytest.raises(lm.UnknownExpert):
        run(go())


def test_system_prompt_and_defaults_reach_the_backend():
    fake = FakeBackend("A")
    pool = lm.ExpertPool([lm.Expert("a", backend=fake, system_prompt="Be brief.", defaults={"temperature": 0.1})])

    async def go():
        async with lm.LiveMind(pool) as mind:
            return await mind.ask("hi", max_tokens=5)

    run(go())
    req = fake.requests[0]
    assert req.messages[0] == {"role": "system", "content": "Be brief."}
    assert req.temperature == 0.1 and req.max_tokens == 5


def test_parallel_runs_experts_at_once_then_synthesizes():
    slow = dict(token_seconds=0.02)
    pool = lm.ExpertPool(team(a=FakeBackend("A", **slow), b=FakeBackend("B", **slow), c=FakeBackend("C", **slow)))

    async def go():
        async with lm.LiveMind(pool) as mind:
            return await collect(mind, "one two three four five", strategy=lm.Parallel(["a", "b", "c"], synthesizer="a"))

    events = run(go())
    answered = {e.expert for e in events if isinstance(e, Token) and e.stage == "answer"}
    assert answered == {"a", "b", "c"}
    assert any(isinstance(e, SynthesisStarted) for e in events)
    assert any(isinstance(e, Token) and e.stage == "synthesis" for e in events)
    result = events[-1].result
    assert result.strategy == "parallel" and len(result.answers) == 3
    # concurrent: the wall time is well under the sum of the experts' own times
    assert result.seconds < result.expert_seconds


def test_a_failing_expert_is_reported_and_skipped():
    pool = lm.ExpertPool(team(a=FakeBackend("A"), bad=FakeBackend("X", fail="stream"), c=FakeBackend("C")))

    async def go():
        async with lm.LiveMind(pool) as mind:
            return await collect(mind, "q", strategy=lm.Parallel(["a", "bad", "c"]))

    events = run(go())
    failed = [e for e in events if isinstance(e, ExpertFailed)]
    assert [f.expert for f in failed] == ["bad"]
    assert {e.answer.expert for e in events if isinstance(e, ExpertDone)} >= {"a", "c"}
    assert events[-1].result.text


def test_every_expert_failing_is_a_backend_error():
    pool = lm.ExpertPool(team(x=FakeBackend("X", fail="load"), y=FakeBackend("Y", fail="stream")))

    async def go():
        async with lm.LiveMind(pool) as mind:
            await mind.ask("q", strategy=lm.Parallel(["x", "y"]))

    with pytest.raises(lm.BackendError, match="every expert failed"):
        run(go())


def test_timeout_skips_a_slow_expert():
    pool = lm.ExpertPool(team(fast=FakeBackend("F"), slow=FakeBackend("S", token_seconds=0.5)))

    async def go():
        async with lm.LiveMind(pool) as mind:
            return await collect(mind, "a b c", strategy=lm.Parallel(["fast", "slow"], timeout=0.2))

    events = run(go())
    assert [e.expert for e in events if isinstance(e, ExpertFailed)] == ["slow"]
    assert "timed out" in next(e.error for e in events if isinstance(e, ExpertFailed))


class CountingBackend(FakeBackend):
    """A fake that records how many of its kind are loaded at once."""

    resident = 0
    peak = 0

    async def load(self):
        await super().load()
        CountingBackend.resident += 1
        CountingBackend.peak = max(CountingBackend.peak, CountingBackend.resident)

    async def unload(self):
        if self.loaded:
            CountingBackend.resident -= 1
        await super().unload()


def test_turns_under_max_loaded_1_never_holds_two_models_and_each_sees_the_others():
    CountingBackend.resident = CountingBackend.peak = 0
    backends = {n: CountingBackend(n.upper()) for n in ("a", "b", "c")}
    pool = lm.ExpertPool(team(**backends), max_loaded=1)

    async def go():
        async with lm.LiveMind(pool) as mind:
            return await mind.ask("the question", strategy=lm.Turns(["a", "b", "c"]))

    result = run(go())
    assert CountingBackend.peak == 1
    assert result.strategy == "turns" and [a.expert for a in result.answers] == ["a", "b", "c"]
    last_prompt = backends["c"].requests[0].messages[-1]["content"]
    assert "A says" in last_prompt and "B says" in last_prompt
    assert result.text == result.answers[-1].text


def test_auto_picks_turns_when_the_models_cannot_be_resident_together():
    pool1 = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B")), max_loaded=1)
    pool2 = lm.ExpertPool(team(a=FakeBackend("A"), b=FakeBackend("B")), max_loaded=2)
    assert isinstance(lm.Auto(["a", "b"]).choose(pool1), lm.Turns)
    assert isinstance(lm.Auto(["a", "b"]).choose(pool2), lm.Parallel)


def test_leaving_the_stream_early_cancels_every_generation():
    backends = {n: FakeBackend(n.upper(), token_seconds=0.05, reply="w " * 200) for n in ("a", "b")}
    pool = lm.ExpertPool(team(**backends))

    async def go():
        async with lm.LiveMind(pool) as mind:
            async for ev in mind.stream("q", strategy=lm.Parallel(["a", "b"])):
                if isinstance(ev, Token):
                    break
            await asyncio.sleep(0.1)
            return [b.in_flight() for b in backends.values()]

    assert run(go()) == [0, 0]


def test_bad_requests_fail_before_any_work():
    fake = FakeBackend("A")
    pool = lm.ExpertPool(team(a=fake))

    async def go(**kw):
        async with lm.LiveMind(pool) as mind:
            await mind.ask(**kw)

    with pytest.raises(ValueError, match="unknown sampling"):
        run(go(messages="hi", temprature=0.5))
    with pytest.raises(ValueError, match="messages"):
        run(go(messages=[]))
    with pytest.raises(lm.UnknownExpert):
        run(go(messages="hi", strategy=lm.Parallel(["a", "zz"])))
    with pytest.raises(ValueError):
        lm.Parallel([])
    assert fake.loads == 0


def test_ask_sync_wraps_the_async_api():
    pool = lm.ExpertPool(team(a=FakeBackend("A")))
    assert lm.LiveMind(pool).ask_sync("hi").text == "A says: hi"
