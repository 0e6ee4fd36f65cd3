"""Continuous batching: every request on a model shares one forward step per iteration.

An engine thread owns the model. Each iteration it admits waiting requests into free KV slots,
builds one batch — a decode token for every running request, then prompt chunks for those still
prefilling, up to the step's token budget — runs it with one native call, samples, and hands
each request its new token through its asyncio queue. A request whose consumer went away is
dropped at the next iteration and its slot freed.

A failure stays with the requests it touched: an exception in the forward step ends the
requests of that step, one in sampling or decoding ends that request, each with a last event
whose ``finish_reason`` is "error"; the thread goes on serving the others. Should the thread die
anyway, every request it held ends the same way, :attr:`Scheduler.healthy` turns False and new
submissions are refused, so nobody waits forever on a dead engine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from livemind.engine.prefix import Pick, PrefixCache, PrefixStats
from livemind.engine.sampling import Sampler, SamplingParams
from livemind.errors import Overloaded


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0        # prompt tokens whose KV the prefix cache had (not prefilled)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Timings:
    queued_s: float           # submit → first step that included the request
    ttft_s: float             # submit → first token
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    total_s: float


@dataclass(frozen=True)
class TokenEvent:
    """One step of a generation. ``text`` is a UTF-8-safe delta (never half a character); the
    last event has ``finish_reason`` ("stop", "length", "cancelled" or "error") with usage and
    timings; with "error", ``error`` says what went wrong."""

    token_id: int | None
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    timings: Timings | None = None
    error: str | None = None


class EngineDead(RuntimeError):
    """The engine thread has stopped; the model must be reloaded to serve again."""


@dataclass(eq=False)
class Request:
    prompt: np.ndarray                      # (n_prompt,) int32
    params: SamplingParams
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    decoder: object                         # StreamDecoder: push(id) -> str, flush() -> str
    eot_ids: frozenset
    slot: int = -1
    n_past: int = 0                         # tokens of this sequence already in the cache
    cached: int = 0                         # of them, prompt tokens the prefix cache had
    extent: int = 0                         # positions of its slot written before it came
    generated: list = field(default_factory=list)
    cancelled: bool = False
    done: bool = False
    held: str = ""                          # text held back: it may begin a stop string
    t_submit: float = field(default_factory=time.perf_counter)
    t_start: float | None = None
    t_first: float | None = None
    t_prefilled: float | None = None

    def __post_init__(self):
        self.sampler = Sampler(self.params)

    @property
    def prefilling(self) -> bool:
        return self.n_past < len(self.prompt)

    def fed(self) -> np.ndarray:
        """The ids whose K/V this sequence's slot holds: positions 0..n_past."""
        if self.n_past <= len(self.prompt):
            return self.prompt[:self.n_past]
        return np.concatenate([self.prompt, np.asarray(self.generated, np.int32)])[:self.n_past]

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs the model's engine thread; :meth:`submit` enqueues a request."""

    def __init__(self, model, *, n_slots: int, step_tokens: int, max_waiting: int = 64,
                 prefix_cache: bool = True):
        self.model = model
        self.cache = PrefixCache(n_slots) if prefix_cache else None
        self.step_tokens = step_tokens
        self.max_waiting = max_waiting           # requests queued beyond the free slots; more are refused
        self.free_slots = deque(range(n_slots))
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.cond = threading.Condition()
        self.closed = False
        self.dead: BaseException | None = None   # why the engine thread stopped, if it did
        self.steps = 0
        self.thread = threading.Thread(target=self._run, name="livemind-engine", daemon=True)
        self.thread.start()

    @property
    def healthy(self) -> bool:
        """False once the engine thread has died: the model serves nothing until reloaded."""
        return self.dead is None

    def submit(self, req: Request) -> None:
        with self.cond:
            if self.dead is not None:
                raise EngineDead(f"the engine thread stopped ({_describe(self.dead)}); reload the model")
            if self.closed:
                raise RuntimeError("the model is closed")
            # a free slot takes a request on the engine thread's next turn: only those beyond the
            # free slots wait, max_waiting of them
            if len(self.waiting) >= len(self.free_slots) + self.max_waiting:
                raise Overloaded(f"the queue of requests waiting for {self.model.name}", self.max_waiting)
            self.waiting.append(req)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.thread.join()
        for req in list(self.running) + list(self.waiting):
            self._finish(req, "cancelled")

    def in_flight(self) -> int:
        with self.cond:
            return len(self.running) + len(self.waiting)

    # ------------------------------------------------------------------ engine thread

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:     # the thread is going down: end every request it holds
            with self.cond:
                self.dead = exc
                held = list(self.running) + list(self.waiting)
                self.waiting.clear()
            for req in held:
                self._fail(req, f"the engine thread stopped: {_describe(exc)}")

    def _serve(self) -> None:
        while True:
            with self.cond:
                while not self.closed and not (self.running or self.waiting):
                    self.cond.wait()
                if self.closed:
                    return
                while self.waiting and self.free_slots:
                    self._admit(self.waiting.popleft())
            for req in [r for r in self.running if r.cancelled]:
                self._finish(req, "cancelled")
            if self.running:
                try:
                    self._step()
                except Exception as exc:   # outside the forward call: which request is unknown
                    for req in list(self.running):
                        self._fail(req, f"the engine step failed: {_describe(exc)}")

    def _admit(self, req: Request) -> None:
        """Gives ``req`` a free slot: with the prefix cache, the one that holds the longest start
        of its prompt (copied there from a running sequence when that one holds more)."""
        if self.cache is None:
            req.slot = self.free_slots.popleft()
        else:
            pick = self.cache.pick(req.prompt, list(self.free_slots), [(r.slot, r.fed()) for r in self.running])
            self.free_slots.remove(pick.slot)
            req.slot, req.extent = pick.slot, pick.extent
            if pick.reuse and pick.source != pick.slot:
                try:
                    self.model.copy_prefix(pick.source, pick.slot, pick.reuse)
                except Exception:        # only the reuse is lost: the prompt is prefilled whole
                    pick = Pick(pick.slot, 0, pick.slot, pick.extent)
            req.n_past = req.cached = pick.reuse
        self.running.append(req)

    def trim(self, nbytes: int) -> int:
        """Hands back the pages of cached prefixes in free slots, least recently used first,
        until about ``nbytes`` are freed; returns the bytes (the governor's relief)."""
        freed = 0
        with self.cond:
            if self.cache is None:
                return 0
            for slot in self.cache.oldest(list(self.free_slots)):
                if freed >= nbytes:
                    break
                n = self.cache.forget(slot)
                self.model.release_slot(slot, n)
                freed += n * self.model.kv_bytes_per_position
        return freed

    def prefix_stats(self) -> PrefixStats | None:
        with self.cond:
            return self.cache.stats(list(self.free_slots)) if self.cache is not None else None

    def _step(self) -> None:
        now = time.perf_counter()
        tokens, pos, seq, want, owners = [], [], [], [], []
        budget = self.step_tokens
        decoding = [r for r in self.running if not r.prefilling]
        prefilling = [r for r in self.running if r.prefilling]
        for req in decoding[:budget]:
            tokens.append(req.generated[-1])
            pos.append(req.n_past)
            seq.append(req.slot)
            want.append(1)
            owners.append((req, 1))
        budget -= len(owners)
        for req in prefilling:
            if budget <= 0:
                break
            n = min(budget, len(req.prompt) - req.n_past)
            tokens.extend(req.prompt[req.n_past:req.n_past + n].tolist())
            pos.extend(range(req.n_past, req.n_past + n))
            seq.extend([req.slot] * n)
            finishes = req.n_past + n == len(req.prompt)
            want.extend([0] * (n - 1) + [1 if finishes else 0])
            owners.append((req, n))
            budget -= n
        for req, _ in owners:
            if req.t_start is None:
                req.t_start = now
        try:
            logits = self.model.forward(np.array(tokens, np.int32), np.array(pos, np.int32),
                                        np.array(seq, np.int32), np.array(want, np.int8))
        except Exception as exc:         # this step's requests end; the others go on
            for req, _ in owners:
                self._fail(req, f"the forward step failed: {_describe(exc)}")
            return
        self.steps += 1
        row = 0
        for req, n in owners:
            req.n_past += n
            if req.prefilling:
                continue
            if req.t_prefilled is None:
                req.t_prefilled = time.perf_counter()
            try:
                self._advance(req, logits[row])
            except Exception as exc:     # sampling or decoding this request failed: it alone ends
                self._fail(req, f"sampling failed: {_describe(exc)}")
            row += 1

    def _advance(self, req: Request, logits: np.ndarray) -> None:
        token = req.sampler(logits, req.generated)
        if req.t_first is None:
            req.t_first = time.perf_counter()
        if token in req.eot_ids:
            return self._finish(req, "stop")
        req.generated.append(token)
        text = req.held + req.decoder.push(token)
        cut = _stop_cut(text, req.params.stop)
        if cut is not None:
            self._emit(req, TokenEvent(token, text[:cut]))
            return self._finish(req, "stop", flush=False)
        keep = _stop_prefix_len(text, req.params.stop)
        req.held = text[len(text) - keep:] if keep else ""
        self._emit(req, TokenEvent(token, text[:len(text) - keep]))
        if len(req.generated) >= req.max_tokens or req.n_past >= self.model.n_ctx:
            self._finish(req, "length")

    def _free(self, req: Request, reason: str) -> None:
        """Frees ``req``'s slot. With the prefix cache the slot keeps the K/V of what it fed (an
        error leaves nothing it trusts) and hands back only the pages past it; without, all."""
        keep = self.cache is not None and reason != "error"
        written = max(req.extent, req.n_past)
        try:
            if keep:
                self.model.release_slot(req.slot, written, start=req.n_past)
            else:   # a failed step may have written past n_past: the whole slot goes back
                self.model.release_slot(req.slot, self.model.n_ctx if reason == "error" else written)
        except Exception:                # only memory is at stake: the request still ends
            keep = False
        with self.cond:
            if keep:
                self.cache.hold(req.slot, req.fed())
            elif self.cache is not None:
                self.cache.forget(req.slot)
            self.free_slots.append(req.slot)

    def _fail(self, req: Request, error: str) -> None:
        self._finish(req, "error", flush=False, error=error)

    def _finish(self, req: Request, reason: str, *, flush: bool = True, error: str | None = None) -> None:
        if req.done:
            return
        req.done = True
        if req in self.running:
            self.running.remove(req)
        if req.slot >= 0:
            self._free(req, reason)
        end = time.perf_counter()
        tail = ""
        if flush and reason not in ("cancelled", "error"):
            try:
                tail = req.held + req.decoder.flush()
            except Exception:            # the request still gets its last event
                tail = req.held
        prefill_s = (req.t_prefilled or end) - (req.t_start or end)
        decode_s = end - (req.t_prefilled or end)
        n_gen = len(req.generated)
        timings = Timings(
            queued_s=(req.t_start or end) - req.t_submit,
            ttft_s=(req.t_first or end) - req.t_submit,
            prefill_tokens_per_s=len(req.prompt) / prefill_s if prefill_s > 0 else 0.0,
            decode_tokens_per_s=(n_gen - 1) / decode_s if decode_s > 0 and n_gen > 1 else 0.0,
            total_s=end - req.t_submit,
        )
        self._emit(req, TokenEvent(None, tail, reason, Usage(len(req.prompt), n_gen, req.cached), timings, error))

    def _emit(self, req: Request, event: TokenEvent) -> None:
        try:
            req.loop.call_soon_threadsafe(req.queue.put_nowait, event)
        except RuntimeError:   # the consumer's loop is closed: nobody is listening
            req.cancelled = True


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _stop_cut(text: str, stops: tuple[str, ...]) -> int | None:
    """Index where the earliest stop string starts in text, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _stop_prefix_len(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of text that could begin a stop string (held back)."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if s.startswith(text[len(text) - n:]):
                best = n
                break
    return best
