"""The typed events every streaming call yields. A caller who wants only the text reads
``.text`` on every event: it is the token text on :class:`Token` and empty on the others.

>>> async for ev in mind.stream(messages):        # doctest: +SKIP
...     print(ev.text, end="")
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    @property
    def text(self) -> str:
        return ""


class RouteDecision(BaseModel):
    """Why a request went where it did. ``scores`` has each expert's similarity; ``reason`` says
    it in words (best match, below threshold → default, language → multilingual, custom router)."""

    model_config = ConfigDict(frozen=True)

    expert: str
    score: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    nearest_example: str | None = None
    reason: str = ""


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0       # of prompt_tokens, those taken from a prefix cache instead of prefilled

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ExpertAnswer(BaseModel):
    """One expert's contribution: its text, usage and time, or the error that stopped it."""

    model_config = ConfigDict(frozen=True)

    expert: str
    text: str = ""
    usage: Usage = Usage()
    seconds: float = 0.0
    error: str | None = None
    finish_reason: Literal["stop", "length"] = "stop"   # "length": it ran out of max_tokens or of the model's context


class Notice(_Event):
    """A warning event: the request goes on, but not quite as asked. ``code`` names what
    happened (``synthesis_failed``: a consensus answers with one expert's answer because its
    synthesis failed), ``message`` says it in words, ``expert`` is the expert concerned (if
    one is). Streams yield it when it happens; the :class:`Result` keeps it in ``notices``.

    >>> Notice(code="synthesis_failed", message="...", expert="general").type
    'notice'
    """

    type: Literal["notice"] = "notice"
    code: str
    message: str
    expert: str | None = None


class Result(BaseModel):
    """The final answer of a request: its text, who answered, how it was routed, what it cost,
    and any :class:`Notice` about how it was made."""

    model_config = ConfigDict(frozen=True)

    text: str
    experts: list[str]
    strategy: str                               # "single", "parallel", "turns"
    route: RouteDecision | None = None
    answers: list[ExpertAnswer] = Field(default_factory=list)   # per expert, for consensus
    usage: Usage = Usage()
    seconds: float = 0.0                        # wall time of the request
    expert_seconds: float = 0.0                 # sum of the experts' own times
    notices: list[Notice] = Field(default_factory=list)
    finish_reason: Literal["stop", "length"] = "stop"   # the returned text's: "length" when it was cut off


class RouteChosen(_Event):
    type: Literal["route"] = "route"
    decision: RouteDecision


class ModelLoading(_Event):
    type: Literal["model_loading"] = "model_loading"
    model: str
    expert: str | None = None


class ModelLoaded(_Event):
    type: Literal["model_loaded"] = "model_loaded"
    model: str
    seconds: float
    bytes: int


class ModelUnloaded(_Event):
    type: Literal["model_unloaded"] = "model_unloaded"
    model: str
    reason: str                                 # "idle", "evicted", "memory", "closed"


class Token(_Event):
    type: Literal["token"] = "token"
    expert: str
    delta: str
    stage: str = "answer"                       # "answer", or "synthesis" for a consensus's final pass

    @property
    def text(self) -> str:
        return self.delta


class ExpertDone(_Event):
    type: Literal["expert_done"] = "expert_done"
    answer: ExpertAnswer


class ExpertFailed(_Event):
    type: Literal["expert_failed"] = "expert_failed"
    expert: str
    error: str


class SynthesisStarted(_Event):
    type: Literal["synthesis_started"] = "synthesis_started"
    synthesizer: str
    experts: list[str]


class Done(_Event):
    type: Literal["done"] = "done"
    result: Result


Event = Union[RouteChosen, ModelLoading, ModelLoaded, ModelUnloaded, Token, ExpertDone, ExpertFailed,
              SynthesisStarted, Notice, Done]
