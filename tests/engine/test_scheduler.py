"""The scheduler's bounded queue, on a fake model: ``max_waiting`` counts only the requests
beyond the free KV slots, so requests a free slot will take are never refused. (The same on a
real model: tests/engine/test_failures.py.)"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from livemind import Overloaded
from livemind.engine.sampling import SamplingParams
from livemind.engine.scheduler import Request, Scheduler

pytestmark = pytest.mark.timeout(10)

N_VOCAB = 4
EOT, TOKEN = 0, 1          # the fake's logits put TOKEN on top: a generation runs to max_tokens


class FakeModel:
    """A fake of what the scheduler uses of a model: every wanted row of a step has the same
    logits, and released slots are recorded."""

    name = "fake-model"
    n_ctx = 64

    def __init__(self):
        self.released: list[int] = []

    def forward(self, tokens, pos, seq, want):
        logits = np.zeros((int(want.sum()), N_VOCAB), np.float32)   # (n_wanted, n_vocab)
        logits[:, TOKEN] = 1.0
        return logits

    def release_slot(self, slot: int, positions: int, start: int = 0) -> None:
        self.released.append(slot)


class FakeDecoder:
    """Every token decodes to "x"."""

    def push(self, token: int) -> str:
        return "x"

    def flush(self) -> str:
        return ""


def request(max_tokens: int = 3) -> Request:
    return Request(prompt=np.array([2, 3, 2], np.int32), params=SamplingParams(temperature=0),
                   max_tokens=max_tokens, loop=asyncio.get_running_loop(), queue=asyncio.Queue(),
                   decoder=FakeDecoder(), eot_ids=frozenset({EOT}))


async def finish(req: Request):
    text = ""
    while True:
        event = await req.queue.get()
        text += event.text
        if event.finish_reason is not None:
            return text, event


def test_with_no_waiting_places_a_request_a_free_slot_takes_is_served():
    async def go():
        sched = Scheduler(FakeModel(), n_slots=1, step_tokens=16, max_waiting=0)
        try:
            req = request()
            sched.submit(req)
            return await finish(req), sched.in_flight()
        finally:
            sched.close()

    (text, last), in_flight = asyncio.run(go())
    assert (text, last.finish_reason, last.usage.completion_tokens) == ("xxx", "length", 3)
    assert in_flight == 0


def test_a_burst_fills_the_free_slots_then_max_waiting_and_the_next_is_overloaded():
    """Two free slots and one waiting place: of four requests submitted before the engine thread
    wakes, three are accepted and finish, the fourth is refused at once."""
    async def go():
        model = FakeModel()
        sched = Scheduler(model, n_slots=2, step_tokens=16, max_waiting=1)
        try:
            accepted = [request() for _ in range(3)]
            with sched.cond:     # all at once: the engine thread admits none of them in between
                for req in accepted:
                    sched.submit(req)
                with pytest.raises(Overloaded) as refused:
                    sched.submit(request())
            assert refused.value.limit == 1 and refused.value.retryable
            assert sched.in_flight() == 3
            results = await asyncio.gather(*[finish(req) for req in accepted])
            return results, sched.in_flight(), model.released
        finally:
            sched.close()

    results, in_flight, released = asyncio.run(go())
    assert [(text, last.finish_reason) for text, last in results] == [("xxx", "length")] * 3
    assert in_flight == 0 and len(released) == 3 and set(released) == {0, 1}   # each gave its slot back
