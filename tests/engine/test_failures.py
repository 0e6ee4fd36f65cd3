"""Failure isolation on a real model: a failure injected into the engine's step ends only the
requests it touched, the engine thread goes on serving, and a dead engine thread is reported
(never a hang) and reloaded by the pool. Sampling parameters the sampler cannot compute with
are refused before any work."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import livemind as lm
from livemind.backends import GenerationRequest, NativeBackend
from livemind import BackendError, Overloaded
from livemind.engine import scheduler as sched
from livemind.engine.model import Model, load_model
from livemind.engine.sampling import MIN_TEMPERATURE, SamplingParams

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def model(smollm2_path):
    m = load_model(smollm2_path, context=512)
    yield m
    m.close()


async def collect(model, prompt=PROMPT, **kw):
    text, last = "", None
    async for ev in model.generate(prompt, **{"max_tokens": 8, "temperature": 0, **kw}):
        text += ev.text
        last = ev
    return text, last


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_a_failed_forward_step_ends_its_requests_and_the_engine_goes_on(model, monkeypatch):
    expected, _ = run(collect(model))
    real_forward, calls = model.forward, []

    def failing_forward(*args):
        calls.append(1)
        if len(calls) == 3:                      # mid-generation, not at the first step
            raise RuntimeError("injected failure")
        return real_forward(*args)

    monkeypatch.setattr(model, "forward", failing_forward)
    with pytest.raises(BackendError, match="injected failure") as err:
        run(collect(model))
    assert err.value.backend == model.name and "forward step failed" in err.value.reason
    monkeypatch.setattr(model, "forward", real_forward)
    assert model.healthy and model.in_flight() == 0
    assert run(collect(model)) [0] == expected      # the next request is served, and right


def test_a_sampling_failure_ends_that_request_alone(model, monkeypatch):
    class FailingSampler(sched.Sampler):          # raises for the request with seed 666 only
        def __call__(self, logits, recent):
            if self.params.seed == 666 and len(recent) == 2:
                raise ValueError("injected sampling failure")
            return super().__call__(logits, recent)

    solo, _ = run(collect(model, temperature=0.7, seed=1, max_tokens=12))
    monkeypatch.setattr(sched, "Sampler", FailingSampler)

    async def both():
        return await asyncio.gather(collect(model, temperature=0.7, seed=1, max_tokens=12),
                                    collect(model, temperature=0.7, seed=666, max_tokens=12),
                                    return_exceptions=True)

    ok, failed = run(both())
    assert isinstance(failed, BackendError) and "injected sampling failure" in str(failed)
    assert ok[0] == solo and ok[1].finish_reason == "length"   # its batch-mate finished untouched
    assert model.healthy and model.in_flight() == 0


def test_non_finite_logits_are_an_error_not_a_draw(model, monkeypatch):
    real_forward = model.forward

    def nan_forward(*args):
        out = real_forward(*args)
        out[:, 7] = np.nan
        return out

    monkeypatch.setattr(model, "forward", nan_forward)
    for kw in ({"temperature": 0}, {"temperature": 0.8, "top_k": 0}):
        with pytest.raises(BackendError, match="not finite"):
            run(collect(model, **kw))
    monkeypatch.setattr(model, "forward", real_forward)
    assert run(collect(model))[1].finish_reason in ("stop", "length")


class Fatal(BaseException):
    """What no ``except Exception`` catches: it takes the engine thread down."""


def test_a_dead_engine_thread_fails_its_requests_and_refuses_new_ones(smollm2_path, monkeypatch):
    m = load_model(smollm2_path, context=256)
    try:
        run(collect(m, max_tokens=2))                      # the engine thread is up
        monkeypatch.setattr(m._scheduler, "_step", lambda: (_ for _ in ()).throw(Fatal("injected")))
        with pytest.raises(BackendError, match="engine thread stopped"):
            run(collect(m), timeout=30)                    # an error, never a hang
        assert not m.healthy
        with pytest.raises(BackendError, match="reload the model"):
            run(collect(m), timeout=30)
    finally:
        m.close()


def test_the_pool_reloads_a_model_whose_engine_died(smollm2_path, monkeypatch):
    backend = NativeBackend(smollm2_path, context=256)
    pool = lm.ExpertPool([lm.Expert("general", backend=backend)])
    request = GenerationRequest(prompt=PROMPT, max_tokens=4, temperature=0)

    async def answer() -> str:
        async with pool.use("general") as b:
            return "".join([d.text async for d in b.stream(request)])

    async def go():
        async with pool:
            first = await answer()
            model = backend._model
            monkeypatch.setattr(model._scheduler, "_step", lambda: (_ for _ in ()).throw(Fatal("injected")))
            with pytest.raises(BackendError):
                await answer()
            assert not backend.healthy and pool.unhealthy() == [backend.key]
            assert not pool.stats().models[backend.key].healthy
            again = await answer()                         # unloaded, loaded afresh, served
            stats = pool.stats()
            return first, again, model, stats

    first, again, dead_model, stats = run(go(), timeout=180)
    assert again == first
    assert backend._model is None and dead_model._native is None   # closed with the pool; the dead one at reload
    assert stats.counters.loads == 2 and stats.counters.unloads.unhealthy == 1
    assert stats.models[backend.key].healthy


@pytest.mark.parametrize("bad", [
    {"temperature": 1e-310}, {"temperature": MIN_TEMPERATURE / 2}, {"temperature": float("inf")},
    {"temperature": float("nan")}, {"top_p": float("nan")}, {"min_p": float("nan")},
    {"repetition_penalty": float("inf")}, {"seed": 1 << 64}, {"seed": -(1 << 63) - 1}, {"seed": 1.5},
    {"top_k": 2.5},
])
def test_parameters_the_sampler_cannot_compute_with_are_refused(model, bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)
    with pytest.raises(ValueError):
        run(collect(model, **bad))
    with pytest.raises(ValueError):
        GenerationRequest(prompt="x", **bad)


def test_the_smallest_temperature_and_any_int64_seed_sample(model):
    for kw in ({"temperature": MIN_TEMPERATURE, "seed": 3}, {"temperature": 0.8, "seed": -(1 << 63)},
               {"temperature": 0.8, "seed": (1 << 64) - 1}):
        text, last = run(collect(model, **kw))
        assert last.finish_reason in ("stop", "length") and last.usage.completion_tokens > 0
    # the smallest temperature samples what greedy picks (the top logit dominates)
    assert run(collect(model, temperature=MIN_TEMPERATURE, seed=3))[0] == run(collect(model))[0]
    # a negative seed is its two's-complement twin
    assert run(collect(model, temperature=0.8, seed=-1))[0] == run(collect(model, temperature=0.8, seed=(1 << 64) - 1))[0]


def test_past_the_waiting_queue_a_generation_is_overloaded_and_the_others_finish(smollm2_path):
    """One KV slot, one place in the queue: with the slot busy, of two more one waits and one is
    refused before any work."""
    m = Model(smollm2_path, context=256, n_seq=1, max_waiting=1)
    try:
        async def go():
            first = m.generate("Count from 1 to 100: 1, 2, 3,", max_tokens=48, temperature=0)
            await anext(first)                              # it holds the slot now
            later = await asyncio.gather(collect(m), collect(m), return_exceptions=True)
            async for _ in first:
                pass
            return later

        later = run(go())
        refused = [o for o in later if isinstance(o, Overloaded)]
        assert len(refused) == 1 and refused[0].retryable and refused[0].limit == 1, later
        assert [o[1].finish_reason in ("stop", "length") for o in later if not isinstance(o, Exception)] == [True]
        assert m.healthy and m.in_flight() == 0
    finally:
        m.close()


def test_free_slots_take_a_burst_beyond_the_waiting_limit(smollm2_path):
    """max_waiting counts only requests beyond the free slots: with two free slots and no place
    in the queue, two generations submitted at once both run and a third is refused."""
    m = Model(smollm2_path, context=256, n_seq=2, max_waiting=0)
    try:
        async def go():
            return await asyncio.gather(*[collect(m, max_tokens=96) for _ in range(3)], return_exceptions=True)

        outs = run(go())
        refused = [o for o in outs if isinstance(o, Overloaded)]
        assert len(refused) == 1 and refused[0].limit == 0, outs
        assert [o[1].finish_reason in ("stop", "length") for o in outs if not isinstance(o, Exception)] == [True, True]
        assert m.healthy and m.in_flight() == 0
    finally:
        m.close()
