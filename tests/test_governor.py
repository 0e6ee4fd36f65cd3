"""MemoryGovernor on fake /proc and /sys trees: the budget from cgroup v1, v2, none and from
configured bytes; admit / evict-then-admit / refuse; corrections after a load; CPUs; the watch."""

from __future__ import annotations

import asyncio
import os

import pytest
from fake_system import GIB, MIB, FakeSystem

from livemind.errors import MemoryBudgetExceeded
from livemind.governor import Decision, GovernorSnapshot, MemoryGovernor

pytestmark = pytest.mark.timeout(10)
AFFINITY = len(os.sched_getaffinity(0))


def governor(tmp_path, **system) -> tuple[MemoryGovernor, FakeSystem]:
    options = {k: system.pop(k) for k in ("max_ram_fraction", "budget_bytes", "poll_interval") if k in system}
    fake = FakeSystem(tmp_path, **system)
    return MemoryGovernor(root=tmp_path, **options), fake


# ---------------------------------------------------------------- the budget


def test_no_cgroup_uses_physical_ram(tmp_path):
    gov, _ = governor(tmp_path, mem_total=16 * GIB, mem_available=10 * GIB)
    snap = gov.snapshot()
    assert (snap.source, snap.limit, snap.usage) == ("physical", 16 * GIB, 6 * GIB)
    assert gov.budget == snap.budget == int(16 * GIB * 0.9)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cgroup_limit_is_the_budget_base(tmp_path, version):
    gov, _ = governor(tmp_path, version=version, mem_total=64 * GIB, limit=4 * GIB, usage=1 * GIB,
                      max_ram_fraction=0.5)
    snap = gov.snapshot()
    assert snap.source == f"cgroup {version}"
    assert (snap.limit, snap.usage, snap.budget) == (4 * GIB, 1 * GIB, 2 * GIB)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_unlimited_cgroup_falls_back_to_physical(tmp_path, version):
    gov, _ = governor(tmp_path, version=version, mem_total=8 * GIB, mem_available=6 * GIB, limit=None)
    snap = gov.snapshot()
    assert (snap.source, snap.limit, snap.usage) == ("physical", 8 * GIB, 2 * GIB)


def test_cgroup_limit_above_ram_is_no_limit(tmp_path):
    gov, _ = governor(tmp_path, version="v2", mem_total=8 * GIB, limit=32 * GIB)
    assert gov.snapshot().source == "physical"


def test_limit_of_a_parent_cgroup_binds(tmp_path):
    gov, fake = governor(tmp_path, version="v2", mem_total=64 * GIB, path="/outer/inner", limit=None)
    (tmp_path / "sys/fs/cgroup/outer/memory.max").write_text(f"{3 * GIB}\n")
    (tmp_path / "sys/fs/cgroup/outer/memory.current").write_text(f"{GIB}\n")
    assert (gov.limit, gov.snapshot().usage, gov.snapshot().source) == (3 * GIB, GIB, "cgroup v2")


def test_container_sees_its_cgroup_at_the_mount(tmp_path):
    """Inside a container /proc/self/cgroup can name a path the mount does not have."""
    gov, _ = governor(tmp_path, version="v2", mem_total=64 * GIB, limit=2 * GIB)
    (tmp_path / "proc/self/cgroup").write_text("0::/not/here\n")
    (tmp_path / "sys/fs/cgroup/memory.max").write_text(f"{5 * GIB}\n")
    (tmp_path / "sys/fs/cgroup/memory.current").write_text("0\n")
    assert gov.limit == 5 * GIB


def test_configured_bytes_cap_the_budget(tmp_path):
    gov, _ = governor(tmp_path, mem_total=16 * GIB, budget_bytes=1 * GIB)
    assert gov.budget == gov.snapshot().budget == 1 * GIB
    assert gov.snapshot().configured == 1 * GIB
    big, _ = governor(tmp_path, mem_total=16 * GIB, budget_bytes=100 * GIB)
    assert big.budget == int(16 * GIB * 0.9)     # the smallest of the two


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_ram_fraction"):
        MemoryGovernor(max_ram_fraction=1.5)
    with pytest.raises(ValueError, match="budget_bytes"):
        MemoryGovernor(budget_bytes=0)


def test_real_machine_reads(tmp_path):
    gov = MemoryGovernor()
    snap = gov.snapshot()
    assert isinstance(snap, GovernorSnapshot)
    assert 0 < snap.usage < snap.limit and snap.budget == int(snap.limit * 0.9)
    assert snap.process > 10 * MIB and gov.footprint() > 0
    assert 1 <= snap.cpus <= AFFINITY


# ---------------------------------------------------------------- decisions


def test_admits_what_fits(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=1000 * MIB)
    d = gov.decide("c", 300 * MIB, loaded={"a": 300 * MIB}, idle=["a"])
    assert isinstance(d, Decision)
    assert (d.action, d.evict, d.needed, d.available, d.budget) == ("admit", [], 300 * MIB, 700 * MIB, 1000 * MIB)


def test_evicts_the_least_recently_used_idle_models_that_make_room(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=1000 * MIB)
    loaded = {"a": 300 * MIB, "b": 300 * MIB, "c": 300 * MIB}
    d = gov.decide("d", 200 * MIB, loaded=loaded, idle=["b", "a"])      # b is the least recently used
    assert (d.action, d.evict) == ("evict", ["b"])
    d = gov.decide("d", 500 * MIB, loaded=loaded, idle=["b", "a"])
    assert (d.action, d.evict) == ("evict", ["b", "a"])
    assert "frees" in d.reason


def test_refuses_when_idle_models_cannot_free_enough_retryable(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=1000 * MIB)
    d = gov.decide("d", 500 * MIB, loaded={"a": 300 * MIB, "b": 300 * MIB, "c": 300 * MIB}, idle=["a"])
    assert (d.action, d.retryable, d.available) == ("refuse", True, 100 * MIB)
    err = d.error()
    assert isinstance(err, MemoryBudgetExceeded) and err.retryable and err.model == "d"
    assert (err.needed, err.available, err.budget) == (500 * MIB, 100 * MIB, 1000 * MIB)


def test_refuses_what_can_never_fit_not_retryable(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=1000 * MIB)
    d = gov.decide("huge", 2000 * MIB, loaded={}, idle=[])
    assert (d.action, d.retryable) == ("refuse", False)
    assert "never fit" in str(d.error())


def test_ram_threshold_counts_other_processes(tmp_path):
    """On physical RAM, what others use is not ours to give: 10 GiB of 16 used, 90% threshold."""
    gov, fake = governor(tmp_path, mem_total=16 * GIB, mem_available=6 * GIB)
    free = int(16 * GIB * 0.9) - 10 * GIB
    assert gov.decide("a", free - MIB, loaded={}).action == "admit"
    assert gov.decide("a", free + MIB, loaded={}).action == "refuse"
    # a loaded model counts at its estimate even before its pages are touched
    assert gov.decide("b", free - MIB, loaded={"a": 2 * GIB}).action == "refuse"
    assert gov.decide("b", free - MIB, loaded={"a": 2 * GIB}, idle=["a"]).evict == ["a"]


def test_cgroup_usage_counts(tmp_path):
    gov, fake = governor(tmp_path, version="v1", mem_total=64 * GIB, limit=2 * GIB, usage=GIB, max_ram_fraction=1.0)
    assert gov.decide("a", GIB - MIB, loaded={}).action == "admit"
    fake.set(usage=GIB + 512 * MIB)
    assert gov.decide("a", GIB - MIB, loaded={}).action == "refuse"


def test_counters_count_each_action(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=100 * MIB)
    gov.decide("a", 50 * MIB, loaded={})
    gov.decide("b", 80 * MIB, loaded={"a": 50 * MIB}, idle=["a"])
    gov.decide("c", 500 * MIB, loaded={})
    assert gov.would_fit(10 * MIB, loaded={})        # a question, not counted
    assert gov.snapshot().decisions.model_dump() == {"admit": 1, "evict": 1, "refuse": 1}


def test_record_corrects_the_next_estimate(tmp_path):
    gov, _ = governor(tmp_path, budget_bytes=1000 * MIB)
    assert gov.estimate("a", 300 * MIB) == 300 * MIB
    gov.record("a", 300 * MIB, 600 * MIB)                 # it took twice what it said
    assert gov.estimate("a", 300 * MIB) == 600 * MIB
    assert gov.estimate("b", 300 * MIB) == 300 * MIB      # per model
    d = gov.decide("a", 300 * MIB, loaded={"b": 500 * MIB})
    assert (d.action, d.needed) == ("refuse", 600 * MIB)
    assert gov.snapshot().corrections == {"a": 600 * MIB}
    gov.record("a", 300 * MIB, 50 * MIB)                  # lazily mapped pages: never trust less
    assert gov.estimate("a", 300 * MIB) == 300 * MIB


def test_footprint_is_rss_without_a_cgroup_and_usage_with_one(tmp_path):
    gov, fake = governor(tmp_path, rss=200 * MIB)
    page = os.sysconf("SC_PAGE_SIZE")
    assert gov.footprint() == (200 * MIB // page) * page
    fake.set(rss=300 * MIB)
    assert gov.footprint() == (300 * MIB // page) * page
    v2, _ = governor(tmp_path / "v2", version="v2", limit=GIB, usage=123 * MIB)
    assert v2.footprint() == 123 * MIB


# ---------------------------------------------------------------- cores


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cpus_from_the_cgroup_quota(tmp_path, version):
    gov, fake = governor(tmp_path, version=version, cpu=(100000, 100000))
    assert gov.cpus == 1
    fake.set(cpu=(150000, 100000))                  # 1.5 CPUs: a second thread would be throttled
    assert gov.cpus == 1
    fake.set(cpu=(6400000, 100000))                 # more quota than cores: the cores bind
    assert gov.cpus == AFFINITY


@pytest.mark.parametrize("version", [None, "v1", "v2"])
def test_cpus_from_affinity_without_a_quota(tmp_path, version):
    gov, _ = governor(tmp_path, version=version)
    assert gov.cpus == AFFINITY == gov.snapshot().cpus


# ---------------------------------------------------------------- the watch


def test_watch_asks_for_relief_above_the_threshold(tmp_path):
    gov, fake = governor(tmp_path, mem_total=10 * GIB, mem_available=5 * GIB, poll_interval=0.01)
    asked: list[int] = []

    async def relieve(over: int) -> int:
        asked.append(over)
        fake.set(mem_available=5 * GIB)             # the pool unloaded something
        return over

    async def main():
        gov.start(relieve)
        with pytest.raises(RuntimeError, match="already watching"):
            gov.start(relieve)
        await asyncio.sleep(0.05)
        assert asked == []                          # 50% used: nothing to do
        fake.set(mem_available=GIB // 2)            # 95% used
        for _ in range(100):
            if asked:
                break
            await asyncio.sleep(0.01)
        await gov.stop()

    asyncio.run(main())
    assert asked == [int(9.5 * GIB) - int(10 * GIB * 0.9)]
    assert gov.snapshot().pressure_events == 1
