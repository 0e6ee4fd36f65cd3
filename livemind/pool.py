"""ExpertPool: which models are in memory. Models load on first use (or at start, for ``warm``
experts), experts on the same model share one loaded copy, at most ``max_loaded`` are resident
(the least recently used idle one makes room), idle ones unload after ``idle_ttl`` seconds, and
the :class:`~livemind.governor.MemoryGovernor` has the last word before every load.

>>> pool = ExpertPool([Expert("general", model="smollm2-135m-instruct")])   # doctest: +SKIP
>>> async with pool:                                                         # doctest: +SKIP
...     async with pool.use("general") as backend:
...         async for delta in backend.stream(GenerationRequest(prompt="Hi", max_tokens=8)):
...             print(delta.text, end="")
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from livemind import kernels
from livemind.backends.base import Backend
from livemind.errors import Cancelled, LiveMindError, ModelLoadError, Overloaded, UnknownExpert
from livemind.events import ModelLoaded, ModelLoading, ModelUnloaded
from livemind.experts import Expert
from livemind.governor import MemoryGovernor
from livemind.pool_stats import ModelStats, PoolCounters, PoolStats, UnloadCounts

log = logging.getLogger("livemind.pool")


class _Signal:
    """Wakes every waiter when the pool's state changes. Checks and changes of state are
    synchronous steps on the event loop, so a waiter that checked and then waits cannot miss
    the change that follows its check."""

    def __init__(self):
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def wait(self):
        return self._event.wait()


@dataclass(eq=False)
class _Slot:
    """One loadable model and the experts that share it."""

    key: str
    backend: Backend
    experts: list[str] = field(default_factory=list)
    ttl: float = math.inf
    pinned: bool = False
    state: str = "unloaded"          # unloaded → loading → loaded → unloading → unloaded
    room: bool = False               # holds one of the max_loaded places
    raw: int | None = None           # the backend's estimate in bytes (0: not this process's memory)
    local: bool = True
    measured: int | None = None      # growth measured at the last load
    load_seconds: float | None = None
    last_used: float = 0.0           # time.monotonic()
    used_at: float | None = None     # time.time(), for stats
    in_flight: int = 0
    flight: int = 0                  # loads started; a waiter knows which one it joined
    failure: tuple[int, ModelLoadError] | None = None

    def touch(self) -> None:
        self.last_used, self.used_at = time.monotonic(), time.time()


class ExpertPool:
    """Keeps the experts' models in memory as they are needed, and no more.

    ``max_loaded`` caps the resident models; ``warm`` experts load when the pool opens;
    ``idle_ttl`` (seconds) unloads a model nobody used for that long (an expert's own
    ``idle_ttl`` overrides it; the smallest among experts sharing a model applies); ``pinned``
    experts' models are never unloaded before the pool closes; ``context``, ``kv_dtype``,
    ``max_sequences`` (concurrent generations a model batches, its KV slots) and ``prefix_cache``
    configure the native backends made for experts given by ``model=``. At most ``max_waiting``
    requests wait for a place under the cap (every resident model busy), and as many for a KV slot
    of each native model the pool makes; one more raises :class:`~livemind.errors.Overloaded` at
    once instead of queueing without bound.

    >>> pool = ExpertPool([Expert("a", model="smollm2-135m-instruct")], max_loaded=1)
    >>> pool.experts
    ('a',)
    """

    def __init__(self, experts: Iterable[Expert], *, max_loaded: int = 5, warm: Iterable[str] = (),
                 idle_ttl: float = 300.0, governor: MemoryGovernor | None = None, pinned: Iterable[str] = (),
                 context: int = 4096, kv_dtype: str = "f16", max_waiting: int = 64, max_sequences: int = 8,
                 prefix_cache: bool = True):
        self._experts: dict[str, Expert] = {}
        for e in experts:
            if e.name in self._experts:
                raise ValueError(f"two experts are named {e.name!r}")
            self._experts[e.name] = e
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {max_loaded!r}")
        if idle_ttl <= 0:
            raise ValueError(f"idle_ttl must be positive, got {idle_ttl!r}")
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be at least 0, got {max_waiting!r}")
        if max_sequences < 1:
            raise ValueError(f"max_sequences must be at least 1, got {max_sequences!r}")
        self.max_waiting, self.max_sequences, self.prefix_cache = max_waiting, max_sequences, prefix_cache
        self.max_loaded, self.idle_ttl, self.context, self.kv_dtype = max_loaded, idle_ttl, context, kv_dtype
        self.warm, self.pinned = tuple(warm), frozenset(pinned)
        for name in (*self.warm, *self.pinned):
            self.expert(name)
        self.governor = governor if governor is not None else MemoryGovernor()
        self.threads: int | None = None
        self._slots: dict[str, _Slot] = {}          # by backend key
        self._slot_of: dict[str, _Slot] = {}        # by expert name
        self._counters = {"loads": 0, "load_failures": 0, "hits": 0, "misses": 0, "refusals": 0}
        self._unloads = {"idle": 0, "evicted": 0, "memory": 0, "closed": 0, "unhealthy": 0}
        self._opened = 0
        self._closing = False
        self._tasks: set[asyncio.Task] = set()      # unloads in progress
        self._reaper: asyncio.Task | None = None
        self._changed: _Signal | None = None
        self._load_lock: asyncio.Lock | None = None
        self._watching = False
        self._held_rooms = 0                        # places held for evictions a cancelled load began
        self._waiting = 0                           # requests waiting for a place under max_loaded

    def __repr__(self) -> str:
        return f"ExpertPool({list(self._experts)}, max_loaded={self.max_loaded})"

    # ------------------------------------------------------------------ experts and their backends

    @property
    def experts(self) -> tuple[str, ...]:
        """The experts' names, in the order given."""
        return tuple(self._experts)

    def expert(self, name: str) -> Expert:
        """The expert called ``name``; :class:`UnknownExpert` if there is none."""
        try:
            return self._experts[name]
        except KeyError:
            raise UnknownExpert(name, self._experts) from None

    def backend_key(self, name: str) -> str:
        """The key of the model ``name`` runs on: experts with the same key share one model."""
        return self._slot(name).key

    def unhealthy(self) -> list[str]:
        """Keys of loaded models whose engine died; each reloads on its next request."""
        return [s.key for s in self._slots.values() if s.state == "loaded" and not s.backend.healthy]

    def resident(self) -> list[str]:
        """Keys of the models loaded now, least recently used first."""
        return [s.key for s in sorted(self._slots.values(), key=lambda s: s.last_used) if s.state == "loaded"]

    def _new_backend(self, expert: Expert) -> Backend:
        if expert.backend is not None:
            return expert.backend
        from livemind.backends.native import NativeBackend
        from livemind.models import resolve_model

        return NativeBackend(resolve_model(expert.model), context=self.context, kv_dtype=self.kv_dtype,
                             max_waiting=self.max_waiting, max_sequences=self.max_sequences,
                             prefix_cache=self.prefix_cache)

    def _register(self, name: str, backend: Backend) -> _Slot:
        if name in self._slot_of:
            return self._slot_of[name]
        slot = self._slots.setdefault(backend.key, _Slot(backend.key, backend))   # the first backend serves all
        expert = self._experts[name]
        slot.experts.append(name)
        slot.ttl = min(slot.ttl, expert.idle_ttl if expert.idle_ttl is not None else self.idle_ttl)
        slot.pinned = slot.pinned or name in self.pinned
        self._slot_of[name] = slot
        return slot

    def _slot(self, name: str) -> _Slot:
        slot = self._slot_of.get(name)
        return slot if slot is not None else self._register(name, self._new_backend(self.expert(name)))

    async def _aslot(self, name: str, *, sized: bool = True) -> _Slot:
        slot = self._slot_of.get(name)
        if slot is None:   # finding a packaged model's file can take a moment: not on the loop
            slot = self._register(name, await asyncio.to_thread(self._new_backend, self.expert(name)))
        if sized and slot.raw is None:
            await asyncio.to_thread(self._size, slot)
        return slot

    def _size(self, slot: _Slot) -> None:
        try:
            local = slot.backend.capabilities().local_memory
            raw = slot.backend.memory_estimate().total if local else 0
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(slot.key, f"cannot size the model: {type(exc).__name__}: {exc}") from exc
        slot.local, slot.raw = local, raw

    def _charge(self, slot: _Slot) -> int:
        """Bytes the governor counts for ``slot``: its estimate, corrected by measurement."""
        if slot.raw is None:
            self._size(slot)
        return self.governor.estimate(slot.key, slot.raw) if slot.local else 0

    def _idle(self) -> list[_Slot]:
        """Loaded models nobody is using that may be unloaded, least recently used first."""
        return sorted((s for s in self._slots.values() if s.state == "loaded" and not s.in_flight and not s.pinned),
                      key=lambda s: s.last_used)

    async def size(self, names: Iterable[str]) -> None:
        """Reads the memory estimates of these experts' models off the event loop (for a native
        model, its GGUF header), so that :meth:`fits_together` after it does no file work on
        the loop. Raises UnknownExpert, or ModelLoadError for a model that cannot be sized."""
        for name in names:
            await self._aslot(name)

    def fits_together(self, names: Iterable[str]) -> bool:
        """Whether the models of these experts can all be in memory at once: as many as
        ``max_loaded`` allows beside pinned models, within the governor's budget once every
        other unpinned model is unloaded. Consensus uses it to choose parallel or turns."""
        wanted = {s.key: s for s in map(self._slot, names)}
        pinned_elsewhere = sum(1 for s in self._slots.values() if s.pinned and s.room and s.key not in wanted)
        if len(wanted) > self.max_loaded - pinned_elsewhere:
            return False
        need = sum(self._charge(s) for s in wanted.values() if s.state == "unloaded")
        held = {s.key: self._charge(s) for s in self._slots.values() if s.state != "unloaded"}
        others = [s.key for s in sorted(self._slots.values(), key=lambda s: s.last_used)
                  if s.key in held and s.key not in wanted and not s.pinned]
        return self.governor.would_fit(need, loaded=held, idle=others)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ExpertPool:
        self._opened += 1
        if self._opened > 1:
            return self
        self._closing = False
        self._changed, self._load_lock = _Signal(), asyncio.Lock()
        try:
            for name in self._experts:           # so that shared models know every sharer's TTL and pin
                try:
                    await self._aslot(name, sized=False)
                except LiveMindError as exc:     # reported again when the expert is used
                    log.warning("expert %r: %s", name, exc)
            self._check_config()
            if self.threads is None:             # the kernel pool is process-wide: size it once
                self.threads = self.governor.cpus
                kernels.set_threads(self.threads)
            self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="livemind-pool-reaper")
            self.governor.start(self._relieve)
            self._watching = True
            for name in self.warm:
                async with self.use(name):
                    pass
        except BaseException:
            self._opened = 1
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._opened -= 1
        if self._opened == 0:
            await self._close()

    def _check_config(self) -> None:
        pinned = {self._slot_of[n].key for n in self.pinned if n in self._slot_of}
        if len(pinned) > self.max_loaded or (len(pinned) == self.max_loaded and len(self._slots) > len(pinned)):
            raise ValueError(f"pinned experts hold {len(pinned)} models, leaving no room under max_loaded="
                             f"{self.max_loaded} for the others")
        warm = {self._slot_of[n].key for n in self.warm if n in self._slot_of}
        if len(warm) > self.max_loaded:
            raise ValueError(f"warm experts need {len(warm)} models, more than max_loaded={self.max_loaded}")

    async def _close(self) -> None:
        self._closing = True
        self._changed.notify()                   # waiters wake and give up
        if self._watching:
            await self.governor.stop()
            self._watching = False
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        while any(s.state in ("loading", "unloading") for s in self._slots.values()):
            await self._changed.wait()
        victims = [(s, "closed") for s in self._slots.values() if s.state == "loaded"]
        for s, _ in victims:
            s.state = "unloading"
        await self._unload_all(victims)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _check_open(self) -> None:
        if self._closing:
            raise Cancelled("the expert pool closed")
        if self._opened == 0:
            raise RuntimeError("the expert pool is not open: use it inside `async with pool:`")

    # ------------------------------------------------------------------ acquiring a model

    @asynccontextmanager
    async def use(self, name: str, on_event: Callable | None = None) -> AsyncIterator[Backend]:
        """The loaded backend of expert ``name`` for the length of the block; the model stays in
        memory until the block exits. Loads it first if needed (evicting the least recently
        used idle model at the cap, or waiting for one to become idle), telling ``on_event``
        (a function or coroutine function) with ModelLoading / ModelUnloaded / ModelLoaded.

        Raises UnknownExpert, ModelLoadError (the load failed; the next request tries again)
        or MemoryBudgetExceeded (the governor refused).
        """
        self._check_open()
        slot = await self._aslot(name)

        async def emit(event) -> None:
            if on_event is not None:
                result = on_event(event)
                if inspect.isawaitable(result):
                    await result

        await self._acquire(slot, name, emit)
        try:
            yield slot.backend
        finally:
            self._release(slot)

    def _release(self, slot: _Slot) -> None:
        slot.in_flight -= 1
        slot.touch()
        self._changed.notify()

    async def _acquire(self, slot: _Slot, name: str, emit) -> None:
        """Returns with one request counted in flight on ``slot``, loaded."""
        self._check_open()
        self._counters["hits" if slot.state == "loaded" else "misses"] += 1
        joined = None                            # the load this request is waiting for
        queued = False                           # counted among the requests waiting for a place
        try:
            while True:
                self._check_open()
                if slot.state == "loaded" and not slot.backend.healthy:
                    if not slot.in_flight:       # its engine died: unload, then load afresh below
                        log.warning("%s is unhealthy (its engine died): reloading it", slot.key)
                        slot.state = "unloading"
                        self._changed.notify()
                        await asyncio.shield(self._spawn_unloads([(slot, "unhealthy")]))
                        continue
                    await self._changed.wait()   # its requests are ending with errors; then reload
                    continue
                if slot.state == "loaded":
                    slot.in_flight += 1
                    slot.touch()
                    if joined is not None:       # it waited for another request's load
                        await self._emit_or_release(slot, emit, self._loaded_event(slot))
                    return
                if slot.state == "loading" and joined != slot.flight:
                    joined = slot.flight
                    await emit(ModelLoading(model=slot.key, expert=name))
                    continue
                if slot.state == "unloaded":
                    if joined is not None and slot.failure is not None and slot.failure[0] == joined:
                        err = slot.failure[1]
                        raise ModelLoadError(err.path, err.reason) from (err.__cause__ or err)
                    victims = self._reserve(slot)
                    if victims is not None:
                        if queued:               # its wait is over: the place is its own now
                            queued, self._waiting = False, self._waiting - 1
                        return await self._load(slot, name, victims, emit)
                    if not queued:               # no place yet: wait, in a bounded queue
                        self._queue_for_room()
                        queued = True
                await self._changed.wait()       # loading, unloading, or no room yet
        finally:
            if queued:
                self._waiting -= 1

    def _queue_for_room(self) -> None:
        """Counts one more request waiting for a place under the cap, or refuses it at once."""
        if self._waiting >= self.max_waiting:
            raise Overloaded("the pool's queue of requests waiting for a model place", self.max_waiting)
        self._waiting += 1

    def _reserve(self, slot: _Slot) -> list[tuple[_Slot, str]] | None:
        """The atomic step: checks the cap and the budget and, if the model may load, marks it
        loading and its victims unloading. None: wait for a change. Raises on refusal."""
        idle = self._idle()
        cap_victim = None
        if sum(s.room for s in self._slots.values()) + self._held_rooms >= self.max_loaded:
            if not idle:
                return None                      # every resident model is busy: wait
            cap_victim = idle[0]
        held = {s.key: self._charge(s) for s in self._slots.values() if s.state != "unloaded"}
        decision = self.governor.decide(slot.key, slot.raw if slot.local else 0, loaded=held,
                                        idle=[s.key for s in idle])
        if decision.action == "refuse":
            if decision.retryable and any(s.state == "unloading" for s in self._slots.values()):
                return None                      # memory is on its way back
            self._counters["refusals"] += 1
            raise decision.error()
        victims = [(cap_victim, "evicted")] if cap_victim is not None else []
        victims += [(self._slots[k], "memory") for k in decision.evict if cap_victim is None or k != cap_victim.key]
        for victim, _ in victims:
            victim.state = "unloading"
        if cap_victim is not None:
            cap_victim.room = False              # its place passes to the model that evicted it
        slot.state, slot.room, slot.failure = "loading", True, None
        slot.flight += 1
        self._changed.notify()
        return victims

    async def _load(self, slot: _Slot, name: str, victims: list[tuple[_Slot, str]], emit) -> None:
        unloading = self._spawn_unloads(victims)
        try:
            await emit(ModelLoading(model=slot.key, expert=name))
            await asyncio.shield(unloading)      # room first: never more than max_loaded in memory
            for victim, reason in victims:
                await emit(ModelUnloaded(model=victim.key, reason=reason))
        except BaseException:                    # cancelled, or the callback failed: not the model's fault
            self._abandon(slot, None, unloading)
            raise
        try:
            started = time.monotonic()
            async with self._load_lock:          # one load at a time, so its growth is its own
                before = self.governor.footprint() if slot.local else None
                await slot.backend.load()
                after = self.governor.footprint() if slot.local else None
        except Exception as exc:
            error = exc if isinstance(exc, ModelLoadError) else ModelLoadError(slot.key, f"{type(exc).__name__}: {exc}")
            self._abandon(slot, error, unloading)
            if error is exc:
                raise
            raise error from exc
        except BaseException:                    # cancelled: a waiter may try again
            self._abandon(slot, None, unloading)
            raise
        slot.state, slot.load_seconds, slot.in_flight = "loaded", time.monotonic() - started, slot.in_flight + 1
        slot.measured = after - before if before is not None and after is not None else None
        slot.touch()
        self._counters["loads"] += 1
        if slot.measured is not None:
            self.governor.record(slot.key, slot.raw, slot.measured)
        self._changed.notify()
        await self._emit_or_release(slot, emit, self._loaded_event(slot))

    def _loaded_event(self, slot: _Slot) -> ModelLoaded:
        return ModelLoaded(model=slot.key, seconds=slot.load_seconds or 0.0, bytes=self._charge(slot))

    def _abandon(self, slot: _Slot, error: ModelLoadError | None, unloading: asyncio.Task) -> None:
        """A load failed (``error``) or was cancelled: the model is not loaded and its place is
        free — once the models it was evicting are out, if it was cancelled before they were."""
        slot.state, slot.room = "unloaded", False
        if not unloading.done():
            self._held_rooms += 1
            unloading.add_done_callback(self._give_back_room)
        if error is not None:
            slot.failure = (slot.flight, error)
            self._counters["load_failures"] += 1
            log.warning("loading %s failed: %s", slot.key, error.reason)
        if slot.backend.loaded:                  # half loaded: give back what it took
            self._track(asyncio.get_running_loop().create_task(slot.backend.unload(), name="livemind-unload"))
        self._changed.notify()

    def _give_back_room(self, _task) -> None:
        self._held_rooms -= 1
        self._changed.notify()

    async def _emit_or_release(self, slot: _Slot, emit, event) -> None:
        try:
            await emit(event)
        except BaseException:
            self._release(slot)
            raise

    # ------------------------------------------------------------------ unloading

    def _track(self, task: asyncio.Task) -> asyncio.Task:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn_unloads(self, victims: list[tuple[_Slot, str]]) -> asyncio.Task:
        """Unloads ``victims`` (already marked unloading) in a task of their own, which finishes
        even if whoever asked is cancelled."""
        return self._track(asyncio.get_running_loop().create_task(self._unload_all(victims), name="livemind-unload"))

    async def _unload_all(self, victims: list[tuple[_Slot, str]]) -> None:
        for slot, reason in victims:
            try:
                await slot.backend.unload()
            except Exception:
                log.exception("unloading %s failed; it is counted as unloaded", slot.key)
            finally:
                slot.state, slot.room, slot.measured = "unloaded", False, None
                self._unloads[reason] += 1
                self._changed.notify()

    async def _reap(self) -> None:
        """Unloads models idle for longer than their TTL; sleeps until the next one is due."""
        while not self._closing:
            now = time.monotonic()
            expired = [(s, "idle") for s in self._idle() if now - s.last_used >= s.ttl]
            if expired:
                for s, _ in expired:
                    s.state = "unloading"
                self._changed.notify()
                await asyncio.shield(self._spawn_unloads(expired))
            due = [s.last_used + s.ttl for s in self._idle() if math.isfinite(s.ttl)]
            delay = max(0.0, min(due) - time.monotonic()) if due else None
            # not asyncio.wait_for: before 3.12 it can swallow a cancel that races the wake-up
            change = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({change}, timeout=delay)
            finally:
                change.cancel()

    async def _relieve(self, over: int) -> int:
        """The governor's watch found usage ``over`` bytes above the threshold: hand back the KV
        that loaded models keep for prefix reuse, then unload idle models, least recently used
        first, until about that much is freed. Returns the bytes."""
        victims, freed = [], 0
        for s in self._slots.values():
            trim = getattr(s.backend, "trim_cache", None)
            if freed < over and s.state == "loaded" and trim is not None:
                freed += await asyncio.to_thread(trim, over - freed)
        for s in self._idle():
            if freed >= over:
                break
            s.state = "unloading"
            victims.append((s, "memory"))
            freed += self._charge(s)
        if victims:
            self._changed.notify()
            await asyncio.shield(self._spawn_unloads(victims))
        return freed

    # ------------------------------------------------------------------ stats

    def stats(self) -> PoolStats:
        """A typed snapshot: every model's state, bytes, last use and requests in flight; the
        counters; the governor's figures."""
        now = time.monotonic()
        models = {}
        for s in self._slots.values():
            used = datetime.fromtimestamp(s.used_at, timezone.utc) if s.used_at is not None else None
            models[s.key] = ModelStats(
                key=s.key, state=s.state, experts=list(s.experts), pinned=s.pinned, idle_ttl=s.ttl,
                estimate_bytes=self._charge(s) if s.raw is not None else None, measured_bytes=s.measured,
                load_seconds=s.load_seconds, last_used=used, in_flight=s.in_flight,
                generating=s.backend.in_flight() if s.state == "loaded" else 0,
                idle_seconds=now - s.last_used if s.used_at is not None else None,
                healthy=s.state != "loaded" or s.backend.healthy, prefix_cache=_prefix_stats(s))
        return PoolStats(max_loaded=self.max_loaded, loaded=sum(s.state == "loaded" for s in self._slots.values()),
                         threads=self.threads, models=models,
                         counters=PoolCounters(**self._counters, unloads=UnloadCounts(**self._unloads)),
                         governor=self.governor.snapshot())


def _prefix_stats(slot: _Slot):
    """The prefix-cache counters (PrefixStats) of a loaded model whose backend keeps them (the
    native engine), else None."""
    get = getattr(slot.backend, "prefix_stats", None)
    return get() if get is not None and slot.state == "loaded" else None
