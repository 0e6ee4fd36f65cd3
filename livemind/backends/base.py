"""The one contract every backend meets, so that the pool, the governor and the consensus
strategies treat a model on LiveMind's engine, one inside vLLM and one behind an HTTP server the
same way. Nothing above this layer branches on a backend's type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livemind.engine.sampling import SamplingParams


class GenerationRequest(BaseModel):
    """What to generate. Either chat ``messages`` or a raw ``prompt``."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[dict, ...] | None = None
    prompt: str | None = None
    max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(40, ge=0)
    min_p: float = Field(0.05, ge=0, lt=1)
    repetition_penalty: float = Field(1.0, gt=0)
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @field_validator("messages")
    @classmethod
    def _messages_ok(cls, v):
        if v is not None:
            for m in v:
                if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                    raise ValueError("each message needs a string 'role' and a string 'content'")
        return v

    def model_post_init(self, __context) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")
        # the engine sampler's own rules (finite, temperature 0 or >= MIN_TEMPERATURE, seed range),
        # so that every backend refuses the same requests
        SamplingParams(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, min_p=self.min_p,
                       repetition_penalty=self.repetition_penalty, seed=self.seed, stop=self.stop)


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer. The last one has ``finish_reason`` ("stop", "length",
    "cancelled") and, where the backend knows them, usage and timings."""

    text: str
    token_id: int | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    decode_tokens_per_s: float | None = None
    cached_tokens: int | None = None      # of prompt_tokens, those whose KV a prefix cache had


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a loaded backend takes in this process: weights, KV cache at its context, scratch,
    and ``host``: its Python-side structures (tokenizer, metadata)."""

    weights: int
    kv: int
    scratch: int
    host: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.scratch + self.host


@dataclass(frozen=True)
class Capabilities:
    chat_template: bool      # renders chat messages itself
    seed: bool               # honours a seed
    stop: bool               # honours stop strings
    n: bool                  # several choices per request
    context: int             # tokens of context
    local_memory: bool       # its memory is this process's (the governor counts it)


@runtime_checkable
class Backend(Protocol):
    """A model that can be loaded, streamed from and unloaded.

    ``key`` identifies what is loaded: experts whose backends share a key share one loaded model.
    ``healthy`` is False when a loaded backend can serve nothing more until it is unloaded and
    loaded again (its engine died); the pool then reloads it on the next request.
    """

    key: str

    @property
    def loaded(self) -> bool: ...

    @property
    def healthy(self) -> bool: ...

    async def load(self) -> None: ...

    async def unload(self) -> None: ...

    def memory_estimate(self) -> MemoryEstimate: ...

    def capabilities(self) -> Capabilities: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]: ...

    def in_flight(self) -> int: ...
