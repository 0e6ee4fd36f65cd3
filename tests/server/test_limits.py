"""The server's bounds and failure behaviour, in the test's own process over httpx's ASGI
transport with FakeBackend experts (named as such): the concurrency limit (503 overloaded +
Retry-After), the request timeout (504, or an error frame once streaming), a body that never
arrives (408), bodies nested too deep or holding NaN (400), a consensus whose synthesis fails,
and the published OpenAPI document. test_limits_real.py runs the same bounds on a real model
through a real server."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import httpx
import pytest
from fakes import FakeBackend

import livemind as lm
from livemind.config import LiveMindConfig
from livemind.server import create_app

Q = [{"role": "user", "content": "Hi"}]
SLOW = " ".join(["word"] * 60)           # 60 tokens at 0.05 s: three seconds of answer


def fake_app(limits: str = "", synth_fail: str | None = None, key: str | None = None):
    """The app over fakes named after the default team's experts (the config's names are checked
    against that team): ``writer`` is slow, ``general`` and ``technical`` answer at once, ``coder``
    synthesizes their consensus (failing as ``synth_fail`` says)."""
    experts = [lm.Expert("writer", backend=FakeBackend("fake-slow", token_seconds=0.05, reply=SLOW)),
               lm.Expert("general", backend=FakeBackend("fake-general")),
               lm.Expert("technical", backend=FakeBackend("fake-technical")),
               lm.Expert("coder", backend=FakeBackend("fake-synth", fail=synth_fail))]
    config = LiveMindConfig.from_toml_text(
        f'[server.limits]\n{limits}\n[consensus]\nexperts = ["general", "technical"]\nsynthesizer = "coder"\n'
        + (f'[server]\napi_key = "{key}"\n' if key else ""))
    return create_app(lm.LiveMind(lm.ExpertPool(experts)), config=config)


@asynccontextmanager
async def running(app):
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     timeout=30) as c:
            yield c


def frames(text: str) -> list:
    data = [line[len("data: "):] for line in text.splitlines() if line]
    assert data[-1] == "[DONE]"
    return [json.loads(f) for f in data[:-1]]


def in_flight(app) -> int:
    return sum(m.in_flight for m in app.state.mind.pool.stats().models.values())


def test_past_the_concurrency_limit_is_503_overloaded_with_retry_after():
    app = fake_app("max_concurrent_requests = 1\nretry_after = 2")

    async def go():
        async with running(app) as c:
            first = asyncio.create_task(c.post("/v1/chat/completions", json={"model": "writer", "messages": Q}))
            while not in_flight(app):
                await asyncio.sleep(0.01)
            busy = await c.post("/v1/chat/completions", json={"model": "general", "messages": Q})
            return await first, busy, await c.post("/v1/chat/completions", json={"model": "general", "messages": Q})

    first, busy, after = asyncio.run(go())
    assert first.status_code == 200 and after.status_code == 200
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "overloaded"
    assert busy.headers["retry-after"] == "2" and "limit 1" in busy.json()["error"]["message"]


def test_a_request_past_its_timeout_is_504_and_its_generation_is_cancelled():
    app = fake_app("request_timeout = 0.3")

    async def go():
        async with running(app) as c:
            r = await c.post("/v1/chat/completions", json={"model": "writer", "messages": Q})
            await asyncio.sleep(0.05)
            return r, in_flight(app), app.state.mind.pool.expert("writer").backend.in_flight()

    r, pool_in_flight, backend_in_flight = asyncio.run(go())
    assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert pool_in_flight == 0 and backend_in_flight == 0


def test_a_stream_past_its_timeout_ends_with_an_error_frame_then_done():
    app = fake_app("request_timeout = 0.5")

    async def go():
        async with running(app) as c:
            return await c.post("/v1/chat/completions", json={"model": "writer", "messages": Q, "stream": True})

    r = asyncio.run(go())
    assert r.status_code == 200
    chunks = frames(r.text)
    assert chunks[-1]["error"]["code"] == "timeout"
    assert any(ch["choices"][0]["delta"].get("content") for ch in chunks[1:-1])   # it had been answering


def test_a_body_that_does_not_arrive_in_time_is_408():
    app = fake_app("request_timeout = 0.3")

    async def body():
        yield b'{"messages": '
        await asyncio.sleep(2)
        yield b'[]}'

    async def go():
        async with running(app) as c:
            return await c.post("/v1/chat/completions", content=body())

    r = asyncio.run(go())
    assert r.status_code == 408 and r.json()["error"]["code"] == "request_timeout"


@pytest.mark.parametrize("body", [b"[" * 20000, b'{"messages": ' + b"[" * 40 + b"]" * 40 + b"}",
                                  b'{"messages": [], "temperature": NaN}', b'{"messages": [], "top_p": Infinity}',
                                  b'{"messages": [], "temperature": 1e999}'],
                         ids=["20000-deep", "40-deep", "NaN", "Infinity", "1e999"])
def test_bodies_too_deep_or_not_json_numbers_are_400_invalid_json(body):
    async def go():
        async with running(fake_app()) as c:
            return await c.post("/v1/chat/completions", content=body)

    r = asyncio.run(go())
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_a_body_just_within_the_depth_limit_is_parsed():
    nested = {"messages": Q, "model": "general", "metadata": {}}
    inner = nested["metadata"]
    for _ in range(28):                   # 30 levels with the body and metadata objects; the limit is 32
        inner["x"] = {}
        inner = inner["x"]

    async def go():
        async with running(fake_app()) as c:
            return await c.post("/v1/chat/completions", json=nested)

    assert asyncio.run(go()).status_code == 200


def test_a_consensus_whose_synthesis_fails_answers_with_an_expert_and_says_so():
    app = fake_app(synth_fail="load")

    async def go():
        async with running(app) as c:
            body = {"model": "livemind-parallel", "messages": Q}
            return (await c.post("/v1/chat/completions", json=body),
                    await c.post("/v1/chat/completions", json={**body, "stream": True}))

    whole, streamed = asyncio.run(go())
    assert whole.status_code == 200
    choice = whole.json()["choices"][0]
    assert choice["message"]["content"] == "fake-general says: Hi"             # the first listed expert
    assert choice["livemind"]["notices"][0]["code"] == "synthesis_failed"
    chunks = frames(streamed.text)
    content = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks if ch["choices"])
    assert content == "fake-general says: Hi"
    assert any((ch["choices"][0].get("livemind") or {}).get("notice", {}).get("code") == "synthesis_failed"
               for ch in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_synthesis_that_fails_mid_stream_is_an_error_frame():
    app = fake_app(synth_fail="stream")            # its first word goes out as content, then it fails

    async def go():
        async with running(app) as c:
            return await c.post("/v1/chat/completions", json={"model": "livemind-parallel", "messages": Q,
                                                              "stream": True})

    chunks = frames(asyncio.run(go()).text)
    assert chunks[-1]["error"]["code"] == "synthesis_failed"


def test_the_openapi_document_describes_the_chat_body_and_the_limits_without_a_key():
    app = fake_app("max_tokens = 64\nmax_n = 2", key="k")

    async def go():
        async with running(app) as c:
            return await c.get("/openapi.json")

    r = asyncio.run(go())
    assert r.status_code == 200
    doc = r.json()
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletionRequest")
    assert chat["security"] == [{"bearer": []}] and "401" in chat["responses"] and "422" not in chat["responses"]
    assert "security" not in doc["paths"]["/health"]["get"]
    request = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert request["model"]["enum"] == ["livemind-auto", "livemind-parallel", "livemind-turns",
                                        "writer", "general", "technical", "coder"]
    assert request["max_tokens"]["anyOf"][0]["maximum"] == 64 and request["n"]["maximum"] == 2
    assert doc["components"]["schemas"]["ChatMessage"]["properties"]["role"]["enum"] == [
        "system", "developer", "user", "assistant"]
