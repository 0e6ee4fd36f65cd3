"""The streaming contract frame by frame (raw SSE lines through httpx), and what a client that
goes away leaves behind: nothing in flight."""

from __future__ import annotations

import json
import threading
import time

import httpx
from serverproc import wait_idle

LONG = [{"role": "user", "content": "Count from 1 to 500, one number per line."}]


def sse(server, auth, body: dict) -> list[str]:
    """The ``data:`` payloads of a streamed completion, in order."""
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, headers=auth, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    return [line[len("data: "):] for line in lines]


def test_stream_frames_follow_openai(server, auth):
    frames = sse(server, auth, {"model": "general", "messages": [{"role": "user", "content": "Hi"}], "n": 2,
                                "max_tokens": 6, "temperature": 0.8, "seed": 3, "stream": True,
                                "stream_options": {"include_usage": True}})
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"general"}
    for index in (0, 1):
        mine = [ch for c in chunks for ch in c["choices"] if ch["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"                       # the role comes first
        assert all("role" not in ch["delta"] for ch in mine[1:])
        finishes = [ch["finish_reason"] for ch in mine if ch["finish_reason"] is not None]
        assert len(finishes) == 1 and mine[-1]["finish_reason"] in ("stop", "length")   # one, and last
        assert "".join(ch["delta"].get("content") or "" for ch in mine)
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    assert all(c.get("usage") is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(server, auth):
    frames = sse(server, auth, {"model": "general", "messages": [{"role": "user", "content": "Hi"}],
                                "max_tokens": 3, "temperature": 0, "stream": True})
    chunks = [json.loads(f) for f in frames[:-1]]
    assert frames[-1] == "[DONE]" and all(c["choices"] for c in chunks)


def test_streaming_client_that_goes_away_cancels_its_generation(server, auth):
    before = server.stats()["server"]["disconnects"]
    body = {"model": "general", "messages": LONG, "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, headers=auth, timeout=60) as r:
        lines = r.iter_lines()
        first = next(line for line in lines if line)
        assert json.loads(first[len("data: "):])["choices"][0]["delta"]["role"] == "assistant"
        busy = server.stats()
        assert busy["server"]["in_flight"] == 1
        assert sum(m["in_flight"] for m in busy["pool"]["models"].values()) == 1
    t0 = time.monotonic()
    idle = wait_idle(server)
    assert idle["server"]["in_flight"] == 0
    assert all(m["in_flight"] == m["generating"] == 0 for m in idle["pool"]["models"].values())
    assert time.monotonic() - t0 < 5
    assert idle["server"]["disconnects"] == before + 1


def test_waiting_client_that_goes_away_cancels_its_generation(server, auth):
    before = server.stats()["server"]["disconnects"]
    # the base model (writer) continues a story without an end-of-turn token until the 512-token
    # context is full: ~500 tokens, several seconds even on a fast machine, and the client gives
    # up after one (SmolLM2 stops counting early)
    body = {"model": "writer", "messages": [{"role": "user", "content": "Once upon a time, in a far kingdom,"}],
            "max_tokens": 1000, "temperature": 0}
    errors = []

    def call():
        try:
            httpx.post(server.url + "/v1/chat/completions", json=body, headers=auth, timeout=1.0)
        except httpx.TimeoutException as exc:
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    seen_answering = False
    while t.is_alive():
        seen_answering |= server.stats()["server"]["in_flight"] == 1
        time.sleep(0.05)
    t.join()
    assert seen_answering
    assert errors, "the request finished before the client gave up: make it longer"
    idle = wait_idle(server)
    assert idle["server"]["in_flight"] == 0
    assert all(m["in_flight"] == m["generating"] == 0 for m in idle["pool"]["models"].values())
    assert idle["server"]["disconnects"] == before + 1


def test_consensus_streams_each_expert_as_progress_and_the_synthesis_as_content(server, auth):
    frames = sse(server, auth, {"model": "livemind-parallel", "messages": [{"role": "user", "content": "Hi"}],
                                "max_tokens": 6, "temperature": 0, "stream": True})
    chunks = [json.loads(f) for f in frames[:-1]]
    progress = [c["choices"][0]["livemind"] for c in chunks
                if c["choices"][0].get("livemind", {}).get("stage") == "answer"]
    assert {p["expert"] for p in progress} == {"general", "technical"}
    assert all("content" not in c["choices"][0]["delta"] for c in chunks
               if c["choices"][0].get("livemind", {}).get("stage") == "answer")
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] and last["livemind"]["strategy"] == "parallel"
    assert [a["expert"] for a in last["livemind"]["answers"]] == ["general", "technical"]
    assert content.strip()

