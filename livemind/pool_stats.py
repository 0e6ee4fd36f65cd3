"""The typed snapshot :meth:`ExpertPool.stats` returns.

>>> print(pool.stats().models)          # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from livemind.engine.prefix import PrefixStats
from livemind.governor import GovernorSnapshot


class ModelStats(BaseModel):
    """One model in the pool. ``estimate_bytes`` is what the governor counts for it (the
    backend's estimate, raised by measurement; None until known), ``measured_bytes`` the growth
    measured at its last load (None when not loaded or not measurable). ``idle_seconds`` is the
    time since its last use ended or began. ``in_flight`` counts the pool's leases of the model,
    ``generating`` the generations its backend holds (for the native engine: sequences in a KV
    slot or waiting for one); both are 0 once every request on it has ended or been cancelled.
    ``healthy`` is False for a loaded model whose engine died (it reloads on its next request).
    ``prefix_cache``: its prefix cache's counters since it loaded
    (:class:`livemind.engine.prefix.PrefixStats`), None where the backend has none (or it is off,
    or the model is not loaded)."""

    model_config = ConfigDict(frozen=True)

    key: str
    state: Literal["unloaded", "loading", "loaded", "unloading"]
    experts: list[str]
    pinned: bool
    idle_ttl: float
    estimate_bytes: int | None
    measured_bytes: int | None
    load_seconds: float | None
    last_used: datetime | None
    idle_seconds: float | None
    in_flight: int
    generating: int = 0
    healthy: bool = True
    prefix_cache: PrefixStats | None = None


class UnloadCounts(BaseModel):
    """Unloads by reason: ``idle`` (TTL), ``evicted`` (room for another model at the cap),
    ``memory`` (the governor: budget or memory pressure), ``closed`` (the pool closed),
    ``unhealthy`` (its engine died; it reloads on the next request)."""

    model_config = ConfigDict(frozen=True)

    idle: int = 0
    evicted: int = 0
    memory: int = 0
    unhealthy: int = 0
    closed: int = 0


class PoolCounters(BaseModel):
    """Since the pool was made. A ``hit`` found its model loaded; a ``miss`` did not (it loaded
    it, or waited for a load in progress); ``loads`` counts loads that succeeded,
    ``load_failures`` those that did not, ``refusals`` the governor's."""

    model_config = ConfigDict(frozen=True)

    loads: int = 0
    load_failures: int = 0
    hits: int = 0
    misses: int = 0
    refusals: int = 0
    unloads: UnloadCounts = UnloadCounts()


class PoolStats(BaseModel):
    """What :meth:`ExpertPool.stats` returns: ``models`` by key, ``loaded`` (resident now, at
    most ``max_loaded``), the kernel ``threads`` the pool set, the counters and the governor's
    figures."""

    model_config = ConfigDict(frozen=True)

    max_loaded: int
    loaded: int
    threads: int | None
    models: dict[str, ModelStats]
    counters: PoolCounters
    governor: GovernorSnapshot
