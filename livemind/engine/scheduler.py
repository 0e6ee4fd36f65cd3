"""Continuous batching: every request on a model shares one forward step per iteration.

An engine thread owns the model. Each iteration it admits waiting requests into free KV slots,
builds one batch — a decode token for every running request, then prompt chunks for those still
prefilling, up to the step's token budget — runs it with one native call, samples, and hands
each request its new token through its asyncio queue. A request whose consumer went away is
dropped at the next iteration and its slot freed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from livemind.engine.sampling import Sampler, SamplingParams


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

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
    last event has ``finish_reason`` ("stop", "length" or "cancelled") with usage and timings."""

    token_id: int | None
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    timings: Timings | None = None


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

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs the model's engine thread; :meth:`submit` enqueues a request."""

    def __init__(self, model, *, n_slots: int, step_tokens: int):
        self.model = model
        self.step_tokens = step_tokens
        self.free_slots = deque(range(n_slots))
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.cond = threading.Condition()
        self.closed = False
        self.steps = 0
        self.thread = threading.Thread(target=self._run, name="livemind-engine", daemon=True)
        self.thread.start()

    def submit(self, req: Request) -> None:
        with self.cond:
            if self.closed:
                raise RuntimeError("the model is closed")
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
        while True:
            with self.cond:
                while not self.closed and not (self.running or self.waiting):
                    self.cond.wait()
                if self.closed:
                    return
                while self.waiting and self.free_slots:
                    req = self.waiting.popleft()
                    req.slot = self.free_slots.popleft()
                    self.running.append(req)
            for req in [r for r in self.running if r.cancelled]:
                self._finish(req, "cancelled")
            if self.running:
                self._step()

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
        logits = self.model.forward(np.array(tokens, np.int32), np.array(pos, np.int32),
                                    np.array(seq, np.int32), np.array(want, np.int8))
        self.steps += 1
        row = 0
        for req, n in owners:
            req.n_past += n
            if req.prefilling:
                continue
            if req.t_prefilled is None:
                req.t_prefilled = time.perf_counter()
            self._advance(req, logits[row])
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

    def _finish(self, req: Request, reason: str, *, flush: bool = True) -> None:
        if req.done:
            return
        req.done = True
        if req in self.running:
            self.running.remove(req)
        if req.slot >= 0:
            self.free_slots.append(req.slot)
        end = time.perf_counter()
        tail = (req.held + req.decoder.flush()) if flush and reason != "cancelled" else ""
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
        self._emit(req, TokenEvent(None, tail, reason, Usage(len(req.prompt), n_gen), timings))

    def _emit(self, req: Request, event: TokenEvent) -> None:
        try:
            req.loop.call_soon_threadsafe(req.queue.put_nowait, event)
        except RuntimeError:   # the consumer's loop is closed: nobody is listening
            req.cancelled = True


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
