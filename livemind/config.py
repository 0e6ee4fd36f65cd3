"""Typed configuration for the ``livemind`` command line and server, read from a TOML file.

Every section is optional; what is left out takes LiveMind's defaults (the default team, the
origin's pool numbers, a 90% memory threshold, semantic routing, a server on 127.0.0.1:8000).
``examples/livemind.toml`` documents every field.

>>> cfg = LiveMindConfig.from_toml_text('[pool]\\ncontext = 512\\nwarm = []')
>>> cfg.pool.context, cfg.pool.warm, cfg.server.host
(512, [], '127.0.0.1')
>>> mind = cfg.build()                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livemind.team import DEFAULT_MAX_RAM_FRACTION, DEFAULT_POOL

API_KEY_ENV = "LIVEMIND_API_KEY"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt key is an error, not a silent default


class ExpertConfig(_Section):
    """One ``[[experts]]`` entry: the fields of :class:`livemind.Expert` a file can give."""

    name: str
    model: str
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    system_prompt: str | None = None
    multilingual: bool = False
    defaults: dict[str, Any] = Field(default_factory=dict)
    idle_ttl: float | None = None


class PoolConfig(_Section):
    """``[pool]``: :class:`livemind.ExpertPool` settings."""

    max_loaded: int = Field(DEFAULT_POOL["max_loaded"], ge=1)
    warm: list[str] | None = None               # None: the default team's warm experts (or none)
    idle_ttl: float = Field(DEFAULT_POOL["idle_ttl"], gt=0)
    pinned: list[str] = Field(default_factory=list)
    context: int = Field(4096, ge=16)
    kv_dtype: Literal["f16", "fp8", "f32"] = "f16"
    max_waiting: int = Field(64, ge=0)          # requests waiting for a place under max_loaded, and for a
                                                # native model's KV slot; more: Overloaded
    max_sequences: int = Field(8, ge=1)         # generations a native model batches (its KV slots)
    prefix_cache: bool = True                   # a native model reuses earlier requests' KV (engine.md)


class GovernorConfig(_Section):
    """``[governor]``: :class:`livemind.MemoryGovernor` settings."""

    max_ram_fraction: float = Field(DEFAULT_MAX_RAM_FRACTION, gt=0, le=1)
    budget_bytes: int | None = Field(None, gt=0)
    poll_interval: float = Field(1.0, gt=0)


class RouterConfig(_Section):
    """``[router]``: ``semantic`` (:class:`livemind.Router`) or ``first`` (always the first
    expert, or ``default``)."""

    kind: Literal["semantic", "first"] = "semantic"
    threshold: float = 0.1
    default: str | None = None


class ConsensusConfig(_Section):
    """``[consensus]``: who answers the virtual models ``livemind-parallel`` and
    ``livemind-turns`` (and ``livemind ask --strategy``). No experts: the whole team."""

    experts: list[str] | None = None
    synthesizer: str | None = None
    timeout: float | None = Field(None, gt=0)


class LimitsConfig(_Section):
    """``[server.limits]``: caps on what one request may ask, and on what the server takes on at
    once. docs/server.md ("Limits and failure behaviour") says what a client sees at each."""

    max_body_bytes: int = Field(1 << 20, ge=1024)
    max_json_depth: int = Field(32, ge=4)       # nesting of [ and { in the body; deeper: 400 invalid_json
    max_messages: int = Field(256, ge=1)
    max_n: int = Field(4, ge=1)
    max_tokens: int = Field(2048, ge=1)
    default_max_tokens: int = Field(256, ge=1)
    max_stop: int = Field(4, ge=0)
    retry_after: int = Field(5, ge=1)           # seconds, sent with 503 when memory is short or the server busy
    max_concurrent_requests: int = Field(64, ge=1)   # chat completions answered at once; one more: 503
    request_timeout: float = Field(600.0, gt=0)  # seconds from a request's arrival to its last byte; then 504
    max_connections: int = Field(1024, ge=1)    # open connections uvicorn accepts (``livemind serve``)


class ServerConfig(_Section):
    """``[server]``: where to listen and who may call. ``api_key`` (or the ``LIVEMIND_API_KEY``
    environment variable) makes every route but ``/health`` need ``Authorization: Bearer KEY``."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key: str | None = None
    log_level: str = "info"
    shutdown_grace: float = Field(8.0, ge=0)   # seconds in-flight requests get after SIGTERM (docs/server.md)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    def key(self) -> str | None:
        return self.api_key or os.environ.get(API_KEY_ENV) or None


class LiveMindConfig(_Section):
    """The whole file. ``experts`` replaces the default team when given."""

    experts: list[ExpertConfig] = Field(default_factory=list)
    pool: PoolConfig = Field(default_factory=PoolConfig)
    governor: GovernorConfig = Field(default_factory=GovernorConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    consensus: ConsensusConfig = Field(default_factory=ConsensusConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    @model_validator(mode="after")
    def _names_exist(self) -> LiveMindConfig:
        names = {e.name for e in self.team()}
        for where, listed in (("pool.warm", self.pool.warm or []), ("pool.pinned", self.pool.pinned),
                              ("consensus.experts", self.consensus.experts or []),
                              ("consensus.synthesizer", [self.consensus.synthesizer] if self.consensus.synthesizer else []),
                              ("router.default", [self.router.default] if self.router.default else [])):
            unknown = [n for n in listed if n not in names]
            if unknown:
                raise ValueError(f"{where} names unknown expert(s) {unknown} (experts: {sorted(names)})")
        return self

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_toml_text(cls, text: str) -> LiveMindConfig:
        return cls.model_validate(tomllib.loads(text))

    @classmethod
    def load(cls, path: str | Path | None) -> LiveMindConfig:
        """The configuration in ``path`` (TOML), or the defaults when ``path`` is None."""
        if path is None:
            return cls()
        with open(path, "rb") as f:
            return cls.model_validate(tomllib.load(f))

    # ------------------------------------------------------------------ building

    def team(self) -> list:
        from livemind.experts import Expert
        from livemind.team import default_team

        if not self.experts:
            return default_team()
        return [Expert(e.name, **e.model_dump(exclude={"name"})) for e in self.experts]

    def consensus_experts(self) -> list[str]:
        return self.consensus.experts or [e.name for e in self.team()]

    def strategy(self, kind: str):
        """The consensus strategy ``kind`` ("parallel", "turns" or "auto") over the configured experts."""
        from livemind.consensus import Auto, Parallel, Turns

        cls = {"parallel": Parallel, "turns": Turns, "auto": Auto}[kind]
        c = self.consensus
        return cls(self.consensus_experts(), synthesizer=c.synthesizer, timeout=c.timeout)

    def build(self):
        """A :class:`livemind.LiveMind` over a fresh pool, governor and router (not yet entered)."""
        from livemind.governor import MemoryGovernor
        from livemind.mind import LiveMind
        from livemind.pool import ExpertPool
        from livemind.router import Router

        team = self.team()
        warm = self.pool.warm
        if warm is None:   # the default team's warm experts, when this team has them
            warm = [n for n in DEFAULT_POOL["warm"] if n in {e.name for e in team}] if not self.experts else []
        governor = MemoryGovernor(**self.governor.model_dump())
        pool = ExpertPool(team, max_loaded=self.pool.max_loaded, warm=warm, idle_ttl=self.pool.idle_ttl,
                          governor=governor, pinned=self.pool.pinned, context=self.pool.context,
                          kv_dtype=self.pool.kv_dtype, max_waiting=self.pool.max_waiting,
                          max_sequences=self.pool.max_sequences, prefix_cache=self.pool.prefix_cache)
        if self.router.kind == "semantic":
            router = Router(pool, threshold=self.router.threshold, default=self.router.default)
        else:
            first = self.router.default or team[0].name
            router = lambda messages: first   # noqa: E731
        return LiveMind(pool, router=router)
