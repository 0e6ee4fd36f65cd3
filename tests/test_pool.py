"""ExpertPool on FakeBackend: laziness, warm experts, sharing, single flight, the cap and LRU,
pins, idle TTLs, never unloading a busy model, waiting at the cap, load failures, the
governor's decisions and watch, events, stats and closing. The same paths run on real models in
test_pool_real.py."""

from __future__ import annotations

import asyncio

import pytest
from fake_system import GIB, MIB, FakeSystem
from fakes import FakeBackend

import livemind.kernels as K
from livemind.backends.base import GenerationRequest
from livemind.errors import Cancelled, MemoryBudgetExceeded, ModelLoadError, Overloaded, UnknownExpert
from livemind.events import ModelLoaded, ModelLoading, ModelUnloaded
from livemind.experts import Expert
from livemind.governor import MemoryGovernor
from livemind.pool import ExpertPool
from livemind.pool_stats import PoolStats

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(5)]
PROMPT = GenerationRequest(prompt="hello there", max_tokens=4)


@pytest.fixture
def anyio_backend():
    return "asyncio"        # the backends are asyncio (threads via asyncio.to_thread)


@pytest.fixture
def system(tmp_path):
    """A roomy machine (64 GiB, nothing used) so that only the budget a test sets binds."""
    return FakeSystem(tmp_path, mem_total=64 * GIB)


@pytest.fixture
def governor(system):
    return MemoryGovernor(root=system.root, poll_interval=0.01)


def fakes(*keys, **options) -> dict[str, FakeBackend]:
    return {k: FakeBackend(k, **options) for k in keys}


def make_pool(backends: dict[str, FakeBackend], governor, **options) -> ExpertPool:
    """One expert per backend, named after its key."""
    return ExpertPool([Expert(k, backend=b) for k, b in backends.items()], governor=governor, **options)


async def ask(pool: ExpertPool, name: str, **use) -> str:
    async with pool.use(name, **use) as backend:
        return "".join([d.text async for d in backend.stream(PROMPT)])


async def until(condition, timeout: float = 2.0) -> None:
    """Waits for ``condition()`` to hold (polls briefly); fails the test if it never does."""
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


# ---------------------------------------------------------------- laziness, warm, sharing


async def test_nothing_loads_before_first_use(governor):
    b = fakes("a", "b")
    async with make_pool(b, governor) as pool:
        assert (b["a"].loads, b["b"].loads, pool.resident()) == (0, 0, [])
        assert await ask(pool, "a") == "a says: hello there"
        assert (b["a"].loads, b["b"].loads, pool.resident()) == (1, 0, ["a"])
        await ask(pool, "a")
        assert b["a"].loads == 1
        counters = pool.stats().counters
        assert (counters.loads, counters.misses, counters.hits) == (1, 1, 1)


async def test_warm_experts_load_at_start(governor):
    b = fakes("a", "b", "c")
    async with make_pool(b, governor, warm=["a", "c"]) as pool:
        assert sorted(pool.resident()) == ["a", "c"]
        assert [f.loads for f in b.values()] == [1, 0, 1]
        await ask(pool, "a")
        assert pool.stats().counters.hits == 1


async def test_experts_on_one_backend_key_share_one_loaded_model(governor):
    shared = FakeBackend("smol")
    twin = FakeBackend("smol")                      # another object, same key: the first serves both
    experts = [Expert("general", backend=shared), Expert("coder", backend=shared), Expert("tech", backend=twin)]
    async with ExpertPool(experts, governor=governor) as pool:
        assert {pool.backend_key(n) for n in pool.experts} == {"smol"}
        for name in pool.experts:
            async with pool.use(name) as backend:
                assert backend is shared
        assert (shared.loads, twin.loads) == (1, 0)
        stats = pool.stats()
        assert list(stats.models) == ["smol"] and stats.models["smol"].experts == ["general", "coder", "tech"]
        assert pool.fits_together(["general", "coder", "tech"])


async def test_unknown_expert(governor):
    pool = make_pool(fakes("a"), governor)
    with pytest.raises(UnknownExpert, match="'nope'.*experts: a"):
        pool.expert("nope")
    async with pool:
        with pytest.raises(UnknownExpert):
            async with pool.use("nope"):
                pass
    with pytest.raises(UnknownExpert):
        make_pool(fakes("a"), governor, warm=["b"])
    with pytest.raises(UnknownExpert):
        make_pool(fakes("a"), governor, pinned=["b"])


async def test_bad_configuration_is_refused(governor):
    with pytest.raises(ValueError, match="max_loaded"):
        make_pool(fakes("a"), governor, max_loaded=0)
    with pytest.raises(ValueError, match="max_sequences must be at least 1"):
        make_pool(fakes("a"), governor, max_sequences=0)
    with pytest.raises(ValueError, match="two experts"):
        ExpertPool([Expert("a", backend=FakeBackend("a")), Expert("a", backend=FakeBackend("b"))])
    with pytest.raises(ValueError, match="no room"):
        async with make_pool(fakes("a", "b", "c"), governor, max_loaded=2, pinned=["a", "b"]):
            pass
    with pytest.raises(ValueError, match="warm"):
        async with make_pool(fakes("a", "b"), governor, max_loaded=1, warm=["a", "b"]):
            pass


async def test_use_needs_an_open_pool(governor):
    pool = make_pool(fakes("a"), governor)
    with pytest.raises(RuntimeError, match="async with"):
        async with pool.use("a"):
            pass


# ---------------------------------------------------------------- single flight


async def test_ten_concurrent_cold_requests_load_once(governor):
    b = fakes("a", load_seconds=0.05)
    events = []
    async with make_pool(b, governor) as pool:
        answers = await asyncio.gather(*(ask(pool, "a", on_event=events.append) for _ in range(10)))
        assert answers == ["a says: hello there"] * 10
        assert b["a"].loads == 1
        counters = pool.stats().counters
        assert (counters.loads, counters.misses, counters.hits) == (1, 10, 0)
    # every waiting request was told about the load it waited for
    assert sum(isinstance(e, ModelLoading) for e in events) == 10
    assert sum(isinstance(e, ModelLoaded) for e in events) == 10


# ---------------------------------------------------------------- the cap, LRU, pins


class CappedFake(FakeBackend):
    """Fails the test if it loads while ``cap`` of its siblings are loaded; takes
    ``unload_seconds`` to unload (and is loaded until it is done)."""

    def __init__(self, key, siblings: list, cap: int, *, unload_seconds: float = 0.0, **options):
        super().__init__(key, **options)
        self.siblings, self.cap, self.unload_seconds = siblings, cap, unload_seconds
        siblings.append(self)

    async def load(self):
        assert sum(f.loaded for f in self.siblings) < self.cap, "max_loaded exceeded"
        await super().load()

    async def unload(self):
        await asyncio.sleep(self.unload_seconds)
        await super().unload()


def capped(cap: int, *keys, **options) -> dict[str, FakeBackend]:
    siblings: list = []
    return {k: CappedFake(k, siblings, cap, **options) for k in keys}


async def test_at_the_cap_the_least_recently_used_idle_model_makes_room(governor):
    b = capped(2, "a", "b", "c")
    events = []
    async with make_pool(b, governor, max_loaded=2) as pool:
        await ask(pool, "a")
        await ask(pool, "b")
        await ask(pool, "a")                        # b is now the least recently used
        await ask(pool, "c", on_event=events.append)
        assert sorted(pool.resident()) == ["a", "c"]
        assert (b["b"].unloads, b["a"].unloads) == (1, 0)
        assert pool.stats().counters.unloads.evicted == 1
    assert [type(e) for e in events] == [ModelLoading, ModelUnloaded, ModelLoaded]
    assert (events[1].model, events[1].reason) == ("b", "evicted")


async def test_pinned_models_are_never_evicted_nor_idle_unloaded(governor):
    b = capped(2, "a", "b", "c")
    async with make_pool(b, governor, max_loaded=2, pinned=["a"], idle_ttl=0.02) as pool:
        await ask(pool, "a")                        # the least recently used, but pinned
        await ask(pool, "b")
        await ask(pool, "c")
        assert "a" in pool.resident() and b["b"].unloads == 1
        await until(lambda: pool.resident() == ["a"])   # c expires, a stays
        await asyncio.sleep(0.05)
        assert pool.resident() == ["a"] and pool.stats().models["a"].pinned


async def test_waits_at_the_cap_when_every_model_is_busy(governor):
    b = capped(1, "a", "b")
    async with make_pool(b, governor, max_loaded=1) as pool:
        release = asyncio.Event()

        async def hold_a():
            async with pool.use("a"):
                await release.wait()

        holder = asyncio.create_task(hold_a())
        await until(lambda: pool.resident() == ["a"])
        waiter = asyncio.create_task(ask(pool, "b"))
        await asyncio.sleep(0.05)
        assert not waiter.done() and b["b"].loads == 0 and b["a"].unloads == 0   # no failure, no excess
        release.set()
        assert await waiter == "b says: hello there"
        await holder
        assert pool.resident() == ["b"] and b["a"].unloads == 1


async def test_the_wait_at_the_cap_is_bounded_and_the_request_past_it_is_overloaded(governor):
    b = capped(1, "a", "b", "c")
    async with make_pool(b, governor, max_loaded=1, max_waiting=2) as pool:
        release = asyncio.Event()

        async def hold_a():
            async with pool.use("a"):
                await release.wait()

        for _ in range(2):                                  # the second round: the queue emptied
            release.clear()
            holder = asyncio.create_task(hold_a())
            await until(lambda: pool.resident() == ["a"] and pool.stats().models["a"].in_flight == 1)
            waiters = [asyncio.create_task(ask(pool, n)) for n in ("b", "c")]
            await asyncio.sleep(0.05)
            with pytest.raises(Overloaded) as e:            # the third waiter: refused at once
                await asyncio.wait_for(ask(pool, "b"), 1)
            assert e.value.limit == 2 and e.value.retryable
            release.set()
            assert sorted(await asyncio.gather(*waiters)) == ["b says: hello there", "c says: hello there"]
            await holder


async def test_busy_models_are_never_unloaded(governor):
    b = capped(2, "a", "b", "c", token_seconds=0.01)
    experts = [Expert("a", backend=b["a"], idle_ttl=0.02), Expert("b", backend=b["b"]), Expert("c", backend=b["c"])]
    async with ExpertPool(experts, governor=governor, max_loaded=2) as pool:
        async with pool.use("a") as backend:
            await asyncio.sleep(0.1)                # well past a's TTL
            assert backend.loaded and pool.stats().models["a"].in_flight == 1
            await ask(pool, "b")
            await ask(pool, "c")                    # at the cap: b is idle, a is busy
            assert backend.loaded and b["b"].unloads == 1 and b["a"].unloads == 0
        await until(lambda: pool.stats().counters.unloads.idle == 1)    # idle now: the TTL applies
        assert not b["a"].loaded and pool.resident() == ["c"]


async def test_a_load_cancelled_mid_swap_never_exceeds_the_cap(governor):
    b = capped(1, "a", "b", "c", unload_seconds=0.05)
    async with make_pool(b, governor, max_loaded=1) as pool:
        await ask(pool, "a")
        swap = asyncio.create_task(ask(pool, "b"))
        await until(lambda: pool.stats().models["a"].state == "unloading")
        swap.cancel()
        assert await ask(pool, "c") == "c says: hello there"    # waited for a to be out
        assert pool.resident() == ["c"] and b["b"].loads == 0


async def test_many_requests_across_models_never_exceed_the_cap(governor):
    b = capped(2, "a", "b", "c", "d", load_seconds=0.005, token_seconds=0.001)
    async with make_pool(b, governor, max_loaded=2) as pool:
        names = ["a", "b", "c", "d"] * 8
        answers = await asyncio.gather(*(ask(pool, n) for n in names))
        assert answers == [f"{n} says: hello there" for n in names]
        assert pool.stats().loaded <= 2


# ---------------------------------------------------------------- idle TTL


async def test_idle_models_unload_after_the_ttl(governor):
    b = fakes("a")
    async with make_pool(b, governor, idle_ttl=0.05) as pool:
        await ask(pool, "a")
        assert pool.resident() == ["a"]
        await until(lambda: pool.stats().counters.unloads.idle == 1)
        assert b["a"].unloads == 1 and pool.resident() == []
        await ask(pool, "a")                        # and it comes back on demand
        assert b["a"].loads == 2


async def test_an_experts_ttl_overrides_and_the_smallest_sharer_wins(governor):
    quick, slow = FakeBackend("quick"), FakeBackend("slow")
    experts = [Expert("q", backend=quick, idle_ttl=0.03), Expert("s", backend=slow),
               Expert("s2", backend=slow, idle_ttl=0.04)]
    async with ExpertPool(experts, governor=governor, idle_ttl=300) as pool:
        await ask(pool, "q")
        await ask(pool, "s")                        # "s" never set a TTL, but "s2" shares its model
        assert pool.stats().models["slow"].idle_ttl == 0.04
        await until(lambda: pool.resident() == [])


async def test_a_request_that_finds_its_model_unloading_waits_and_reloads(governor):
    b = capped(1, "a", unload_seconds=0.05)
    async with make_pool(b, governor, idle_ttl=0.01) as pool:
        await ask(pool, "a")
        await until(lambda: pool.stats().models["a"].state == "unloading")
        assert await ask(pool, "a") == "a says: hello there"
        assert (b["a"].loads, b["a"].unloads, b["a"].loaded) == (2, 1, True)


# ---------------------------------------------------------------- failures


async def test_a_failed_load_raises_and_the_next_request_retries(governor):
    b = fakes("a", fail="load", load_seconds=0.02)
    async with make_pool(b, governor) as pool:
        results = await asyncio.gather(*(ask(pool, "a") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, ModelLoadError) for r in results)
        assert b["a"].loads == 1                    # the waiters shared the failure, not retried it
        assert results[0].path == "a" and "load failed (fake)" in results[0].reason
        assert all(isinstance(r.__cause__, RuntimeError) for r in results)
        stats = pool.stats()
        assert (stats.models["a"].state, stats.loaded, stats.counters.load_failures) == ("unloaded", 0, 1)
        b["a"].fail = None
        assert await ask(pool, "a") == "a says: hello there"
        assert pool.resident() == ["a"] and pool.stats().counters.loads == 1


async def test_a_cancelled_load_leaves_the_pool_consistent(governor):
    b = fakes("a", load_seconds=0.2)
    async with make_pool(b, governor) as pool:
        first = asyncio.create_task(ask(pool, "a"))
        await until(lambda: pool.stats().models["a"].state == "loading")
        second = asyncio.create_task(ask(pool, "a"))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == "a says: hello there"    # the waiter loaded it itself
        assert pool.stats().counters.load_failures == 0 and pool.resident() == ["a"]


@pytest.mark.parametrize("failing", [ModelLoading, ModelLoaded])
async def test_a_failing_event_callback_does_not_leak_a_request(governor, failing):
    def boom(event):
        if isinstance(event, failing):
            raise ValueError("callback failed")

    async with make_pool(fakes("a"), governor, idle_ttl=0.02) as pool:
        with pytest.raises(ValueError):
            await ask(pool, "a", on_event=boom)
        stats = pool.stats()
        assert stats.models["a"].in_flight == 0 and stats.counters.load_failures == 0
        await until(lambda: pool.stats().models["a"].state == "unloaded")   # idle: the TTL applies
        assert await ask(pool, "a") == "a says: hello there"


# ---------------------------------------------------------------- the governor


def test_pool_without_a_governor_makes_a_default_one():
    assert isinstance(make_pool(fakes("a"), None).governor, MemoryGovernor)


async def test_governor_refuses_when_busy_models_hold_the_budget(system):
    gov = MemoryGovernor(root=system.root, budget_bytes=150 * MIB)
    b = fakes("a", "b", nbytes=100 * MIB)
    async with make_pool(b, gov) as pool:
        async with pool.use("a"):
            with pytest.raises(MemoryBudgetExceeded) as err:
                await ask(pool, "b")
            assert err.value.retryable and err.value.model == "b"
            assert (err.value.needed, err.value.available, err.value.budget) == (100 * MIB, 50 * MIB, 150 * MIB)
        stats = pool.stats()
        assert (stats.counters.refusals, stats.models["b"].state, stats.governor.decisions.refuse) == (1, "unloaded", 1)


async def test_governor_refuses_what_can_never_fit(system):
    gov = MemoryGovernor(root=system.root, budget_bytes=150 * MIB)
    b = {"huge": FakeBackend("huge", nbytes=GIB)}
    async with make_pool(b, gov) as pool:
        with pytest.raises(MemoryBudgetExceeded, match="can never fit") as err:
            await ask(pool, "huge")
        assert not err.value.retryable and b["huge"].loads == 0


async def test_governor_evicts_idle_models_to_admit(system):
    gov = MemoryGovernor(root=system.root, budget_bytes=250 * MIB)
    b = fakes("a", "b", "c", nbytes=100 * MIB)
    events = []
    async with make_pool(b, gov, max_loaded=5) as pool:
        await ask(pool, "a")
        await ask(pool, "b")
        await ask(pool, "c", on_event=events.append)   # 300 MiB > 250: a (LRU, idle) goes
        assert sorted(pool.resident()) == ["b", "c"]
        assert pool.stats().counters.unloads.memory == 1
    assert ModelUnloaded(model="a", reason="memory") in events


async def test_the_watch_unloads_idle_models_under_memory_pressure(system, governor):
    b = fakes("a", "b", nbytes=100 * MIB)
    async with make_pool(b, governor) as pool:
        await ask(pool, "a")
        await ask(pool, "b")
        async with pool.use("b"):
            system.set(mem_available=GIB)            # 63 of 64 GiB used: over 90%
            await until(lambda: pool.stats().counters.unloads.memory == 1)
            system.set(mem_available=64 * GIB)
            assert pool.resident() == ["b"]                 # the idle one went; the busy one stays
        assert pool.stats().governor.pressure_events >= 1


class CachingFake(FakeBackend):
    """A FakeBackend that also keeps ``cached`` bytes of KV for prefix reuse, as the native engine
    does, and hands them back through trim_cache."""

    def __init__(self, key, cached, **kw):
        super().__init__(key, **kw)
        self.cached, self.trims = cached, []

    def trim_cache(self, nbytes: int) -> int:
        freed = min(nbytes, self.cached)
        self.cached -= freed
        self.trims.append(nbytes)
        return freed


async def test_memory_pressure_takes_the_prefix_caches_before_any_model(governor):
    a, b = CachingFake("a", 200 * MIB), CachingFake("b", 200 * MIB)
    async with make_pool({"a": a, "b": b}, governor) as pool:
        await ask(pool, "a")
        await ask(pool, "b")
        assert await pool._relieve(300 * MIB) >= 300 * MIB      # the caches had enough
        assert a.cached + b.cached == 100 * MIB and sorted(pool.resident()) == ["a", "b"]
        assert await pool._relieve(300 * MIB) >= 300 * MIB      # they do not: idle models go too
        assert a.cached == b.cached == 0 and pool.stats().counters.unloads.memory >= 1


async def test_load_growth_is_measured_and_recorded(system, governor):
    class Growing(FakeBackend):
        async def load(self):
            await super().load()
            system.set(rss=system.rss + 300 * MIB)   # what the fake's load really took

    b = {"a": Growing("a", nbytes=100 * MIB)}
    async with make_pool(b, governor) as pool:
        await ask(pool, "a")
        model = pool.stats().models["a"]
        assert model.measured_bytes == pytest.approx(300 * MIB, abs=8192)
        assert model.estimate_bytes == model.measured_bytes          # corrected upwards
        assert governor.snapshot().corrections["a"] == model.measured_bytes


async def test_fits_together(system):
    gov = MemoryGovernor(root=system.root, budget_bytes=250 * MIB)
    b = fakes("a", "b", "c", nbytes=100 * MIB)
    pool = ExpertPool([Expert(k, backend=f) for k, f in b.items()] + [Expert("a2", backend=b["a"])],
                      governor=gov, max_loaded=2)
    async with pool:
        assert pool.fits_together(["a", "b"]) and pool.fits_together(["a", "a2", "b"])
        assert not pool.fits_together(["a", "b", "c"])       # three models, max_loaded=2
        await ask(pool, "c")
        assert pool.fits_together(["a", "b"])                # c is idle: it would go
    big = ExpertPool([Expert("x", backend=FakeBackend("x", nbytes=200 * MIB)),
                      Expert("y", backend=FakeBackend("y", nbytes=200 * MIB))], governor=gov)
    assert big.fits_together(["x"]) and not big.fits_together(["x", "y"])   # over the budget together


async def test_the_pool_sizes_the_kernel_threads_to_the_cpus_it_may_use(tmp_path):
    FakeSystem(tmp_path, version="v2", cpu=(100000, 100000))
    before = K.get_threads()
    try:
        async with make_pool(fakes("a"), MemoryGovernor(root=tmp_path)) as pool:
            assert pool.threads == 1 == K.get_threads() == pool.stats().threads
    finally:
        K.set_threads(before)


# ---------------------------------------------------------------- stats and closing


async def test_stats_describe_each_model(governor):
    b = fakes("a", "b", nbytes=42 * MIB)
    async with make_pool(b, governor, idle_ttl=60) as pool:
        async with pool.use("a"):
            stats = pool.stats()
            assert isinstance(stats, PoolStats)
            a, cold = stats.models["a"], stats.models["b"]
            assert (a.state, a.in_flight, a.estimate_bytes, a.experts, a.idle_ttl) == ("loaded", 1, 42 * MIB, ["a"], 60)
            assert a.last_used is not None and a.load_seconds is not None
            assert (cold.state, cold.in_flight, cold.last_used) == ("unloaded", 0, None)
            assert stats.loaded == 1 and stats.max_loaded == 5
            assert stats.governor.source == "physical"
        assert pool.stats().models["a"].in_flight == 0


async def test_closing_unloads_everything_and_stops_the_tasks(governor):
    b = fakes("a", "b")
    pool = make_pool(b, governor)
    async with pool:
        async with pool:                            # nested opens share one lifetime
            await ask(pool, "a")
            await ask(pool, "b")
        assert sorted(pool.resident()) == ["a", "b"]
    assert not any(f.loaded for f in b.values()) and pool.resident() == []
    assert pool.stats().counters.unloads.closed == 2
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("livemind")] == []
    with pytest.raises(Cancelled):
        async with pool.use("a"):
            pass
    async with pool:                                # and it opens again
        assert await ask(pool, "a") == "a says: hello there"
