"""The wire format: OpenAI's chat completion request and response shapes as pydantic models,
and nothing else (no serving logic here). Unknown request fields are accepted and ignored;
a known field the engine cannot honour is refused by :meth:`ChatCompletionRequest.unsupported`.
Types are strict, as the published schema says (``"max_tokens": "5"`` is refused, not coerced)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from livemind.engine.sampling import MIN_TEMPERATURE


# far past any useful value either way; in between, penalized logits stay finite (5e-324 made them inf)
MIN_REPETITION_PENALTY, MAX_REPETITION_PENALTY = 0.01, 100.0


def _integral(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


# An integer as JSON Schema counts them: 2.0 is one (and still refused in strict mode: "2", true, 2.5).
JsonInt = Annotated[int, BeforeValidator(_integral)]


def json_int(**bounds):
    """JsonInt within ``bounds`` (ge=, le=, ...). The bounds go inside the type, before the
    validator: given as Field(...) beside it, pydantic writes them into the JSON Schema as "ge"
    and "le" (no such keywords), and the published schema then allows what the server refuses."""
    return Annotated[int, Field(**bounds), BeforeValidator(_integral)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# ---------------------------------------------------------------------- request


class TextPart(_Open):
    type: str
    text: str | None = None


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or ())


class StreamOptions(_Open):
    include_usage: bool = False


class ResponseFormat(_Open):
    type: str = "text"


class ChatCompletionRequest(_Open):
    """POST /v1/chat/completions. ``top_k``, ``min_p`` and ``repetition_penalty`` are LiveMind
    extensions (the OpenAI client sends them with ``extra_body=``)."""

    messages: list[ChatMessage] = Field(min_length=1)
    model: str = "livemind-auto"
    max_tokens: json_int(ge=1) | None = None
    max_completion_tokens: json_int(ge=1) | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: JsonInt | None = None
    stop: str | list[str] | None = None
    n: json_int(ge=1) = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    # LiveMind's own sampling options
    top_k: json_int(ge=0) | None = None
    min_p: float | None = Field(None, ge=0, lt=1)
    repetition_penalty: float | None = Field(None, ge=MIN_REPETITION_PENALTY, le=MAX_REPETITION_PENALTY)
    # known to OpenAI, honoured only in their neutral form (see unsupported())
    logprobs: bool | None = None
    top_logprobs: JsonInt | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    tool_choice: Any = None
    function_call: Any = None
    response_format: ResponseFormat | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    audio: Any = None
    modalities: list[str] | None = None
    prediction: Any = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("temperature")
    @classmethod
    def _computable_temperature(cls, v):
        if v is not None and 0 < v < MIN_TEMPERATURE:
            raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE}")
        return v

    @field_validator("seed")
    @classmethod
    def _int64_seed(cls, v):
        if v is not None and not -(1 << 63) <= v < (1 << 63):
            raise ValueError("must fit in a signed 64-bit integer")
        return v

    def unsupported(self) -> tuple[str, str] | None:
        """``(param, why)`` for the first parameter this server cannot honour, else None."""
        checks = [
            ("logprobs", bool(self.logprobs), "log probabilities are not returned"),
            ("top_logprobs", bool(self.top_logprobs), "log probabilities are not returned"),
            ("tools", bool(self.tools), "tool calling is not supported"),
            ("functions", bool(self.functions), "function calling is not supported"),
            ("tool_choice", self.tool_choice not in (None, "none"), "tool calling is not supported"),
            ("function_call", self.function_call not in (None, "none"), "function calling is not supported"),
            ("response_format", self.response_format is not None and self.response_format.type != "text",
             "only the 'text' response format is supported"),
            ("presence_penalty", bool(self.presence_penalty), "use repetition_penalty instead"),
            ("frequency_penalty", bool(self.frequency_penalty), "use repetition_penalty instead"),
            ("logit_bias", bool(self.logit_bias), "logit bias is not supported"),
            ("audio", self.audio is not None, "audio output is not supported"),
            ("modalities", any(m != "text" for m in self.modalities or ()), "only text output is supported"),
            ("prediction", self.prediction is not None, "predicted outputs are not supported"),
        ]
        for i, m in enumerate(self.messages):
            if m.role in ("tool", "function"):
                checks.append((f"messages[{i}].role", True, "tool messages are not supported"))
            if isinstance(m.content, list) and any(p.type != "text" for p in m.content):
                checks.append((f"messages[{i}].content", True, "only text content parts are supported"))
        return next(((p, why) for p, bad, why in checks if bad), None)


# What unsupported() lets through, as JSON Schema for the published document (each field may also
# be null or left out): keep the two in step. Messages may have the roles in SUPPORTED_ROLES and
# text parts only.
NEUTRAL = {
    "logprobs": {"const": False},
    "top_logprobs": {"const": 0},
    "tools": {"type": "array", "maxItems": 0},
    "functions": {"type": "array", "maxItems": 0},
    "tool_choice": {"const": "none"},
    "function_call": {"const": "none"},
    "response_format": {"type": "object", "properties": {"type": {"const": "text"}}},
    "presence_penalty": {"const": 0},
    "frequency_penalty": {"const": 0},
    "logit_bias": {"type": "object", "maxProperties": 0},
    "audio": {"type": "null"},
    "modalities": {"type": "array", "items": {"const": "text"}},
    "prediction": {"type": "null"},
}
SUPPORTED_ROLES = ("system", "developer", "user", "assistant")


# ---------------------------------------------------------------------- response


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0       # prompt tokens whose KV the prefix cache held (not prefilled)


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails = PromptTokensDetails()


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] | None
    logprobs: None = None
    livemind: dict[str, Any] | None = None      # this choice's expert(s), route, answers


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageInfo
    system_fingerprint: str | None = None
    livemind: dict[str, Any] | None = None      # the request's strategy, experts, time


class Delta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None
    livemind: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageInfo | None = None
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "livemind"
    livemind: dict[str, Any] = Field(default_factory=dict)   # kind, model, description


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    unhealthy: list[str] | None = None          # models whose engine died (each reloads on its next request)


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo
