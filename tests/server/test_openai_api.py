"""The server through the official ``openai`` client, as an application would use it: a real
``livemind serve`` process on the packaged models (see conftest.py)."""

from __future__ import annotations

import asyncio

import openai
import pytest
from serverproc import wait_idle

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_models_lists_every_expert_and_the_virtual_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["livemind-auto", "livemind-parallel", "livemind-turns"]
    assert set(ids[3:]) == {"general", "technical", "coder", "writer", "multilingual"}
    assert client.models.retrieve("coder").livemind["kind"] == "expert"
    assert client.models.retrieve("livemind-turns").livemind["experts"] == ["general", "technical"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_routed_completion_answers_with_usage_and_the_route(client):
    r = client.chat.completions.create(model="livemind-auto", messages=QUESTION, max_tokens=12, temperature=0)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert "Paris" in r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    details = r.choices[0].livemind
    assert details["route"]["expert"] in ("general", "technical") and details["route"]["scores"]
    assert r.livemind["strategy"] == "single"


def test_max_tokens_ends_with_length(client):
    r = client.chat.completions.create(model="general", messages=[{"role": "user", "content": "Tell me a story."}],
                                       max_completion_tokens=3, temperature=0)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3


def test_the_end_of_the_context_ends_with_length_in_both_modes(client):
    """The server's context is 512: a base model asked for 2000 tokens runs into it (greedy, it
    repeats itself rather than ending its turn) and the answer says it was cut off."""
    story = [{"role": "user", "content": "Once upon a time, in a far kingdom,"}]
    r = client.chat.completions.create(model="writer", messages=story, max_tokens=2000, temperature=0)
    assert r.choices[0].finish_reason == "length", r.usage
    assert r.usage.prompt_tokens + r.usage.completion_tokens >= 500
    chunks = list(client.chat.completions.create(model="writer", messages=story, max_tokens=2000, temperature=0,
                                                 stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]


def test_stop_string_cuts_the_answer_before_it(client):
    ask = dict(model="general", messages=[{"role": "user", "content": "Name three colors."}], max_tokens=16,
               temperature=0)
    full = client.chat.completions.create(**ask).choices[0].message.content
    words = [w for w in full.split() if len(w) >= 3]
    assert len(words) >= 2, full
    stop = words[1]
    cut = client.chat.completions.create(**ask, stop=[stop]).choices[0]
    assert cut.message.content == full[:full.index(stop)]
    assert cut.finish_reason == "stop"


def test_seed_makes_sampling_reproducible(client):
    ask = dict(model="general", messages=[{"role": "user", "content": "Write a line about the sea."}],
               max_tokens=12, temperature=1.0, seed=1234)
    a = client.chat.completions.create(**ask).choices[0].message.content
    b = client.chat.completions.create(**ask).choices[0].message.content
    assert a == b and a


def test_n_runs_n_generations(client):
    r = client.chat.completions.create(model="general", messages=QUESTION, max_tokens=6, n=2, temperature=1.0, seed=5)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content for c in r.choices)
    # each choice is its own generation: usage adds them up
    assert r.usage.completion_tokens == sum(c.livemind["usage"]["completion_tokens"] for c in r.choices) >= 2


def test_parallel_consensus_reports_each_experts_answer(client):
    r = client.chat.completions.create(model="livemind-parallel", messages=QUESTION, max_tokens=8, temperature=0)
    details = r.choices[0].livemind
    assert details["strategy"] == "parallel"
    assert [a["expert"] for a in details["answers"]] == ["general", "technical"]
    assert all(a["text"] for a in details["answers"])
    assert r.choices[0].message.content
    # usage counts every expert's work plus the synthesis
    assert r.usage.completion_tokens > sum(a["usage"]["completion_tokens"] for a in details["answers"])


def test_turns_consensus_answers_one_expert_after_another(client):
    r = client.chat.completions.create(model="livemind-turns", messages=[{"role": "user", "content": "Hi"}],
                                       max_tokens=6, temperature=0)
    details = r.choices[0].livemind
    assert details["strategy"] == "turns" and [a["expert"] for a in details["answers"]] == ["general", "technical"]
    assert r.choices[0].message.content


def test_streaming_with_the_sync_client_matches_the_whole_answer(client):
    ask = dict(model="general", messages=QUESTION, max_tokens=12, temperature=0)
    whole = client.chat.completions.create(**ask).choices[0].message.content
    stream = client.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_async_client_streams(aclient):
    async def go():
        async with aclient:
            return await one()

    async def one():
        stream = await aclient.chat.completions.create(model="livemind-auto", messages=QUESTION, max_tokens=12,
                                                       temperature=0, stream=True)
        parts, finish = [], None
        async for chunk in stream:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        return "".join(parts), finish

    text, finish = asyncio.run(go())
    assert "Paris" in text and finish == "stop"


def test_sixteen_concurrent_streams_all_finish(aclient, server):
    async def one(i):
        stream = await aclient.chat.completions.create(
            model="general", messages=[{"role": "user", "content": f"Say a number bigger than {i}."}],
            max_tokens=6, temperature=0, stream=True)
        text, finish = "", None
        async for chunk in stream:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        return text, finish

    async def go():
        async with aclient:
            return await asyncio.gather(*(one(i) for i in range(16)))

    results = asyncio.run(go())
    assert len(results) == 16
    assert all(text and finish in ("stop", "length") for text, finish in results)
    assert wait_idle(server)["server"]["in_flight"] == 0


@pytest.mark.parametrize("kwargs", [dict(), dict(stream=True)], ids=["whole", "stream"])
def test_extra_unknown_fields_are_accepted(client, kwargs):
    r = client.chat.completions.create(model="general", messages=QUESTION, max_tokens=2, temperature=0,
                                       user="someone", extra_body={"some_future_option": {"x": 1}}, **kwargs)
    if kwargs:
        assert any(c.choices and c.choices[0].finish_reason for c in r)
    else:
        assert r.choices[0].finish_reason
