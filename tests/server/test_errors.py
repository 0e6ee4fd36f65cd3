"""Every error in OpenAI's shape and status, as the official client sees it: invalid requests
(400, never 422), unknown models (404), keys (401), big bodies (413), prompts past the context
(400 before any stream byte), a model that can never fit (507), and messages that never echo
what the user sent."""

from __future__ import annotations

import httpx
import openai
import pytest
from serverproc import API_KEY, Server

Q = [{"role": "user", "content": "Hi"}]
MARKER = "zq-secret-marker-zq"


@pytest.mark.parametrize("kwargs, param", [
    (dict(logprobs=True), "logprobs"),
    (dict(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]), "tools"),
    (dict(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}), "response_format"),
    (dict(presence_penalty=1.0), "presence_penalty"),
    (dict(temperature=5), "temperature"),
    (dict(temperature=1e-310), "temperature"),         # once NaN probabilities that killed the engine
    (dict(seed=1 << 63), "seed"),
    (dict(n=99), "n"),
    (dict(max_tokens=10**6), "max_tokens"),
    (dict(stop=["a", "b", "c", "d", "e"]), "stop"),
    (dict(messages=[]), "messages"),
    (dict(messages=[{"role": "wizard", "content": "x"}]), "messages.0.role"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_invalid_requests_are_400_naming_the_parameter(client, kwargs, param):
    args = {"model": "general", "messages": Q, "max_tokens": 2, **kwargs}
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(**args)
    assert e.value.status_code == 400
    assert e.value.body["param"] == param and e.value.body["type"] == "invalid_request_error"
    assert e.value.body["message"]


def test_a_refused_temperature_leaves_the_model_serving(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="general", messages=Q, max_tokens=2, temperature=1e-310)
    done = client.chat.completions.create(model="general", messages=Q, max_tokens=2, temperature=0)
    assert done.choices[0].finish_reason in ("stop", "length")


def test_wrong_types_are_400_not_422(server, auth):
    for body in ({"messages": "hello"}, {"messages": Q, "max_tokens": "many"}, [1, 2], "not json"):
        r = httpx.post(server.url + "/v1/chat/completions", headers=auth, timeout=10,
                       **({"content": body} if isinstance(body, str) else {"json": body}))
        assert r.status_code == 400, body
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_model_is_404_model_not_found_without_echoing_it(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model=f"<b>{MARKER}</b>", messages=Q)
    assert e.value.body["code"] == "model_not_found" and MARKER not in e.value.body["message"]


def test_error_messages_never_echo_user_input(server, auth):
    bad = [{"messages": Q, "temperature": MARKER}, {"messages": [{"role": MARKER, "content": "x"}]},
           {"messages": Q, "stop": [MARKER * 20]}]
    for body in bad:
        r = httpx.post(server.url + "/v1/chat/completions", json=body, headers=auth, timeout=10)
        assert r.status_code == 400 and MARKER not in r.text, r.text


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_past_the_context_is_400_before_any_stream_byte(client, stream):
    long = [{"role": "user", "content": "word " * 700}]     # the test server's context is 512
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="general", messages=long, max_tokens=4, stream=stream)
    assert e.value.body["code"] == "context_length_exceeded"


def test_missing_or_wrong_key_is_401_except_on_health(server):
    for key in ("wrong", None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        for method, path in (("GET", "/v1/models"), ("GET", "/stats"), ("GET", "/metrics"),
                             ("POST", "/v1/chat/completions")):
            r = httpx.request(method, server.url + path, headers=headers, json={"messages": Q}, timeout=10)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", (path, key)
    assert httpx.get(server.url + "/health", timeout=10).json() == {"status": "ok"}
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_body_too_large_is_413(client, server, auth):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="general", messages=[{"role": "user", "content": "x" * (2 << 20)}])
    assert e.value.status_code == 413 and e.value.body["code"] == "request_too_large"
    r = httpx.post(server.url + "/v1/chat/completions", content=b"{" * (3 << 20), headers=auth, timeout=30)
    assert r.status_code == 413


def test_health_and_stats_never_load_a_model(tmp_path):
    srv = Server(tmp_path, "[pool]\ncontext = 512\nwarm = []\n[router]\nkind = \"first\"\n")
    try:
        httpx.get(srv.url + "/health", timeout=10)
        stats = srv.stats(key=None)
        assert stats["pool"]["loaded"] == 0 and stats["pool"]["counters"]["loads"] == 0
        assert "livemind_models_resident 0" in httpx.get(srv.url + "/metrics", timeout=10).text
    finally:
        srv.stop()


def test_model_that_can_never_fit_is_507_and_not_retried(tmp_path):
    config = "[pool]\ncontext = 512\nwarm = []\n[router]\nkind = \"first\"\n[governor]\nbudget_bytes = 1048576\n"
    srv = Server(tmp_path, config)
    try:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=2)
        with pytest.raises(openai.APIStatusError) as e:
            c.chat.completions.create(model="general", messages=Q, max_tokens=2)
        assert e.value.status_code == 507 and e.value.body["code"] == "model_too_large"
        assert e.value.response.headers["x-should-retry"] == "false"
        assert srv.stats(key=None)["server"]["requests_by_status"] == {"507": 1}   # the client did not retry
    finally:
        srv.stop()


def test_metrics_speak_prometheus(server, auth, client):
    client.chat.completions.create(model="general", messages=Q, max_tokens=2)
    text = httpx.get(server.url + "/metrics", headers=auth, timeout=10).text
    for name in ("livemind_requests_total", "livemind_tokens_total", "livemind_model_loads_total",
                 "livemind_models_resident", "livemind_memory_budget_bytes", "livemind_memory_usage_bytes"):
        assert f"# TYPE {name} " in text
    assert 'livemind_requests_total{model="general",status="200"}' in text
    assert 'livemind_tokens_total{kind="completion"}' in text
    loads = next(line for line in text.splitlines() if line.startswith("livemind_model_loads_total "))
    assert int(loads.split()[1]) >= 1
    assert API_KEY not in text


def test_a_conversation_sent_again_is_served_from_the_prefix_cache(server, auth, client):
    messages = [{"role": "user", "content": "List four animals that live in the sea, one per line."}]
    first = client.chat.completions.create(model="general", messages=messages, max_tokens=2, temperature=0)
    again = client.chat.completions.create(model="general", messages=messages, max_tokens=2, temperature=0)
    # the first shares only the template's opening with earlier requests; the second all but the
    # prompt's last token, whose logits start the answer
    assert first.usage.prompt_tokens_details.cached_tokens < first.usage.prompt_tokens - 10
    assert again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens - 1
    assert again.choices[0].message.content == first.choices[0].message.content
    text = httpx.get(server.url + "/metrics", headers=auth, timeout=10).text
    assert "# TYPE livemind_prefix_cache_hits_total counter" in text
    hits = [line for line in text.splitlines() if line.startswith("livemind_prefix_cache_hits_total{")]
    assert hits and max(int(line.split()[-1]) for line in hits) >= 1

