"""The server's bounds through a real ``livemind serve`` on SmolLM2: a keep-alive connection stays
usable after a body nested 20 000 deep; a request past its timeout is cancelled (504, or an error
frame once streaming) and leaves nothing in flight; past the concurrency limit a request gets 503
overloaded + Retry-After, and past a model's waiting queue too, with the configured Retry-After;
fields are range-checked and strictly typed. One check runs uvicorn in this process over a
FakeBackend team whose router has a bug: its 500 keeps the connection too."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from fakes import FakeBackend
from faulty_serve import STEP_DELAY
from serverproc import Server, free_port, wait_idle

import livemind as lm

HERE = Path(__file__).parent

Q = [{"role": "user", "content": "Hi"}]
# the base model (writer) continues a story without an end-of-turn token; the `limited` server
# paces every step to 10 ms or more, so 400 tokens of it take longer than its 2 s timeout however
# fast the machine is
LONG = [{"role": "user", "content": "Once upon a time, in a far kingdom,"}]
LIMITED = """
[pool]
context = 512
warm = ["general", "writer"]

[router]
kind = "first"

[server.limits]
max_concurrent_requests = 1
request_timeout = 2
retry_after = 2
"""


def two_requests_on_one_connection(port: int, first: bytes, headers: dict) -> tuple[int, int, bool]:
    """Sends ``first`` then a good request on one HTTP/1.1 connection: both statuses, and whether
    the second went over the same socket."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v1/chat/completions", body=first, headers=headers)
        r1 = conn.getresponse()
        r1.read()
        sock = conn.sock
        body = json.dumps({"model": "general", "messages": Q, "max_tokens": 2}).encode()
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        r2 = conn.getresponse()
        r2.read()
        return r1.status, r2.status, conn.sock is sock and sock is not None
    finally:
        conn.close()


def test_a_body_nested_20000_deep_is_400_and_the_connection_stays_usable(server, auth):
    headers = {**auth, "Content-Type": "application/json"}
    first, second, same = two_requests_on_one_connection(server.port, b"[" * 20000, headers)
    assert (first, second, same) == (400, 200, True)


@pytest.mark.parametrize("body, param", [
    ({"max_completion_tokens": 2, "max_tokens": 10**6}, "max_tokens"),     # each field, even the one not used
    ({"max_tokens": "2"}, "max_tokens"),                                    # strict types: no coercion
    ({"stream": 1}, "stream"),
    ({"repetition_penalty": 1e300}, "repetition_penalty"),
    ({"messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content"),   # a lone surrogate
])
def test_fields_are_range_checked_and_strictly_typed(server, auth, body, param):
    body = json.dumps({"model": "general", "messages": Q, "max_tokens": 2, **body})   # \\u escapes, as sent
    r = httpx.post(server.url + "/v1/chat/completions", headers={**auth, "Content-Type": "application/json"},
                   timeout=30, content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("limited"), LIMITED, launcher=[str(HERE / "faulty_serve.py")],
                 env={STEP_DELAY: "0.01"})
    warm = httpx.post(srv.url + "/v1/chat/completions", timeout=30,   # the first generation's set-up, done
                      json={"model": "general", "messages": Q, "max_tokens": 2})
    assert warm.status_code == 200
    yield srv
    srv.stop()


def test_a_request_past_its_timeout_is_504_and_cancelled(limited):
    t0 = time.monotonic()
    r = httpx.post(limited.url + "/v1/chat/completions", timeout=60,
                   json={"model": "writer", "messages": LONG, "max_tokens": 400, "temperature": 0})
    assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - t0 < 5
    stats = wait_idle(limited)
    assert stats["server"]["in_flight"] == 0 and stats["pool"]["models"]
    assert all(m["in_flight"] == 0 for m in stats["pool"]["models"].values())


def test_a_stream_past_its_timeout_ends_with_an_error_frame(limited):
    body = {"model": "writer", "messages": LONG, "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", limited.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        data = [line[len("data: "):] for line in r.iter_lines() if line]
    assert data[-1] == "[DONE]" and json.loads(data[-2])["error"]["code"] == "timeout"
    assert len(data) > 4                                      # it streamed tokens before the timeout
    wait_idle(limited)


def test_past_the_concurrency_limit_a_request_is_503_with_retry_after(limited):
    body = {"model": "writer", "messages": LONG, "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", limited.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        lines = r.iter_lines()                                # kept: closing it would hang up
        assert next(line for line in lines if line)           # the one allowed request is answering
        busy = httpx.post(limited.url + "/v1/chat/completions", timeout=30,
                          json={"model": "general", "messages": Q, "max_tokens": 2})
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "overloaded"
    assert busy.headers["retry-after"] == "2"
    wait_idle(limited)
    after = httpx.post(limited.url + "/v1/chat/completions", timeout=30,
                       json={"model": "general", "messages": Q, "max_tokens": 2})
    assert after.status_code == 200


QUEUED = """
[pool]
context = 512
warm = ["writer"]
max_waiting = 1

[server.limits]
retry_after = 3
"""


def test_past_a_models_waiting_queue_a_request_is_503_with_the_configured_retry_after(tmp_path):
    """The writer's 8 KV slots hold 8 streams and its queue (max_waiting = 1) one more request;
    the next one, whole or streamed, is refused before any work: 503 overloaded with the
    Retry-After configured (3 s, not the default 5). Once the streams go, the queued request is
    answered and nothing is left in flight."""
    srv = Server(tmp_path, QUEUED)
    body = {"model": "writer", "messages": LONG, "max_tokens": 400, "temperature": 0}
    post = lambda b: httpx.post(srv.url + "/v1/chat/completions", json=b, timeout=120)   # noqa: E731
    queued: list[httpx.Response] = []
    try:
        with contextlib.ExitStack() as streams:
            for _ in range(8):   # one at a time: each has its slot (its first token) before the next
                r = streams.enter_context(httpx.stream("POST", srv.url + "/v1/chat/completions",
                                                       json={**body, "stream": True}, timeout=120))
                assert r.status_code == 200
            waiter = threading.Thread(target=lambda: queued.append(post({**body, "max_tokens": 4})))
            waiter.start()
            deadline = time.monotonic() + 30
            while sum(m["generating"] for m in srv.stats(None)["pool"]["models"].values()) < 9:
                assert time.monotonic() < deadline and not queued, queued
                time.sleep(0.05)
            for refused in (post(body), post({**body, "stream": True})):
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "overloaded", refused.text
                assert refused.headers["retry-after"] == "3"
        waiter.join(120)
        assert queued[0].status_code == 200 and queued[0].json()["choices"][0]["message"]["content"], queued
        stats = wait_idle(srv)
        assert stats["server"]["in_flight"] == 0, stats
        assert all(m["in_flight"] == m["generating"] == 0 for m in stats["pool"]["models"].values()), stats
    finally:
        srv.stop()


def test_an_unexpected_error_is_a_500_in_openai_shape_and_the_connection_stays_usable():
    import uvicorn

    from livemind.server import create_app

    def router(messages):
        if messages[-1]["content"] == "bug":
            raise RuntimeError("a bug in the router")
        return "general"

    pool = lm.ExpertPool([lm.Expert("general", backend=FakeBackend("fake-general"))])
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(lm.LiveMind(pool, router=router)), port=port, log_level="critical"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        while not srv.started:
            time.sleep(0.02)
        bug = json.dumps({"messages": [{"role": "user", "content": "bug"}]}).encode()
        first, second, same = two_requests_on_one_connection(port, bug, {"Content-Type": "application/json"})
        assert (first, second, same) == (500, 200, True)
    finally:
        srv.should_exit = True
        thread.join(10)
