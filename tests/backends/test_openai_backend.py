"""OpenAIBackend against a real ``livemind serve`` process (context 512, an API key): greedy
answers equal the server's own, usage, stop strings, a mixed pool (a native expert beside the
remote one), error mapping, and cancellation reaching the server. What a real server does only
under load (503 + Retry-After) is scripted on a fake server (fakeopenai.py) to test the retries."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing

import pytest
from fakeopenai import MODEL, FakeOpenAI, error, stream
from serverproc import API_KEY, TEST_CONFIG, Server, wait_idle

import livemind as lm
from livemind.backends import GenerationRequest, OpenAIBackend

pytestmark = [pytest.mark.anyio, pytest.mark.models, pytest.mark.timeout(120)]
QUESTION = ({"role": "user", "content": "What is the capital of France?"},)
GREEDY = GenerationRequest(messages=QUESTION, max_tokens=12, temperature=0)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("openai-backend"), TEST_CONFIG, "--api-key", API_KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reference(server) -> str:
    """The server's own non-streamed greedy answer to QUESTION."""
    import openai

    client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
    r = client.chat.completions.create(model="general", messages=list(QUESTION), max_tokens=12, temperature=0)
    client.close()
    return r.choices[0].message.content


@pytest.fixture
async def remote(server):
    backend = OpenAIBackend(server.url + "/v1", "general", api_key=API_KEY, context=512)
    await backend.load()
    yield backend
    await backend.unload()


async def collect(backend, request) -> tuple[str, lm.backends.Delta]:
    deltas = [d async for d in backend.stream(request)]
    assert all(d.finish_reason is None for d in deltas[:-1])
    return "".join(d.text for d in deltas), deltas[-1]


async def test_greedy_stream_equals_the_servers_answer_with_usage(server, remote, reference):
    assert remote.key == f"openai:{server.url}/v1:general" and remote.loaded
    assert remote.memory_estimate().total == 0 and remote.capabilities().local_memory is False
    assert remote.capabilities().context == 512
    text, last = await collect(remote, GREEDY)
    assert text == reference and text
    assert last.finish_reason in ("stop", "length") and last.prompt_tokens > 0 and last.completion_tokens > 0
    assert last.ttft_s > 0
    assert remote.in_flight() == 0
    assert "general" in await remote.list_models()


async def test_stop_strings_end_the_answer(remote, reference):
    words = reference.split()
    assert len(words) >= 3, reference
    stop = words[2]
    text, last = await collect(remote, GREEDY.model_copy(update={"stop": (stop,)}))
    assert text == reference[:reference.index(stop)] and last.finish_reason == "stop"


async def test_a_prompt_instead_of_messages_is_one_user_message(remote, reference):
    text, _ = await collect(remote, GenerationRequest(prompt=QUESTION[0]["content"], max_tokens=12, temperature=0))
    assert text == reference


async def test_mixed_pool_routes_to_and_consults_the_remote_expert(server, smollm2_path, reference):
    experts = [lm.Expert("local", model="smollm2-135m-instruct", description="on this machine"),
               lm.Expert("remote", backend=OpenAIBackend(server.url + "/v1", "general", api_key=API_KEY),
                         description="on the server")]
    pool = lm.ExpertPool(experts, max_loaded=2)
    async with lm.LiveMind(pool) as mind:
        routed = await mind.ask(list(QUESTION), expert="remote", max_tokens=12, temperature=0)
        assert routed.text == reference and routed.experts == ["remote"]
        both = await mind.ask(list(QUESTION), strategy=lm.Parallel(["local", "remote"]), max_tokens=8, temperature=0)
        by_name = {a.expert: a for a in both.answers}
        assert by_name["local"].text and by_name["remote"].text and by_name["remote"].error is None
        assert by_name["remote"].text == reference[:len(by_name["remote"].text)]
        assert both.text
        stats = pool.stats()
    remote_stats = next(m for k, m in stats.models.items() if k.startswith("openai:"))
    assert remote_stats.estimate_bytes == 0   # the governor charges nothing for the server's memory


async def test_unknown_model_fails_at_load_naming_what_the_server_offers(server):
    backend = OpenAIBackend(server.url + "/v1", "no-such-model", api_key=API_KEY)
    with pytest.raises(lm.ModelLoadError, match="no-such-model") as info:
        await backend.load()
    assert "general" in info.value.reason and not backend.loaded


async def test_wrong_api_key_fails_at_load(server):
    backend = OpenAIBackend(server.url + "/v1", "general", api_key="sk-wrong")
    with pytest.raises(lm.ModelLoadError, match="API key"):
        await backend.load()


async def test_unreachable_server_fails_at_load():
    from serverproc import free_port

    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "general", timeout=5)
    with pytest.raises(lm.ModelLoadError, match="cannot reach"):
        await backend.load()


async def test_a_prompt_too_long_is_a_context_length_error(remote):
    long_text = "Tell me everything about this: " + "lorem ipsum dolor sit amet " * 200
    with pytest.raises(lm.ContextLengthError) as info:
        await collect(remote, GenerationRequest(messages=({"role": "user", "content": long_text},), max_tokens=8))
    assert info.value.n_ctx == 512 and info.value.n_tokens > 512
    assert "lorem" not in str(info.value)
    assert remote.in_flight() == 0


async def test_breaking_off_closes_the_stream_on_the_server(server, remote):
    before = server.stats()["server"]["disconnects"]
    request = GenerationRequest(messages=({"role": "user", "content": "Count from 1 to 500, one per line."},),
                                max_tokens=400, temperature=0)
    async with aclosing(remote.stream(request)) as deltas:
        async for delta in deltas:
            assert delta.text
            assert remote.in_flight() == 1
            break
    assert remote.in_flight() == 0
    stats = await asyncio.to_thread(wait_idle, server, 5.0)
    assert stats["server"]["in_flight"] == 0
    assert sum(m["in_flight"] for m in stats["pool"]["models"].values()) == 0
    assert stats["server"]["disconnects"] == before + 1


# ---------------------------------------------------------------------- scripted server: retries


async def fake_backend(fake: FakeOpenAI, **kwargs) -> OpenAIBackend:
    backend = OpenAIBackend(fake.url, MODEL, api_key="sk-fake", timeout=10, **kwargs)
    await backend.load()
    return backend


async def test_503_with_retry_after_is_retried_then_succeeds():
    async with FakeOpenAI([error(503, "busy", "memory_budget_exceeded", **{"retry-after": "1"}),
                           stream("Hel", "lo")]) as fake:
        backend = await fake_backend(fake, max_retries=2)
        t0 = time.monotonic()
        text, last = await collect(backend, GenerationRequest(prompt="Hi", max_tokens=4))
        waited = time.monotonic() - t0
        await backend.unload()
    assert text == "Hello" and last.finish_reason == "stop" and last.completion_tokens == 2
    assert len(fake.chats) == 2 and waited >= 0.9   # Retry-After: 1 honoured between the two attempts


async def test_429_retries_run_out_with_retry_after_in_the_error():
    async with FakeOpenAI([error(429, "slow down", **{"retry-after": "0"})] * 3) as fake:
        backend = await fake_backend(fake, max_retries=2)
        with pytest.raises(lm.BackendError, match="429") as info:
            await collect(backend, GenerationRequest(prompt="Hi"))
        await backend.unload()
    assert len(fake.chats) == 3 and info.value.retry_after == 0


@pytest.mark.parametrize("status", [401, 403, 404, 500, 507])
async def test_other_failures_are_not_retried(status):
    async with FakeOpenAI([error(status, "no", "whatever", **{"retry-after": "0"})]) as fake:
        backend = await fake_backend(fake, max_retries=3)
        with pytest.raises(lm.BackendError, match=str(status)):
            await collect(backend, GenerationRequest(prompt="Hi"))
        await backend.unload()
    assert len(fake.chats) == 1


async def test_x_should_retry_false_is_respected():
    async with FakeOpenAI([error(503, "never", **{"retry-after": "0", "x-should-retry": "false"})]) as fake:
        backend = await fake_backend(fake)
        with pytest.raises(lm.BackendError):
            await collect(backend, GenerationRequest(prompt="Hi"))
        await backend.unload()
    assert len(fake.chats) == 1


async def test_an_error_frame_mid_stream_is_a_backend_error_after_the_tokens():
    status, headers, body = stream("partial")
    broken = body.split(b"data: {\"id\"")[0:3]   # the role chunk and the first content chunk
    broken = b"data: {\"id\"".join(broken) + b'data: {"error": {"message": "engine died", "code": "boom"}}\n\n'
    async with FakeOpenAI([(status, headers, broken)]) as fake:
        backend = await fake_backend(fake)
        seen = []
        with pytest.raises(lm.BackendError, match="engine died"):
            async for d in backend.stream(GenerationRequest(prompt="Hi")):
                seen.append(d.text)
        assert seen == ["partial"] and backend.in_flight() == 0
        await backend.unload()


async def test_error_messages_never_quote_the_prompt():
    secret = "my secret prompt text that the server echoes back"
    async with FakeOpenAI([error(400, f"bad input: '{secret[:30]}...'"), error(400, f"bad: {secret}")]) as fake:
        backend = await fake_backend(fake)
        for _ in range(2):
            with pytest.raises(lm.BackendError) as info:
                await collect(backend, GenerationRequest(prompt=secret))
            assert "secret" not in str(info.value) and "[prompt]" in str(info.value)
        await backend.unload()


async def test_sampling_reaches_the_server():
    async with FakeOpenAI([stream("a"), stream("b")]) as fake:
        backend = await fake_backend(fake)
        await collect(backend, GenerationRequest(prompt="Hi", max_tokens=7, temperature=0.2, top_p=0.5, seed=9,
                                                 stop=("x",), top_k=5, min_p=0.1, repetition_penalty=1.2))
        await collect(backend, GenerationRequest(messages=QUESTION))
        await backend.unload()
    first, second = fake.chats
    assert first["messages"] == [{"role": "user", "content": "Hi"}] and first["model"] == MODEL
    assert (first["max_tokens"], first["temperature"], first["top_p"], first["seed"], first["stop"]) == (
        7, 0.2, 0.5, 9, ["x"])
    assert (first["top_k"], first["min_p"], first["repetition_penalty"]) == (5, 0.1, 1.2)
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert not {"top_k", "min_p", "repetition_penalty", "seed", "stop"} & set(second)   # defaults stay home
