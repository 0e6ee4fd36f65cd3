"""``create_app`` inside the test's own process, over httpx's ASGI transport: the cases that need
a team arranged just so — a memory budget that fits one model at a time (503 + Retry-After), an
expert that fails mid-stream (an error frame, then [DONE]), the app mounted in another app.
The experts here are FakeBackend (named as such); the real path is tested in the other files."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx
import openai
import pytest
from fakes import FakeBackend
from fastapi import FastAPI

import livemind as lm
from livemind.config import LiveMindConfig
from livemind.server import create_app

MIB = 1 << 20
Q = [{"role": "user", "content": "Hi"}]


def fake_mind() -> lm.LiveMind:
    experts = [
        lm.Expert("slow", backend=FakeBackend("fake-slow", nbytes=700 * MIB, token_seconds=0.02,
                                              reply=" ".join(["word"] * 60))),
        lm.Expert("other", backend=FakeBackend("fake-other", nbytes=700 * MIB)),
        lm.Expert("broken", backend=FakeBackend("fake-broken", nbytes=10 * MIB, fail="stream")),
    ]
    pool = lm.ExpertPool(experts, governor=lm.MemoryGovernor(budget_bytes=1024 * MIB))
    return lm.LiveMind(pool)


@asynccontextmanager
async def running(app):
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c


def test_memory_short_now_is_503_with_retry_after():
    app = create_app(fake_mind())

    async def go():
        async with running(app) as c:
            first = asyncio.create_task(c.post("/v1/chat/completions", json={"model": "slow", "messages": Q}))
            pool = app.state.mind.pool
            while not any(m.in_flight for m in pool.stats().models.values()):
                await asyncio.sleep(0.01)
            oa = openai.AsyncOpenAI(base_url="http://test/v1", api_key="unused", http_client=c, max_retries=0)
            with pytest.raises(openai.APIStatusError) as e:
                await oa.chat.completions.create(model="other", messages=Q)
            return await first, e.value

    first, second = asyncio.run(go())
    assert first.status_code == 200 and first.json()["choices"][0]["message"]["content"].startswith("word")
    assert isinstance(second, openai.InternalServerError) and second.status_code == 503
    assert second.body["code"] == "memory_budget_exceeded" and "of a 1024 MiB budget" in second.body["message"]
    assert int(second.response.headers["retry-after"]) >= 1


def test_error_after_the_stream_started_is_an_error_frame_then_done():
    app = create_app(fake_mind())

    async def go():
        async with running(app) as c:
            return await c.post("/v1/chat/completions", json={"model": "broken", "messages": Q, "stream": True})

    r = asyncio.run(go())
    assert r.status_code == 200
    frames = [line[len("data: "):] for line in r.text.splitlines() if line]
    assert frames[-1] == "[DONE]"
    error = json.loads(frames[-2])
    assert set(error) == {"error"} and error["error"]["code"] == "backend_error"
    first = json.loads(frames[0])
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert not any(json.loads(f)["choices"][0].get("finish_reason") for f in frames[:-2])


def test_health_says_degraded_while_a_dead_engine_waits_for_its_reload():
    app = create_app(fake_mind())

    async def go():
        async with running(app) as c:
            ok = await c.post("/v1/chat/completions", json={"model": "other", "messages": Q})
            backend = app.state.mind.pool.expert("other").backend
            backend.healthy = False                      # the fake's engine "died"
            degraded = (await c.get("/health")).json()
            again = await c.post("/v1/chat/completions", json={"model": "other", "messages": Q})
            return ok, degraded, again, (await c.get("/health")).json(), backend.loads

    ok, degraded, again, healthy, loads = asyncio.run(go())
    assert ok.status_code == 200 and again.status_code == 200
    assert degraded == {"status": "degraded", "unhealthy": ["fake-other"]}
    assert healthy == {"status": "ok"} and loads == 2   # reloaded by the next request


def test_the_app_mounts_inside_another_app():
    inner = create_app(fake_mind(), config=LiveMindConfig.from_toml_text('[server]\napi_key = "k"'))

    @asynccontextmanager
    async def lifespan(app):
        async with inner.router.lifespan_context(inner):
            yield

    outer = FastAPI(lifespan=lifespan)
    outer.mount("/llm", inner)

    async def go():
        async with running(outer) as c:
            denied = await c.get("/llm/v1/models")
            r = await c.post("/llm/v1/chat/completions", headers={"Authorization": "Bearer k"},
                             json={"model": "other", "messages": Q, "max_tokens": 5})
            return denied, r

    denied, r = asyncio.run(go())
    assert denied.status_code == 401
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "fake-other says: Hi"


def test_the_server_package_is_optional():
    code = ("import sys, livemind, livemind.config, livemind.cli; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
