"""Experts on LiveMind's own engine: a GGUF file loaded with :func:`livemind.engine.load_model`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from livemind.backends.base import Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.engine.config import ModelConfig
from livemind.engine.gguf import GGUFFile
from livemind.engine.memory import KV_DTYPES, plan

PREFILL_CHUNK = 256   # tokens in one step (the engine's default)


class NativeBackend:
    """A GGUF model on the native engine. Loading maps the file and builds the tokenizer in a
    worker thread; unloading closes the model and returns its memory.

    >>> b = NativeBackend(resolve_model("smollm2-135m-instruct"), context=4096)   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, context: int = 4096, kv_dtype: str = "f16", threads: int | None = None,
                 max_sequences: int = 8, max_waiting: int = 64, prefix_cache: bool = True):
        if kv_dtype not in KV_DTYPES:
            raise ValueError(f"kv_dtype must be one of {', '.join(KV_DTYPES)}, got {kv_dtype!r}")
        self.path = Path(path)
        self.context, self.kv_dtype, self.threads, self.max_sequences = context, kv_dtype, threads, max_sequences
        self.max_waiting = max_waiting   # generations waiting beyond the free KV slots; one more is Overloaded
        self.prefix_cache = prefix_cache # finished generations' KV kept for prompts that start the same
        self.key = f"native:{self.path.resolve()}:{context}:{kv_dtype}"
        self._model = None
        self._shape = None   # (config, weight bytes), read once from the header

    def __repr__(self) -> str:
        return f"NativeBackend({self.path.name!r}, context={self.context}, kv={self.kv_dtype})"

    def _header(self, f: GGUFFile | None = None):
        """(config, memory plan), read once from the file's header (or from ``f``, this file
        already open)."""
        if self._shape is None:
            if f is None:
                with GGUFFile(self.path) as f:
                    return self._header(f)
            cfg = ModelConfig.from_gguf(f)
            n_ctx = min(self.context, cfg.n_ctx_train)
            self._shape = (cfg, plan(f, cfg, n_ctx=n_ctx, kv_dtype=self.kv_dtype, n_seq=self.max_sequences,
                                     prefill_chunk=PREFILL_CHUNK))
        return self._shape

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def healthy(self) -> bool:
        """False once the model's engine thread has died (see :class:`livemind.engine.scheduler.Scheduler`)."""
        return self._model is None or self._model.healthy

    async def load(self) -> None:
        if self._model is None:
            from livemind.engine.model import Model

            self._model = await asyncio.to_thread(Model, self.path, threads=self.threads, kv_dtype=self.kv_dtype,
                                                  context=self.context, n_seq=self.max_sequences,
                                                  prefill_chunk=PREFILL_CHUNK, max_waiting=self.max_waiting,
                                                  prefix_cache=self.prefix_cache)

    async def unload(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            await asyncio.to_thread(model.close)

    def memory_estimate(self) -> MemoryEstimate:
        """What the engine will take, exactly as it allocates (:mod:`livemind.engine.memory`):
        the weights, every KV slot at the full context (pages are mapped as positions are
        written and handed back when a generation ends), the step's scratch, and the tokenizer
        and metadata on the Python side."""
        _, p = self._header()
        return MemoryEstimate(weights=p.weights, kv=p.kv, scratch=p.scratch, host=p.host)

    def capabilities(self) -> Capabilities:
        cfg, _ = self._header()
        return Capabilities(chat_template=True, seed=True, stop=True, n=False,
                            context=min(self.context, cfg.n_ctx_train), local_memory=True)

    def in_flight(self) -> int:
        return self._model.in_flight() if self._model is not None else 0

    def prefix_stats(self):
        """The loaded model's prefix-cache counters (livemind.engine.prefix.PrefixStats), or None
        (not loaded, or the cache is off)."""
        return self._model.prefix_stats() if self._model is not None else None

    def trim_cache(self, nbytes: int) -> int:
        """Hands back about ``nbytes`` of KV kept for prefix reuse; returns the bytes freed."""
        return self._model.trim_prefix_cache(nbytes) if self._model is not None else 0

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        if self._model is None:
            raise RuntimeError(f"{self!r} is not loaded")
        prompt = list(request.messages) if request.messages is not None else request.prompt
        async for ev in self._model.generate(prompt, max_tokens=request.max_tokens, temperature=request.temperature,
                                             top_k=request.top_k, top_p=request.top_p, min_p=request.min_p,
                                             repetition_penalty=request.repetition_penalty, seed=request.seed,
                                             stop=request.stop):
            if ev.finish_reason is None:
                yield Delta(ev.text, ev.token_id)
            else:
                yield Delta(ev.text, None, ev.finish_reason, ev.usage.prompt_tokens, ev.usage.completion_tokens,
                            ev.timings.ttft_s, ev.timings.decode_tokens_per_s, ev.usage.cached_tokens)
