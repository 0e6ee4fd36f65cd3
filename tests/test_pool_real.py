"""ExpertPool and MemoryGovernor on the real packaged models through NativeBackend: lazy load,
idle unload, swapping under max_loaded=1, governor refusal and eviction, single flight."""

from __future__ import annotations

import asyncio

import pytest
from test_pool import until

from livemind.backends import NativeBackend
from livemind.backends.base import GenerationRequest
from livemind.errors import MemoryBudgetExceeded
from livemind.events import ModelLoaded, ModelLoading, ModelUnloaded
from livemind.experts import Expert
from livemind.governor import MemoryGovernor
from livemind.pool import ExpertPool

pytestmark = [pytest.mark.anyio, pytest.mark.models, pytest.mark.timeout(120)]
MIB = 1 << 20
REQUEST = GenerationRequest(prompt="The capital of France is", max_tokens=3, temperature=0)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def team(smollm2_path, gemma3_path):   # the fixtures fail with the install command when a model is missing
    return [Expert("general", model="smollm2-135m-instruct"), Expert("coder", model="smollm2-135m-instruct"),
            Expert("writer", model="gemma3-270m")]


async def ask(pool: ExpertPool, name: str, **use) -> str:
    async with pool.use(name, **use) as backend:
        deltas = [d async for d in backend.stream(REQUEST)]
    assert deltas[-1].finish_reason is not None and deltas[-1].completion_tokens >= 1
    return "".join(d.text for d in deltas)


async def test_lazy_load_shared_model_and_idle_unload(team):
    async with ExpertPool(team, idle_ttl=0.3, context=512) as pool:
        smol = pool.backend_key("general")
        assert smol == pool.backend_key("coder") != pool.backend_key("writer")
        assert pool.resident() == []                         # nothing loads before first use
        assert "Paris" in await ask(pool, "general")
        assert await ask(pool, "coder")                      # same model, no second load
        stats = pool.stats()
        assert pool.resident() == [smol] and stats.counters.loads == 1 and stats.counters.hits == 1
        model = stats.models[smol]
        assert model.experts == ["general", "coder"] and model.measured_bytes is not None
        assert model.estimate_bytes >= 100 * MIB              # weights (~92 MiB) + KV + scratch
        async with pool.use("general") as backend:
            await asyncio.sleep(0.5)
            assert backend.loaded                            # busy past its TTL: it stays
        await until(lambda: pool.stats().counters.unloads.idle == 1, timeout=5)
        assert not backend.loaded and pool.resident() == []


async def test_max_loaded_one_swaps_models(team):
    events = []
    async with ExpertPool(team, max_loaded=1, context=512) as pool:
        smol, gemma = pool.backend_key("general"), pool.backend_key("writer")
        assert "Paris" in await ask(pool, "general")
        assert await ask(pool, "writer", on_event=events.append)
        assert pool.resident() == [gemma]
        assert [type(e) for e in events] == [ModelLoading, ModelUnloaded, ModelLoaded]
        assert events[1] == ModelUnloaded(model=smol, reason="evicted")
        assert "Paris" in await ask(pool, "general")
        stats = pool.stats()
        assert pool.resident() == [smol] and stats.loaded == 1
        assert (stats.counters.loads, stats.counters.unloads.evicted) == (3, 2)
        assert not pool.fits_together(["general", "writer"]) and pool.fits_together(["general", "coder"])
    assert pool.resident() == []


async def test_governor_with_a_tiny_budget_refuses(team):
    gov = MemoryGovernor(budget_bytes=50 * MIB)
    async with ExpertPool(team, governor=gov, context=512) as pool:
        with pytest.raises(MemoryBudgetExceeded) as err:
            await ask(pool, "general")
        assert not err.value.retryable and err.value.budget == 50 * MIB and err.value.needed > 50 * MIB
        assert pool.resident() == [] and pool.stats().counters.refusals == 1


async def test_governor_evicts_an_idle_model_to_fit_the_budget(team, smollm2_path, gemma3_path):
    small, big = (NativeBackend(p, context=512).memory_estimate().total for p in (smollm2_path, gemma3_path))
    gov = MemoryGovernor(budget_bytes=big + small // 2)       # either model fits, not both
    async with ExpertPool(team, governor=gov, context=512) as pool:
        await ask(pool, "general")
        assert await ask(pool, "writer")
        assert pool.resident() == [pool.backend_key("writer")]
        assert pool.stats().counters.unloads.memory == 1
        assert not pool.fits_together(["general", "writer"])


async def test_ten_concurrent_cold_requests_load_once(team):
    async with ExpertPool(team, context=512) as pool:
        answers = await asyncio.gather(*(ask(pool, "general") for _ in range(10)))
        assert all("Paris" in a for a in answers)
        counters = pool.stats().counters
        assert (counters.loads, counters.misses, counters.hits) == (1, 10, 0)


async def test_an_auto_consensus_reads_no_model_file_on_the_event_loop(team, monkeypatch):
    """Auto sizes the experts' models (their GGUF headers) off the loop before it chooses."""
    import threading

    from livemind.consensus import Auto
    from livemind.engine import gguf
    from livemind.mind import LiveMind

    opened, real_init = [], gguf.GGUFFile.__init__

    def spy(self, *args, **kwargs):
        opened.append(threading.current_thread() is threading.main_thread())
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(gguf.GGUFFile, "__init__", spy)
    async with LiveMind(ExpertPool(team, context=256)) as mind:
        result = await mind.ask("The capital of France is", strategy=Auto(["general", "writer"]), max_tokens=2,
                                temperature=0)
    assert result.strategy == "parallel" and opened and not any(opened), opened


async def test_the_pool_makes_native_backends_with_its_batching_and_prefix_cache_settings():
    pool = ExpertPool([Expert("a", model="smollm2-135m-instruct")], max_sequences=2, prefix_cache=False)
    backend = pool._new_backend(pool.expert("a"))
    assert isinstance(backend, NativeBackend) and (backend.max_sequences, backend.prefix_cache) == (2, False)
