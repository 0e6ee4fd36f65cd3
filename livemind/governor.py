"""MemoryGovernor: how much memory and how many cores LiveMind may use, and whether a model may
load now.

The budget is the smallest of a configured number of bytes and ``max_ram_fraction`` of the
memory this process may use: its cgroup's limit when it has one (v2 ``memory.max``, v1
``memory.limit_in_bytes``), the machine's RAM otherwise. Before each load the pool asks
:meth:`MemoryGovernor.decide`: admit, evict idle models first, or refuse. A background watch
evicts idle models when usage crosses the threshold anyway (other processes grow too).

>>> gov = MemoryGovernor(max_ram_fraction=0.9)
>>> gov.snapshot().source in ("cgroup v2", "cgroup v1", "physical")
True
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livemind.errors import MemoryBudgetExceeded

log = logging.getLogger("livemind.governor")

_MIB = 1 << 20
Source = Literal["cgroup v2", "cgroup v1", "physical"]


class Decision(BaseModel):
    """The governor's answer for one load. ``evict`` lists the idle models to unload first (LRU
    order) when ``action`` is "evict"; ``needed``, ``available`` and ``budget`` are bytes."""

    model_config = ConfigDict(frozen=True)

    action: Literal["admit", "evict", "refuse"]
    model: str
    evict: list[str] = Field(default_factory=list)
    reason: str = ""
    needed: int
    available: int
    budget: int
    retryable: bool = True          # for "refuse": False when the model is bigger than the budget

    def error(self) -> MemoryBudgetExceeded:
        """The error a refusal raises."""
        return MemoryBudgetExceeded(self.model, needed=self.needed, available=self.available, budget=self.budget,
                                    retryable=self.retryable, reason=self.reason)


class DecisionCounts(BaseModel):
    """How many loads the governor admitted, admitted after evicting, and refused."""

    model_config = ConfigDict(frozen=True)

    admit: int = 0
    evict: int = 0
    refuse: int = 0


class GovernorSnapshot(BaseModel):
    """What the governor sees now. Bytes throughout.

    ``limit`` is the memory this process may use (``source`` says where the figure comes from);
    ``threshold`` is ``fraction`` of it; ``budget`` the smaller of that and ``configured``.
    ``usage`` is the cgroup's usage (or the machine's used RAM), ``process`` this process's
    resident set. ``corrections`` holds, per model, the growth measured at its last load.
    """

    model_config = ConfigDict(frozen=True)

    source: Source
    limit: int
    fraction: float
    threshold: int
    configured: int | None
    budget: int
    usage: int
    process: int | None
    cpus: int
    decisions: DecisionCounts
    corrections: dict[str, int]
    pressure_events: int


@dataclass(frozen=True)
class _Memory:
    limit: int
    usage: int
    source: Source


class MemoryGovernor:
    """Keeps LiveMind inside the machine's memory and cores.

    ``max_ram_fraction`` of the memory this process may use is the threshold (the origin
    system's 90%); ``budget_bytes`` caps the bytes LiveMind's models may take in all;
    ``poll_interval`` is how often the watch reads usage. ``root`` is where ``/proc`` and
    ``/sys`` are found (tests point it at a fake tree).

    >>> MemoryGovernor(budget_bytes=2 << 30).budget <= 2 << 30
    True
    """

    def __init__(self, *, max_ram_fraction: float = 0.90, budget_bytes: int | None = None,
                 poll_interval: float = 1.0, root: str | Path = "/"):
        if not 0 < max_ram_fraction <= 1:
            raise ValueError(f"max_ram_fraction must be in (0, 1], got {max_ram_fraction!r}")
        if budget_bytes is not None and budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be positive, got {budget_bytes!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.max_ram_fraction, self.budget_bytes, self.poll_interval = max_ram_fraction, budget_bytes, poll_interval
        self.root = Path(root)
        self._observed: dict[str, int] = {}      # key -> growth measured at its last load
        self._baseline: int | None = None         # usage with none of our models loaded
        self._counts = {"admit": 0, "evict": 0, "refuse": 0}
        self._pressure_events = 0
        self._watch: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"MemoryGovernor(max_ram_fraction={self.max_ram_fraction}, budget_bytes={self.budget_bytes})"

    # ------------------------------------------------------------------ reading the machine

    def _read(self, path: Path) -> str | None:
        try:
            return path.read_text()
        except OSError:
            return None

    def _cgroup_dirs(self, controller: str) -> tuple[int, list[Path]] | None:
        """The cgroup version holding ``controller`` for this process and its directories, the
        process's own first, then each ancestor up to the mount (a limit anywhere above binds)."""
        text = self._read(self.root / "proc" / "self" / "cgroup")
        if not text:
            return None
        fs = self.root / "sys" / "fs" / "cgroup"
        unified = None
        for line in text.splitlines():
            hid, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if hid == "0" and controllers == "":
                unified = path
            elif controller in controllers.split(","):
                for mount in (fs / controllers, fs / controller):
                    if mount.is_dir():
                        return 1, _chain(mount, path)
                return None
        if unified is not None:
            for mount in (fs, fs / "unified"):
                listed = self._read(mount / "cgroup.controllers")
                if listed is not None and controller in listed.split():
                    return 2, _chain(mount, unified)
        return None

    def _meminfo(self) -> tuple[int, int]:
        """(MemTotal, MemAvailable) in bytes."""
        fields = {}
        for line in (self._read(self.root / "proc" / "meminfo") or "").splitlines():
            name, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                fields[name] = int(parts[0]) * 1024
        if "MemTotal" not in fields:   # no /proc: ask libc
            page = os.sysconf("SC_PAGE_SIZE")
            return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
        available = fields.get("MemAvailable",
                                fields.get("MemFree", 0) + fields.get("Buffers", 0) + fields.get("Cached", 0))
        return fields["MemTotal"], available

    def _memory(self) -> _Memory:
        total, available = self._meminfo()
        found = self._cgroup_dirs("memory")
        if found is not None:
            version, dirs = found
            names = ("memory.max", "memory.current") if version == 2 else ("memory.limit_in_bytes",
                                                                            "memory.usage_in_bytes")
            best = None
            for d in dirs:
                limit, usage = _int_or_none(self._read(d / names[0])), _int_or_none(self._read(d / names[1]))
                # "max", or a figure at least the machine's RAM, is no limit
                if limit is not None and usage is not None and limit < total and (best is None or limit < best[0]):
                    best = (limit, usage)
            if best is not None:
                return _Memory(best[0], best[1], "cgroup v2" if version == 2 else "cgroup v1")
        return _Memory(total, total - available, "physical")

    def _process_rss(self) -> int | None:
        statm = self._read(self.root / "proc" / "self" / "statm")
        try:
            return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE") if statm else None
        except (IndexError, ValueError):
            return None

    def footprint(self) -> int | None:
        """What a load is measured against: the cgroup's usage when it is limited, this
        process's resident set otherwise. The pool reads it before and after a load."""
        mem = self._memory()
        return mem.usage if mem.source != "physical" else self._process_rss()

    @property
    def cpus(self) -> int:
        """CPUs this process may use: the cgroup's CPU quota (rounded down: a thread beyond the
        quota only gets throttled), capped by the affinity mask."""
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count() or 1
        quota = self._cpu_quota()
        return n if quota is None else max(1, min(n, math.floor(quota)))

    def _cpu_quota(self) -> float | None:
        found = self._cgroup_dirs("cpu")
        if found is None:
            return None
        version, dirs = found
        best = None
        for d in dirs:
            if version == 2:
                quota, _, period = (self._read(d / "cpu.max") or "").strip().partition(" ")
            else:
                quota, period = self._read(d / "cpu.cfs_quota_us"), self._read(d / "cpu.cfs_period_us")
            q, p = _int_or_none(quota), _int_or_none(period)
            if q is not None and q > 0 and p:
                best = q / p if best is None else min(best, q / p)
        return best

    @property
    def limit(self) -> int:
        """Bytes this process may use: the cgroup limit, or the machine's RAM."""
        return self._memory().limit

    @property
    def budget(self) -> int:
        """The smaller of ``budget_bytes`` and ``max_ram_fraction`` of :attr:`limit`."""
        return self._budget(self._memory())

    def _budget(self, mem: _Memory) -> int:
        threshold = int(mem.limit * self.max_ram_fraction)
        return threshold if self.budget_bytes is None else min(threshold, self.budget_bytes)

    # ------------------------------------------------------------------ decisions

    def estimate(self, key: str, estimate_bytes: int) -> int:
        """``estimate_bytes`` corrected by what loading ``key`` was measured to take. A
        correction only raises an estimate: mapped weights and the KV cache are committed as
        they are touched, so growth measured just after a load can understate the model."""
        return max(estimate_bytes, self._observed.get(key, 0))

    def record(self, key: str, estimate: int, actual_growth: int) -> None:
        """Tells the governor that loading ``key`` (estimated at ``estimate`` bytes) grew this
        process (or its cgroup) by ``actual_growth`` bytes."""
        self._observed[key] = max(0, int(actual_growth))
        if actual_growth > estimate:
            log.info("%s: measured %d MiB, estimated %d MiB; estimates will use the measurement",
                     key, actual_growth // _MIB, estimate // _MIB)

    def _available(self, loaded: Mapping[str, int]) -> tuple[int, int]:
        """(bytes free for one more model, budget). Two limits hold at once: the models' bytes
        stay under ``budget_bytes``, and the memory in use, counting the loaded models at their
        estimates (their pages are committed lazily), stays under the RAM threshold."""
        mem = self._memory()
        charged = sum(loaded.values())
        if not loaded or self._baseline is None:
            self._baseline = mem.usage            # what is not ours (refreshed whenever we hold nothing)
        threshold = int(mem.limit * self.max_ram_fraction)
        free = threshold - max(mem.usage, self._baseline + charged)
        if self.budget_bytes is not None:
            free = min(free, self.budget_bytes - charged)
        return free, self._budget(mem)

    def _evaluate(self, key: str, estimate_bytes: int, loaded: Mapping[str, int], idle: Iterable[str]) -> Decision:
        needed = self.estimate(key, estimate_bytes)
        free, budget = self._available(loaded)
        figures = dict(model=key, needed=needed, available=max(0, free), budget=budget)
        if needed <= free:
            return Decision(action="admit", reason=f"fits: {needed // _MIB} MiB of {free // _MIB} MiB free",
                            **figures)
        if needed > budget:
            return Decision(action="refuse", retryable=False, reason="can never fit: bigger than the whole budget",
                            **figures)
        evict, freed = [], 0
        for k in idle:
            if k in loaded and k != key:
                evict.append(k)
                freed += loaded[k]
                if needed <= free + freed:
                    return Decision(action="evict", evict=evict,
                                    reason=f"unloading {len(evict)} idle model(s) frees {freed // _MIB} MiB", **figures)
        return Decision(action="refuse", retryable=True,
                        reason=f"idle models free only {freed // _MIB} MiB; wait for busy ones to finish", **figures)

    def decide(self, key: str, estimate_bytes: int, *, loaded: Mapping[str, int], idle: Iterable[str] = ()) -> Decision:
        """Whether ``key`` (``estimate_bytes``, corrected by past loads) may load now.

        ``loaded`` maps each model in memory (or loading) to its bytes; ``idle`` lists the ones
        that may be unloaded, least recently used first. Admit when it fits the free budget;
        evict the shortest LRU run of idle models that makes room; refuse otherwise.

        >>> g = MemoryGovernor(budget_bytes=300 << 20)
        >>> g.decide("c", 150 << 20, loaded={"a": 100 << 20, "b": 100 << 20}, idle=["b", "a"]).evict
        ['b']
        """
        decision = self._evaluate(key, estimate_bytes, loaded, list(idle))
        self._counts[decision.action] += 1
        log.debug("%s: %s (%s)", key, decision.action, decision.reason)
        return decision

    def would_fit(self, estimate_bytes: int, *, loaded: Mapping[str, int], idle: Iterable[str] = ()) -> bool:
        """Whether ``estimate_bytes`` more could be admitted, evicting ``idle`` models if need be.
        A question only: nothing is counted or corrected."""
        return self._evaluate("", estimate_bytes, loaded, list(idle)).action != "refuse"

    def pressure(self) -> int:
        """Bytes of usage above the RAM threshold (0 or less: none)."""
        mem = self._memory()
        return mem.usage - int(mem.limit * self.max_ram_fraction)

    # ------------------------------------------------------------------ the watch

    def start(self, relieve: Callable[[int], Awaitable[object]]) -> None:
        """Starts the watch: every ``poll_interval`` seconds, when usage is above the threshold,
        awaits ``relieve(bytes_over)`` (the pool unloads idle models). Call from a running loop."""
        if self._watch is not None and not self._watch.done():
            raise RuntimeError("this governor is already watching a pool")
        self._watch = asyncio.get_running_loop().create_task(self._run_watch(relieve), name="livemind-governor")

    async def stop(self) -> None:
        """Stops the watch and waits for it to end."""
        task, self._watch = self._watch, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run_watch(self, relieve: Callable[[int], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                over = self.pressure()
                if over > 0:
                    self._pressure_events += 1
                    log.warning("memory usage is %d MiB over the threshold; unloading idle models", over // _MIB)
                    await relieve(over)
            except Exception:   # the watch must outlive a bad read or a failed unload
                log.exception("memory watch failed; it keeps watching")

    def snapshot(self) -> GovernorSnapshot:
        """The figures now, typed."""
        mem = self._memory()
        return GovernorSnapshot(source=mem.source, limit=mem.limit, fraction=self.max_ram_fraction,
                                threshold=int(mem.limit * self.max_ram_fraction), configured=self.budget_bytes,
                                budget=self._budget(mem), usage=mem.usage, process=self._process_rss(),
                                cpus=self.cpus, decisions=DecisionCounts(**self._counts),
                                corrections=dict(self._observed), pressure_events=self._pressure_events)


def _chain(mount: Path, path: str) -> list[Path]:
    """``mount/path`` and its ancestors up to ``mount``. When the process's path does not exist
    under the mount (a container sees its own cgroup as the root), the mount alone."""
    own = mount / path.strip("/")
    if not own.is_dir():
        return [mount]
    dirs = [own]
    while dirs[-1] != mount:
        dirs.append(dirs[-1].parent)
    return dirs


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:      # "max"
        return None
