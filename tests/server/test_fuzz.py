"""The server's OpenAPI document fuzzed with Schemathesis against a real ``livemind serve`` on
SmolLM2: every operation, bodies valid and invalid by the schema, every check — no 5xx, every
response matches the schema (status, content type, headers, body), bodies the schema allows are
answered and bodies it forbids refused with a 4xx, the key enforced — plus LiveMind's own: every
error body is exactly OpenAI's shape, and every stream is well-formed SSE ending in ``[DONE]``.

Two answers are accepted although the built-in checks would flag them, because no schema can
rule them out and they are the contract, not a fault:

- 400 ``context_length_exceeded`` for a body the schema allows: whether a prompt fits depends on
  its tokens, which JSON Schema cannot count;
- 503 ``overloaded`` / ``memory_budget_exceeded`` with a Retry-After: the server saying "not now"
  when memory or a queue is full (with one request at a time here, a 503 means the machine is
  short of memory, not that the server broke). Any other 5xx fails the test.

Generation stays cheap (a 512-token context, at most 4 tokens and 2 choices per request) and the
examples are bounded, so the whole run takes a couple of minutes on a 2-core machine.
"""

from __future__ import annotations

import json

import pytest
from serverproc import Server

from livemind.server.protocol import ChatCompletionChunk

import schemathesis  # noqa: E402   (the `test` extra installs it; missing, this file fails, never skips)
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.models, pytest.mark.timeout(600)]

KEY = "sk-livemind-fuzz"
FUZZ_CONFIG = """
[[experts]]
name = "general"
model = "smollm2-135m-instruct"
description = "everyday questions"

[[experts]]
name = "technical"
model = "smollm2-135m-instruct"
description = "technical questions"
system_prompt = "You are a careful engineer."

[pool]
context = 512
warm = ["general"]

[consensus]
experts = ["general", "technical"]
synthesizer = "general"

[server.limits]
max_tokens = 4
default_max_tokens = 4
max_n = 2
max_messages = 8
max_stop = 2
"""
ERROR_FIELDS = {"message", "type", "param", "code"}
RETRYABLE = {"overloaded", "memory_budget_exceeded"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("fuzz"), FUZZ_CONFIG, "--api-key", KEY)
    yield srv
    print("\nFUZZSTATS", srv.stats(key=KEY)["server"])
    srv.stop()


@pytest.fixture(scope="module")
def api(fuzz_server):
    config = schemathesis.Config.from_dict({
        "seed": 20260101,                 # the same cases every run: a failure reproduces
        "generation": {"mode": "all", "max-examples": 100},
        "phases": {"stateful": {"enabled": False}},
    })
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api")


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@schemathesis.check
def no_5xx_but_retryable_refusals(ctx, response, case):
    """Built-in not_a_server_error, but a 503 that says "retry later" (with Retry-After) passes."""
    if response.status_code == 503 and _error_code(response) in RETRYABLE and "retry-after" in response.headers:
        return None
    return not_a_server_error(ctx, response, case)


@schemathesis.check
def allowed_bodies_are_answered(ctx, response, case):
    """Built-in positive_data_acceptance, but a prompt past the context may be refused."""
    if response.status_code == 400 and _error_code(response) == "context_length_exceeded":
        return None
    return positive_data_acceptance(ctx, response, case)


@schemathesis.check
def errors_are_openai_shaped(ctx, response, case):
    """Every error body is ``{"error": {"message", "type", "param", "code"}}``, nothing more."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return None


@schemathesis.check
def streams_are_well_formed(ctx, response, case):
    """A stream is ``data:`` lines of chunks (or one error last), then ``data: [DONE]``."""
    if response.status_code != 200 or not response.headers.get("content-type", [""])[0].startswith(
            "text/event-stream"):
        return None
    lines = [line for line in response.text.splitlines() if line]
    assert lines and all(line.startswith("data: ") for line in lines), lines[:3]
    assert lines[-1] == "data: [DONE]", lines[-3:]
    frames = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    for frame in frames[:-1]:
        ChatCompletionChunk.model_validate(frame)
    last = frames[-1]
    if "error" in last:
        assert set(last) == {"error"} and set(last["error"]) == ERROR_FIELDS, last
    else:
        ChatCompletionChunk.model_validate(last)
    return None


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_its_openapi_contract(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, timeout=120,
                           excluded_checks=[not_a_server_error, positive_data_acceptance],
                           additional_checks=[no_5xx_but_retryable_refusals, allowed_bodies_are_answered,
                                              errors_are_openai_shaped, streams_are_well_formed])


def _keys(node):
    """Every key of every object in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def test_the_published_schema_states_every_bound_in_json_schema_words(fuzz_server):
    """pydantic writes a bound it cannot place as "ge"/"le"/"gt"/"lt", which JSON Schema does not
    know: a client (and this fuzzer) then takes top_k = -269 for valid and gets 400. Every bound is
    minimum / maximum / exclusive*, so what the schema allows the server accepts."""
    import httpx

    doc = httpx.get(fuzz_server.url + "/openapi.json", headers={"Authorization": f"Bearer {KEY}"}, timeout=30).json()
    assert not {"ge", "le", "gt", "lt"} & set(_keys(doc))
    top_k = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]["top_k"]
    assert {"type": "integer", "minimum": 0} in top_k["anyOf"], top_k
