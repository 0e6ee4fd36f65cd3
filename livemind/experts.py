"""An expert: a named model with a role — a description and examples the router matches
requests against, a system prompt, and sampling defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Expert(BaseModel):
    """A specialist on the team.

    ``model`` is a known model name (``livemind.models.KNOWN_MODELS``), a GGUF path, or a hub id
    (``owner/repo:file.gguf``, once ``livemind pull`` has downloaded it); ``backend``
    an explicit backend object (vLLM, a remote server, ...) instead. Experts whose models resolve
    to the same file (with the same settings) share one loaded model.

    >>> Expert("coder", model="smollm2-135m-instruct", description="programming",
    ...        system_prompt="You are a careful programmer.").name
    'coder'
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    model: str | Path | None = None
    backend: Any = None
    description: str = ""
    examples: tuple[str, ...] = ()
    system_prompt: str | None = None
    multilingual: bool = False
    defaults: dict[str, Any] = Field(default_factory=dict)   # sampling defaults (temperature, max_tokens, ...)
    idle_ttl: float | None = None                             # overrides the pool's idle_ttl

    def __init__(self, name: str, /, **kwargs):
        super().__init__(name=name, **kwargs)

    @field_validator("examples", mode="before")
    @classmethod
    def _examples(cls, v):
        return tuple(v) if v is not None else ()

    def model_post_init(self, __context) -> None:
        if (self.model is None) == (self.backend is None):
            raise ValueError(f"expert {self.name!r}: give exactly one of model= or backend=")
