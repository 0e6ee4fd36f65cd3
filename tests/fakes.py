"""FakeBackend: a backend with no model behind it, for unit tests of orchestration logic (the
pool, the governor, consensus). Every real feature is also tested on the packaged models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from livemind.backends.base import Capabilities, Delta, GenerationRequest, MemoryEstimate


class FakeBackend:
    """Pretends to load ``nbytes`` of model in ``load_seconds`` and answers with ``reply`` (or
    an echo of the last user message), one word per ``token_seconds``. ``fail`` raises from
    load ("load") or mid-stream ("stream")."""

    def __init__(self, key: str, *, nbytes: int = 100 << 20, load_seconds: float = 0.0, token_seconds: float = 0.0,
                 reply: str | None = None, fail: str | None = None, context: int = 4096):
        self.key = key
        self.nbytes, self.load_seconds, self.token_seconds = nbytes, load_seconds, token_seconds
        self.reply, self.fail, self.context = reply, fail, context
        self.loads = self.unloads = 0
        self.healthy = True                    # a test sets False: the engine "died"
        self.requests: list[GenerationRequest] = []
        self._loaded = False
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"FakeBackend({self.key!r})"

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def load(self) -> None:
        self.loads += 1
        self.healthy = True
        await asyncio.sleep(self.load_seconds)
        if self.fail == "load":
            raise RuntimeError(f"{self.key}: load failed (fake)")
        self._loaded = True

    async def unload(self) -> None:
        self.unloads += 1
        self._loaded = False

    def memory_estimate(self) -> MemoryEstimate:
        return MemoryEstimate(weights=self.nbytes, kv=0, scratch=0)

    def capabilities(self) -> Capabilities:
        return Capabilities(chat_template=True, seed=True, stop=True, n=False, context=self.context,
                            local_memory=True)

    def in_flight(self) -> int:
        return self._in_flight

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        if not self._loaded:
            raise RuntimeError(f"{self.key} is not loaded")
        self.requests.append(request)
        self._in_flight += 1
        try:
            text = self.reply
            if text is None:
                last = (request.messages or ({"content": request.prompt or ""},))[-1]["content"]
                text = f"{self.key} says: {last}"
            words = text.split(" ")
            for i, w in enumerate(words[: request.max_tokens]):
                if self.fail == "stream" and i == 1:
                    raise RuntimeError(f"{self.key}: failed mid-stream (fake)")
                await asyncio.sleep(self.token_seconds)
                yield Delta(w if i == 0 else " " + w, i)
            yield Delta("", None, "stop", 3, len(words))
        finally:
            self._in_flight -= 1
