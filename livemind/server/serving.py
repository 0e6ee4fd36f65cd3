"""The serving logic behind /v1/chat/completions and /v1/models, free of HTTP: a request model in,
response models (or SSE frames) out. Which model name means what:

- an expert's name: that expert answers;
- ``livemind-auto``: the router chooses the expert;
- ``livemind-parallel`` / ``livemind-turns``: a consensus of the configured experts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from livemind.config import LiveMindConfig
from livemind.consensus import Parallel, Turns
from livemind.events import Done, ExpertFailed, Notice, Result, RouteChosen, Token
from livemind.server.errors import InvalidRequest, NotFound, SynthesisBroke, error_reply
from livemind.server.generation import Generation
from livemind.server.lifecycle import Drain
from livemind.server.metrics import ServerCounters
from livemind.server.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    PromptTokensDetails,
    UsageInfo,
    completion_id,
    now,
)

AUTO, PARALLEL, TURNS = "livemind-auto", "livemind-parallel", "livemind-turns"
_SAMPLING = ("temperature", "top_p", "seed", "top_k", "min_p", "repetition_penalty")
MAX_STOP_CHARS = 256


def _route(decision) -> dict:
    return decision.model_dump(exclude_none=True)


def _details(result: Result) -> dict:
    """LiveMind's account of one choice: who answered, why, and (for a consensus) each answer."""
    out = {"strategy": result.strategy, "experts": result.experts, "seconds": round(result.seconds, 4),
           "usage": result.usage.model_dump()}
    if result.route is not None:
        out["route"] = _route(result.route)
    if result.strategy != "single":
        out["answers"] = [a.model_dump(exclude_none=True) for a in result.answers]
    if result.notices:
        out["notices"] = [_notice(n) for n in result.notices]
    return out


def _notice(notice: Notice) -> dict:
    return notice.model_dump(exclude={"type"}, exclude_none=True)


def _unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode (JSON's \\u escapes can spell lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _final_tokens(result: Result) -> int:
    """Tokens of the text the result returns: the single answer, the synthesis (what the total
    holds beyond the answers), or the last turn."""
    if result.strategy == "single":
        return result.usage.completion_tokens
    synth = result.usage.completion_tokens - sum(a.usage.completion_tokens for a in result.answers)
    answered = [a for a in result.answers if a.error is None]
    final = next((a for a in answered if a.text == result.text), answered[-1] if answered else None)
    return synth if synth > 0 else (final.usage.completion_tokens if final else 0)


class _Choice:
    """What one choice has produced so far."""

    def __init__(self, index: int, consensus: bool):
        self.index, self.consensus = index, consensus
        self.sent = ""                      # content streamed so far
        self.route = None
        self.result: Result | None = None

    def content_token(self, ev: Token) -> bool:
        # a routed request streams its answer; a consensus streams its final synthesis as content
        # and each expert's answer as LiveMind progress
        return ev.stage == ("synthesis" if self.consensus else "answer")


class ChatService:
    """Chat completions and the model list over a :class:`~livemind.LiveMind`."""

    def __init__(self, mind, config: LiveMindConfig, counters: ServerCounters):
        self.mind, self.config, self.counters = mind, config, counters
        self.limits = config.server.limits
        self.drain = Drain(counters, self.limits.retry_after)
        c = config.consensus
        experts = c.experts or list(mind.pool.experts)
        self._strategies = {PARALLEL: lambda: Parallel(experts, synthesizer=c.synthesizer, timeout=c.timeout),
                            TURNS: lambda: Turns(experts, synthesizer=c.synthesizer, timeout=c.timeout)}
        self.consensus_experts = experts

    # ------------------------------------------------------------------ models

    def models(self) -> ModelList:
        created = now()
        cards = [ModelCard(id=AUTO, created=created, livemind={"kind": "routed", "experts": list(self.mind.pool.experts)}),
                 *(ModelCard(id=name, created=created, livemind={"kind": "consensus", "strategy": kind,
                                                                 "experts": self.consensus_experts})
                   for name, kind in ((PARALLEL, "parallel"), (TURNS, "turns")))]
        for name in self.mind.pool.experts:
            e = self.mind.pool.expert(name)
            cards.append(ModelCard(id=name, created=created, livemind={
                "kind": "expert", "model": str(e.model) if e.model is not None else repr(e.backend),
                "description": e.description}))
        return ModelList(data=cards)

    def model(self, name: str) -> ModelCard:
        """One entry of :meth:`models`; NotFound when there is none."""
        card = next((c for c in self.models().data if c.id == name), None)
        if card is None:
            raise NotFound("The model does not exist on this server; GET /v1/models lists them.",
                           param="model", code="model_not_found")
        return card

    def _consensus(self, target: dict) -> bool:
        """Whether ``target`` runs a consensus (its own, or the LiveMind's default strategy)."""
        return "strategy" in target or ("expert" not in target and self.mind.strategy is not None)

    def _target(self, model: str) -> dict:
        if model == AUTO:
            return {}
        if model in self._strategies:
            return {"strategy": self._strategies[model]()}
        if model in self.mind.pool.experts:
            return {"expert": model}
        raise NotFound("The model does not exist on this server; GET /v1/models lists them.",
                       param="model", code="model_not_found")

    # ------------------------------------------------------------------ requests

    def _check(self, req: ChatCompletionRequest) -> tuple[list[dict], dict]:
        """The messages and sampling options, after every limit and capability check."""
        lim = self.limits
        bad = req.unsupported()
        if bad is not None:
            raise InvalidRequest(f"'{bad[0]}' is not supported by this server: {bad[1]}.", param=bad[0],
                                 code="unsupported_parameter")
        if len(req.messages) > lim.max_messages:
            raise InvalidRequest(f"At most {lim.max_messages} messages are allowed.", param="messages")
        if req.n > lim.max_n:
            raise InvalidRequest(f"'n' may be at most {lim.max_n}.", param="n")
        for param in ("max_tokens", "max_completion_tokens"):   # each, even the one not used
            if (getattr(req, param) or 0) > lim.max_tokens:
                raise InvalidRequest(f"'{param}' may be at most {lim.max_tokens}.", param=param)
        max_tokens = req.max_completion_tokens or req.max_tokens or lim.default_max_tokens
        stop = req.stop or []
        if len(stop) > lim.max_stop:
            raise InvalidRequest(f"At most {lim.max_stop} stop strings are allowed.", param="stop")
        if any(not s or len(s) > MAX_STOP_CHARS for s in stop):
            raise InvalidRequest(f"Each stop string must have 1 to {MAX_STOP_CHARS} characters.", param="stop")
        if not all(map(_unicode, stop)):
            raise InvalidRequest("Stop strings must be valid Unicode (no lone surrogates).", param="stop")
        sampling = {k: getattr(req, k) for k in _SAMPLING if getattr(req, k) is not None}
        sampling["max_tokens"] = max_tokens
        if stop:
            sampling["stop"] = tuple(stop)
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
        for i, m in enumerate(messages):
            if not _unicode(m["content"]):
                raise InvalidRequest("Message content must be valid Unicode (no lone surrogates).",
                                     param=f"messages[{i}].content")
        return messages, sampling

    async def start(self, req: ChatCompletionRequest, deadline: float | None = None) -> Generation:
        """Checks ``req`` and starts its ``n`` generations; returns once each has begun. Raises
        (before any byte of the response) when the request is invalid or cannot be served.
        ``deadline`` (the event loop's clock) bounds the whole generation (see Generation)."""
        messages, sampling = self._check(req)
        target = self._target(req.model)
        targets = []
        for i in range(req.n):   # n choices: one seed each, so they differ and stay reproducible
            s = dict(sampling)
            if "seed" in s and i:
                s["seed"] += i
            targets.append({**target, **s})
        gen = Generation(self.mind, messages, targets, deadline=deadline, timeout=self.limits.request_timeout)
        self.drain.track(gen)
        await gen.start()
        return gen

    def _finish(self, choice: _Choice, max_tokens: int) -> str:
        """"length" when the returned text was cut off: by max_tokens or by the model's context."""
        cut = choice.result.finish_reason == "length" or _final_tokens(choice.result) >= max_tokens
        return "length" if cut else "stop"

    def _account(self, choices: list[_Choice]) -> UsageInfo:
        p = sum(c.result.usage.prompt_tokens for c in choices)
        c_ = sum(c.result.usage.completion_tokens for c in choices)
        cached = sum(c.result.usage.cached_tokens for c in choices)
        self.counters.prompt_tokens += p
        self.counters.completion_tokens += c_
        return UsageInfo(prompt_tokens=p, completion_tokens=c_, total_tokens=p + c_,
                         prompt_tokens_details=PromptTokensDetails(cached_tokens=cached))

    def _observe(self, choice: _Choice, ev) -> None:
        if isinstance(ev, RouteChosen):
            choice.route = ev.decision
            self.counters.routes[ev.decision.expert] += 1
        elif isinstance(ev, Done):
            choice.result = ev.result

    async def complete(self, req: ChatCompletionRequest, gen: Generation) -> ChatCompletion:
        """The whole answer of a started generation."""
        choices = [_Choice(i, self._consensus(gen.targets[i])) for i in range(gen.n)]
        try:
            async for index, ev in gen:
                self._observe(choices[index], ev)
        finally:
            await gen.aclose()
        max_tokens = gen.targets[0]["max_tokens"]
        out = [Choice(index=c.index, message=AssistantMessage(content=c.result.text),
                      finish_reason=self._finish(c, max_tokens), livemind=_details(c.result)) for c in choices]
        return ChatCompletion(id=completion_id(), created=now(), model=req.model, choices=out,
                              usage=self._account(choices), livemind=self._summary(choices))

    def _summary(self, choices: list[_Choice]) -> dict:
        first = choices[0].result
        experts = list(dict.fromkeys(e for c in choices for e in c.result.experts))
        return {"strategy": first.strategy, "experts": experts, "seconds": round(max(c.result.seconds for c in choices), 4)}

    async def frames(self, req: ChatCompletionRequest, gen: Generation) -> AsyncIterator[str]:
        """The SSE frames of a started generation, OpenAI's way: one id, the role first, one
        finish_reason per choice, the usage chunk when asked, then ``[DONE]``. An error after
        the first frame is sent as an ``error`` frame before ``[DONE]``."""
        cid, created = completion_id(), now()
        choices = [_Choice(i, self._consensus(gen.targets[i])) for i in range(gen.n)]
        max_tokens = gen.targets[0]["max_tokens"]

        def frame(chunk_choices, usage=None) -> str:
            chunk = ChatCompletionChunk(id=cid, created=created, model=req.model, choices=chunk_choices, usage=usage)
            body = chunk.model_dump(exclude_none=True)
            for c in body["choices"]:
                c.setdefault("finish_reason", None)
            return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"

        for index, ev in gen.begun():
            if isinstance(ev, RouteChosen):
                choices[index].route = ev.decision
        try:
            for c in choices:             # the role first, with the route when known
                yield frame([ChunkChoice(index=c.index, delta=Delta(role="assistant", content=""),
                                         livemind={"route": _route(c.route)} if c.route else None)])
            async for index, ev in gen:
                choice = choices[index]
                self._observe(choice, ev)
                for out in self._chunk(choice, ev, max_tokens):
                    yield frame([out])
            usage = self._account(choices)
            if req.stream_options is not None and req.stream_options.include_usage:
                yield frame([], usage=usage)
        except Exception as exc:
            _, body, _ = error_reply(exc, retry_after=self.limits.retry_after)
            yield f"data: {json.dumps(body)}\n\n"
        finally:
            await gen.aclose()
        yield "data: [DONE]\n\n"

    def _chunk(self, choice: _Choice, ev, max_tokens: int) -> list[ChunkChoice]:
        i = choice.index
        if isinstance(ev, Token):
            if choice.content_token(ev):
                choice.sent += ev.delta
                return [ChunkChoice(index=i, delta=Delta(content=ev.delta))]
            return [ChunkChoice(index=i, delta=Delta(),
                                livemind={"expert": ev.expert, "stage": ev.stage, "delta": ev.delta})]
        if isinstance(ev, ExpertFailed):
            return [ChunkChoice(index=i, delta=Delta(), livemind={"expert": ev.expert, "failed": ev.error})]
        if isinstance(ev, Notice):
            return [ChunkChoice(index=i, delta=Delta(), livemind={"notice": _notice(ev)})]
        if isinstance(ev, Done):
            out = []
            text = ev.result.text
            if not text.startswith(choice.sent):   # a fallback answer after part of the synthesis went out
                raise SynthesisBroke("The consensus's synthesis failed after part of it was streamed; retry, "
                                     "or ask without streaming to get an expert's answer instead.",
                                     code="synthesis_failed")
            if text != choice.sent and text.startswith(choice.sent):   # a consensus whose final
                out.append(ChunkChoice(index=i, delta=Delta(content=text[len(choice.sent):])))  # text was not streamed
                choice.sent = text
            out.append(ChunkChoice(index=i, delta=Delta(), finish_reason=self._finish(choice, max_tokens),
                                   livemind=_details(ev.result)))
            return out
        return []
