"""Running one expert on one request: the piece every strategy shares. Builds the expert's
request (its system prompt, its sampling defaults under the caller's), acquires its model from
the pool, streams, and reports events to a sink as they happen."""

from __future__ import annotations

import time
from collections.abc import Callable

from livemind.backends.base import GenerationRequest
from livemind.events import ExpertAnswer, Token, Usage

Sink = Callable[[object], None]

_SAMPLING = {"max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed", "stop"}


def normalize_messages(messages) -> list[dict]:
    """A string becomes one user message; a list is checked (role and content strings)."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts or a string")
    out = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError("each message needs a string 'role' and a string 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def check_sampling(sampling: dict) -> dict:
    unknown = set(sampling) - _SAMPLING
    if unknown:
        raise ValueError(f"unknown sampling option(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_SAMPLING))})")
    if "stop" in sampling and isinstance(sampling["stop"], str):
        sampling = {**sampling, "stop": (sampling["stop"],)}
    return sampling


def build_request(expert, messages: list[dict], sampling: dict) -> GenerationRequest:
    msgs = list(messages)
    if expert.system_prompt and not (msgs and msgs[0]["role"] == "system"):
        msgs.insert(0, {"role": "system", "content": expert.system_prompt})
    params = {**{k: v for k, v in expert.defaults.items() if k in _SAMPLING}, **sampling}
    if "stop" in params:
        params["stop"] = tuple(params["stop"])
    return GenerationRequest(messages=tuple(msgs), **params)


async def run_expert(pool, name: str, messages: list[dict], sampling: dict, sink: Sink, *,
                     stage: str = "answer") -> ExpertAnswer:
    """Streams one expert's answer into ``sink`` as Token events; returns its ExpertAnswer.
    Errors propagate to the caller (who decides whether the request fails or goes on)."""
    expert = pool.expert(name)
    request = build_request(expert, messages, sampling)
    t0 = time.perf_counter()
    parts: list[str] = []
    usage, finish = Usage(), "stop"
    async with pool.use(name, on_event=sink) as backend:
        async for delta in backend.stream(request):
            if delta.text:
                parts.append(delta.text)
                sink(Token(expert=name, delta=delta.text, stage=stage))
            if delta.finish_reason is not None:
                usage = Usage(prompt_tokens=delta.prompt_tokens or 0, completion_tokens=delta.completion_tokens or 0,
                              cached_tokens=delta.cached_tokens or 0)
                finish = "length" if delta.finish_reason == "length" else "stop"
    return ExpertAnswer(expert=name, text="".join(parts), usage=usage, seconds=time.perf_counter() - t0,
                        finish_reason=finish)
