"""Faults on a real ``livemind serve`` with the packaged models, and what they leave behind: a
client that leaves before its first token, SIGTERM with requests in flight, an engine that dies
mid-stream, an engine step that fails (and the engine goes on), 200 clients that give up at once,
and a parallel and a turns consensus under a real cgroup memory limit. Each test starts a server of its own (but the first, which uses the session's), since each
ends or breaks one. docs/server.md ("Limits and failure behaviour", "Shutting down") is the
contract these hold the server to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from faulty_serve import arm
from serverproc import API_KEY, TEST_CONFIG, Server, wait_idle

HERE = Path(__file__).parent
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# the base model continues a story without an end-of-turn token: its answer lasts max_tokens
STORY = [{"role": "user", "content": "Once upon a time, in a far kingdom,"}]


def chat(server, body: dict, timeout: float = 60) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=timeout)


def all_idle(stats: dict) -> bool:
    return stats["server"]["in_flight"] == 0 and all(
        m["in_flight"] == m["generating"] == 0 for m in stats["pool"]["models"].values())


def frames_of(server, body: dict, out: list, began: threading.Event | None = None) -> None:
    """Streams ``body`` into ``out`` (each ``data:`` payload, parsed unless [DONE]); sets
    ``began`` at the first content token."""
    try:
        with httpx.stream("POST", server.url + "/v1/chat/completions", json={**body, "stream": True},
                          headers=AUTH, timeout=120) as r:
            out.append(r.status_code)
            for line in r.iter_lines():
                if not line:
                    continue
                payload = line[len("data: "):]
                out.append(payload if payload == "[DONE]" else json.loads(payload))
                if began is not None and isinstance(out[-1], dict) and any(
                        c["delta"].get("content") for c in out[-1].get("choices", [])):
                    began.set()
    except httpx.HTTPError as exc:   # the test looks at what arrived; this says why it stopped
        out.append(exc)
    finally:
        if began is not None:
            began.set()


def begin_streams(server, *bodies: dict) -> tuple[list[list], list[threading.Thread]]:
    """Streams each of ``bodies`` in a thread of its own (into a list, as :func:`frames_of`
    does); returns the lists and threads once every stream has had its first content token."""
    frames, began = [[] for _ in bodies], [threading.Event() for _ in bodies]
    threads = [threading.Thread(target=frames_of, args=(server, body, out, b))
               for body, out, b in zip(bodies, frames, began)]
    for t in threads:
        t.start()
    for b in began:
        assert b.wait(60)
    return frames, threads


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (zombies excluded: they are gone but for a
    parent's wait)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


# ---------------------------------------------------------------------------- disconnects


def test_a_client_that_leaves_before_its_first_token_cancels_the_prefill(server):
    """The request is accepted and its prompt is being read into the model when the client closes
    the connection; no byte of the response has been sent. The generation is cancelled at the
    next engine step: in-flight counts, pool leases and the model's KV slots are back to zero long
    before the prompt alone would have taken."""
    before = server.stats()["server"]
    # ~330 tokens: two 256-token prefill chunks, seconds on this engine
    prompt = " ".join(f"item {i} is ok;" for i in range(64))
    body = json.dumps({"model": "general", "messages": [{"role": "user", "content": prompt}],
                       "max_tokens": 50, "temperature": 0, "stream": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(head + body)
        deadline = time.monotonic() + 20
        while True:   # until the model holds the sequence (loading, then prefilling it)
            s = server.stats()
            if any(m["generating"] for m in s["pool"]["models"].values()):
                break
            assert time.monotonic() < deadline, f"the request never reached the model: {s}"
            time.sleep(0.02)
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):   # nothing sent yet: we are before the first token
            sock.recv(1)
    finally:
        sock.close()
    t0 = time.monotonic()
    idle = wait_idle(server)
    assert all_idle(idle), idle
    assert time.monotonic() - t0 < 5
    assert idle["server"]["disconnects"] == before["disconnects"] + 1
    assert idle["server"]["completion_tokens"] == before["completion_tokens"]   # it never answered


# ---------------------------------------------------------------------------- SIGTERM


def test_sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_leaving_no_process(tmp_path):
    grace = 2.0   # the long request outlasts it: 500 tokens (the context) take > 3 s on 2 threads
    srv = Server(tmp_path, TEST_CONFIG + f"\n[server]\nshutdown_grace = {grace}\n", "--api-key", API_KEY)
    try:
        for model in ("general", "writer"):   # loaded now, so that the grace is all generation
            assert chat(srv, {"model": model, "messages": STORY, "max_tokens": 2}).status_code == 200
        story = {"model": "writer", "messages": STORY, "temperature": 0}
        (short, long_), threads = begin_streams(srv, {**story, "max_tokens": 12}, {**story, "max_tokens": 2000})
        members = group_members(srv.proc.pid)
        assert srv.proc.pid in members
        t_term = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = chat(srv, {"model": "general", "messages": STORY, "max_tokens": 2}, timeout=10)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "shutting_down" and int(refused.headers["Retry-After"]) >= 1
        assert httpx.get(srv.url + "/health", timeout=5).status_code == 200   # still listening while it drains
        for t in threads:
            t.join(grace + 30)
        # the short one finished within the grace, as if nothing happened
        assert short[0] == 200 and short[-1] == "[DONE]", short[-3:]
        finishes = [c["finish_reason"] for f in short[1:-1] if isinstance(f, dict) for c in f.get("choices", [])
                    if c.get("finish_reason")]
        assert finishes == ["length"], short[-3:]
        # the long one was ended at the grace: an error frame, then [DONE]
        assert long_[0] == 200 and long_[-1] == "[DONE]", long_[-3:]
        assert long_[-2]["error"]["code"] == "shutting_down", long_[-3:]
        assert not any(isinstance(f, Exception) for f in short + long_)
        code = srv.proc.wait(grace + 30)
        took = time.monotonic() - t_term
        assert code in (0, -signal.SIGTERM), code   # uvicorn re-raises the signal it drained for
        assert took < grace + 10, f"exited {took:.1f} s after SIGTERM"
        assert group_members(srv.proc.pid) == [], "processes outlived the server"
        assert "Traceback" not in srv.log.read_text(), srv.log.read_text()[-3000:]
    finally:
        srv.stop()   # closes the log; a no-op for the process once it exited


# ---------------------------------------------------------------------------- a backend dies


def test_an_engine_that_dies_mid_stream_ends_it_with_an_error_and_the_next_request_reloads(tmp_path):
    kill = tmp_path / "kill-engine"
    srv = Server(tmp_path, TEST_CONFIG, "--api-key", API_KEY, launcher=[str(HERE / "faulty_serve.py")],
                 env={"LIVEMIND_TEST_KILL_ENGINE": str(kill)})
    try:
        (frames,), (t,) = begin_streams(srv, {"model": "writer", "messages": STORY, "max_tokens": 1000,
                                              "temperature": 0})
        kill.touch()                          # the engine thread dies at its next step
        t.join(60)
        assert not kill.exists(), "the fault never fired"
        assert frames[0] == 200 and frames[-1] == "[DONE]", frames[-3:]
        assert frames[-2]["error"]["code"] == "backend_error", frames[-3:]
        sick = httpx.get(srv.url + "/health", timeout=5).json()
        assert sick["status"] == "degraded" and len(sick["unhealthy"]) == 1 and "gemma" in sick["unhealthy"][0]
        loads = srv.stats()["pool"]["counters"]["loads"]
        # the general model shares nothing with the dead one: it answers meanwhile
        assert chat(srv, {"model": "general", "messages": STORY, "max_tokens": 4}).status_code == 200
        again = chat(srv, {"model": "writer", "messages": STORY, "max_tokens": 8, "temperature": 0})
        assert again.status_code == 200, again.text
        assert again.json()["choices"][0]["message"]["content"]
        stats = wait_idle(srv)
        assert stats["pool"]["counters"]["unloads"]["unhealthy"] == 1
        assert stats["pool"]["counters"]["loads"] == loads + 2           # general's first, writer's reload
        assert httpx.get(srv.url + "/health", timeout=5).json() == {"status": "ok"}
        assert all_idle(stats), stats
    finally:
        srv.stop()


def test_a_failed_engine_step_ends_only_its_requests_and_the_engine_serves_on(tmp_path):
    """The writer's forward step raises (an ordinary exception, as a failing kernel call would):
    the requests in that step end with an OpenAI error, a stream's as an error frame then [DONE],
    a whole answer's as a 502; the general model's stream meanwhile finishes as if nothing
    happened. The writer's engine thread survives: its next answer is the one it gave before,
    without a reload, and /health never says degraded."""
    fail = tmp_path / "fail-step"
    srv = Server(tmp_path, TEST_CONFIG, "--api-key", API_KEY, launcher=[str(HERE / "faulty_serve.py")],
                 env={"LIVEMIND_TEST_FAIL_STEP": str(fail)})
    ask = {"model": "writer", "messages": STORY, "max_tokens": 8, "temperature": 0}
    try:
        expected = chat(srv, ask)
        assert expected.status_code == 200, expected.text
        assert chat(srv, {"model": "general", "messages": STORY, "max_tokens": 2}).status_code == 200
        loads = srv.stats()["pool"]["counters"]["loads"]
        (writer, general), threads = begin_streams(srv, {**ask, "max_tokens": 1000},
                                                   {**ask, "model": "general", "max_tokens": 48})
        arm(fail, "gemma")                    # the writer's next step fails
        for t in threads:
            t.join(60)
        assert not fail.exists(), "the fault never fired"
        assert writer[0] == 200 and writer[-1] == "[DONE]", writer[-3:]
        assert writer[-2]["error"]["code"] == "backend_error" and writer[-2]["error"]["type"] == "server_error", writer[-3:]
        assert general[0] == 200 and general[-1] == "[DONE]", general[-3:]
        assert not any(isinstance(f, Exception) or "error" in f for f in general[1:-1] if not isinstance(f, str)), general
        assert [c["finish_reason"] for f in general[1:-1] for c in f["choices"] if c.get("finish_reason")] in (
            ["stop"], ["length"]), general[-3:]
        assert httpx.get(srv.url + "/health", timeout=5).json() == {"status": "ok"}

        arm(fail, "gemma")                    # now a whole answer's first step
        whole = chat(srv, ask)
        assert not fail.exists(), "the fault never fired"
        assert whole.status_code == 502, whole.text
        assert whole.json()["error"]["code"] == "backend_error" and set(whole.json()["error"]) == {
            "message", "type", "param", "code"}
        again = chat(srv, ask)
        assert again.status_code == 200, again.text
        assert again.json()["choices"][0]["message"]["content"] == expected.json()["choices"][0]["message"]["content"]

        stats = wait_idle(srv)
        assert all_idle(stats), stats
        assert stats["pool"]["counters"]["loads"] == loads                 # nothing was reloaded
        assert stats["pool"]["counters"]["unloads"]["unhealthy"] == 0
        assert all(m["healthy"] for m in stats["pool"]["models"].values()), stats["pool"]["models"]
        assert httpx.get(srv.url + "/health", timeout=5).json() == {"status": "ok"}
        assert "Traceback" not in srv.log.read_text(), srv.log.read_text()[-3000:]
    finally:
        srv.stop()


# ---------------------------------------------------------------------------- 200 clients


def test_two_hundred_clients_that_time_out_at_once_leave_nothing_behind(tmp_path):
    """Room for all of them (so that each waits rather than being refused): 8 in the model's KV
    slots, the rest in its queue; half stream, half wait for a whole answer. They all give up
    after 3 s; a fresh request right after is answered, and every count is back to zero."""
    config = TEST_CONFIG.replace("[pool]\n", "[pool]\nmax_waiting = 256\n") + \
        "\n[server.limits]\nmax_concurrent_requests = 256\n"
    srv = Server(tmp_path, config, "--api-key", API_KEY)
    try:
        assert chat(srv, {"model": "writer", "messages": STORY, "max_tokens": 2}).status_code == 200   # loaded
        outcomes = asyncio.run(_impatient_clients(srv, 200, give_up=3.0))
        assert outcomes == {"timed out": 200}, outcomes
        t0 = time.monotonic()
        fresh = chat(srv, {"model": "writer", "messages": STORY, "max_tokens": 8, "temperature": 0}, timeout=120)
        assert fresh.status_code == 200 and fresh.json()["choices"][0]["message"]["content"], fresh.text
        answered_in = time.monotonic() - t0
        stats = wait_idle(srv, timeout=30)
        assert all_idle(stats), (stats, answered_in)
        assert stats["server"]["disconnects"] == 200
    finally:
        srv.stop()


async def _impatient_clients(srv, n: int, give_up: float) -> dict[str, int]:
    body = {"model": "writer", "messages": STORY, "max_tokens": 1000, "temperature": 0}
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=srv.url, headers=AUTH, limits=limits, timeout=60) as client:
        async def one(i: int) -> str:   # the whole request within give_up, as a client's deadline
            try:
                async with asyncio.timeout(give_up):
                    if i % 2:
                        async with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                            async for _ in r.aiter_lines():
                                pass
                        return f"finished {r.status_code}"
                    r = await client.post("/v1/chat/completions", json=body)
                    return f"answered {r.status_code}"
            except (TimeoutError, httpx.TimeoutException):
                return "timed out"
        results = await asyncio.gather(*(one(i) for i in range(n)))
    counts: dict[str, int] = {}
    for r in results:
        counts[r] = counts.get(r, 0) + 1
    return counts


# ---------------------------------------------------------------------------- a real memory limit


class MemoryCgroup:
    """A memory cgroup of its own under this process's, limited to ``limit`` bytes: cgroup v2
    (``memory.max``) or v1 (``memory.limit_in_bytes``), whichever holds the memory controller
    here. Needs the right to make one (root in a container that delegates it); a machine without
    it fails the test saying so, since this test is the only one of the governor under a limit
    the kernel enforces."""

    def __init__(self, name: str, limit: int):
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        v1 = [ln.split(":", 2)[2] for ln in lines if "memory" in ln.split(":", 2)[1].split(",")]
        if v1:
            self.version, self.dir = 1, Path("/sys/fs/cgroup/memory") / v1[0].lstrip("/") / name
        else:
            own = next(ln.split(":", 2)[2] for ln in lines if ln.startswith("0::"))
            self.version, self.dir = 2, Path("/sys/fs/cgroup") / own.lstrip("/") / name
        try:
            self.dir.mkdir(exist_ok=True)
            if self.version == 2 and "memory" not in (self.dir / "cgroup.controllers").read_text().split():
                (self.dir.parent / "cgroup.subtree_control").write_text("+memory")
            limit_file = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
            (self.dir / limit_file).write_text(str(limit))
            if self.version == 2:
                (self.dir / "memory.swap.max").write_text("0")
            elif (self.dir / "memory.memsw.limit_in_bytes").exists():
                (self.dir / "memory.memsw.limit_in_bytes").write_text(str(limit))
        except OSError as exc:
            pytest.fail(f"cannot make a memory cgroup at {self.dir} ({exc}); this test needs one "
                        "(run as root on a machine whose cgroups are writable)")
        self.limit = limit

    def enter(self) -> None:
        """Moves the calling process into the cgroup: a ``preexec_fn``, so that a child and all
        it starts are limited from their first byte."""
        with open(self.dir / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def oom_kills(self) -> int:
        text = (self.dir / ("memory.events" if self.version == 2 else "memory.oom_control")).read_text()
        found = re.search(r"^oom_kill (\d+)", text, re.M)
        return int(found.group(1)) if found else 0

    def close(self) -> None:
        try:
            self.dir.rmdir()
        except OSError:
            pass


CGROUP_CONFIG = """
[pool]
context = 512
warm = []

[router]
kind = "first"

[consensus]
experts = ["general", "writer"]
synthesizer = "general"
"""


@contextlib.contextmanager
def _consensus_in_cgroup(tmp_path, model: str, limit_mib: int):
    """``livemind serve`` in a memory cgroup of ``limit_mib``, asked once for ``model``: yields the
    server, the response and what to show on failure, having checked that the server is alive and
    the OOM killer never ran; after the test's own checks, that /health is ok."""
    cg = MemoryCgroup(f"livemind-test-{os.getpid()}-{model}-{limit_mib}", limit_mib << 20)
    srv = None
    try:
        srv = Server(tmp_path, CGROUP_CONFIG, "--api-key", API_KEY, preexec_fn=cg.enter)
        r = chat(srv, {"model": model, "messages": [{"role": "user", "content": "Name a colour."}],
                       "max_tokens": 12, "temperature": 0}, timeout=300)
        said = f"{r.status_code} {r.text}\nserver log:\n{srv.log.read_text()[-3000:]}"
        assert srv.proc.poll() is None and cg.oom_kills() == 0, said
        yield srv, r, said
        assert httpx.get(srv.url + "/health", timeout=5).json() == {"status": "ok"}
    finally:
        if srv is not None:
            srv.stop()
        cg.close()


@pytest.mark.parametrize("limit_mib", [400, 200])
def test_a_parallel_consensus_under_a_real_memory_limit_is_never_oom_killed(tmp_path, limit_mib):
    """``livemind serve`` inside a memory cgroup, asked for livemind-parallel (general, writer).
    The governor's budget is 90 % of the limit; at a 512 context SmolLM2 (general) needs ~230 MiB,
    Gemma-3-270M (writer) ~406 MiB, the server itself ~100 MiB. Under 400 MiB general fits and
    writer never can: the answer is general's, and its details name only general, with writer's
    refusal naming the budget. Under 200 MiB neither fits: 507 model_too_large naming the budget.
    Never the kernel's OOM killer; the server answers /health after, nothing in flight."""
    with _consensus_in_cgroup(tmp_path, "livemind-parallel", limit_mib) as (srv, r, said):
        budget = limit_mib * 9 // 10
        if limit_mib == 400:
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"], said
            assert r.json()["livemind"]["experts"] == ["general"], said
            general, writer = r.json()["choices"][0]["livemind"]["answers"]
            assert general["expert"] == "general" and "error" not in general and general["text"], said
            assert writer["expert"] == "writer" and re.search(
                rf"needs \d+ MiB; \d+ MiB free of a {budget} MiB budget \(can never fit", writer["error"]), said
        else:
            assert r.status_code == 507 and r.json()["error"]["code"] == "model_too_large", said
            assert f"whole memory budget ({budget} MiB)" in r.json()["error"]["message"], said
            assert r.headers["x-should-retry"] == "false", said
        assert all_idle(wait_idle(srv)), said


def test_a_turns_consensus_under_a_real_memory_limit_swaps_its_experts(tmp_path):
    """``livemind serve`` inside a 600 MiB memory cgroup, asked for livemind-turns (general, then
    writer, then general's synthesis). SmolLM2 (general, ~230 MiB at a 512 context) and
    Gemma-3-270M (writer, ~406 MiB) each fit the 540 MiB budget beside the server, but not both
    at once: the pool unloads one to load the other, every expert answers, the kernel's OOM killer
    never runs, and the server is idle and healthy after."""
    with _consensus_in_cgroup(tmp_path, "livemind-turns", 600) as (srv, r, said):
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"], said
        answers = r.json()["choices"][0]["livemind"]["answers"]
        assert [a["expert"] for a in answers] == ["general", "writer"], said
        assert all("error" not in a and a["text"] for a in answers), said
        stats = wait_idle(srv)
        assert all_idle(stats), said
        counters = stats["pool"]["counters"]
        # the governor made the room: writer's load unloaded general, the synthesis writer
        assert counters["unloads"]["memory"] >= 2 and counters["loads"] >= 3, f"{counters}\n{said}"
