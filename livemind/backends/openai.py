"""Experts served by any OpenAI-compatible server (vLLM's ``vllm serve``, llama.cpp's
``llama-server``, Ollama, another LiveMind, OpenAI itself) through the official ``openai`` async
client. The model's memory is the server's, not ours: the governor counts it as zero.

HTTP failures become LiveMind's errors in one place (:meth:`OpenAIBackend._error`):

| server says                                   | raised                                | retried |
| --------------------------------------------- | ------------------------------------- | ------- |
| 400 whose code, type or message says context  | ContextLengthError (-1 where unknown) | no      |
| other 400, 401, 403, 404, 507, other statuses | BackendError                          | no      |
| 429, 503 (unless ``x-should-retry: false``)   | BackendError(retry_after=...)         | yes     |
| connection refused / timed out                | BackendError                          | no      |
| an error frame inside a started stream        | BackendError                          | no      |

Retries happen only before the first token is yielded, at most ``max_retries`` times, waiting
what ``Retry-After`` says (capped at :data:`MAX_RETRY_WAIT_S`) or an exponential backoff.
Error texts never quote the prompt: the server's message is kept, with the request's text cut out.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

from livemind.backends.base import Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.errors import BackendError, ContextLengthError, ModelLoadError

DEFAULT_CONTEXT = 32768      # assumed when the caller does not say: servers do not report it portably
MAX_RETRY_WAIT_S = 30.0      # the longest Retry-After honoured between two attempts
_RETRY_STATUSES = (429, 503)
_DEFAULTS = GenerationRequest.model_fields
_EXTRA = ("top_k", "min_p", "repetition_penalty")   # not in OpenAI's API: sent in extra_body when not default
_CONTEXT_WORDS = re.compile(r"context[ _](length|size|window)|maximum context|too many tokens", re.I)


class OpenAIBackend:
    """A model behind an OpenAI-compatible server.

    ``context`` is the model's context in tokens when known (else :data:`DEFAULT_CONTEXT`);
    the server enforces the real one. ``top_k``, ``min_p`` and ``repetition_penalty`` that differ
    from :class:`GenerationRequest`'s defaults are sent in ``extra_body``: vLLM, llama.cpp's
    server and LiveMind honour them, Ollama's OpenAI endpoint ignores them, OpenAI refuses them.

    >>> b = OpenAIBackend("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-0.5B-Instruct")   # doctest: +SKIP
    >>> lm.Expert("remote", backend=b, description="a bigger model on the GPU box")   # doctest: +SKIP
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 max_retries: int = 3, context: int | None = None):
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.timeout, self.max_retries, self.context = timeout, max_retries, context
        self.key = f"openai:{self.base_url}:{model}"
        self._client = None
        self._open = 0

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, {self.model!r})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def loaded(self) -> bool:
        return self._client is not None

    @property
    def healthy(self) -> bool:
        """Always: a failed request to the server is that request's error, and the next one retries."""
        return True

    def _new_client(self):
        import openai

        # "EMPTY": servers without authentication ignore the key, but the client needs one
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key or "EMPTY", timeout=self.timeout,
                                  max_retries=0)

    async def load(self) -> None:
        """Opens the client and checks that the server answers and offers ``model``."""
        if self._client is not None:
            return
        client = self._new_client()
        try:
            offered = await self._models(client)
            if self.model not in offered:
                raise ModelLoadError(self.key, f"the server does not offer model {self.model!r} "
                                               f"(it offers: {', '.join(offered) or 'none'})")
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def unload(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def list_models(self) -> list[str]:
        """The ids of the models the server offers (works loaded or not)."""
        if self._client is not None:
            return await self._models(self._client)
        client = self._new_client()
        try:
            return await self._models(client)
        finally:
            await client.close()

    async def _models(self, client) -> list[str]:
        try:
            page = await self._retrying(lambda: client.models.list(), None)
        except BackendError as exc:
            raise ModelLoadError(self.key, exc.reason) from exc
        return [m.id async for m in page]

    def memory_estimate(self) -> MemoryEstimate:
        """Zero: the weights and KV cache live in the server's memory, not this process's."""
        return MemoryEstimate(weights=0, kv=0, scratch=0)

    def capabilities(self) -> Capabilities:
        return Capabilities(chat_template=True, seed=True, stop=True, n=False,
                            context=self.context or DEFAULT_CONTEXT, local_memory=False)

    def in_flight(self) -> int:
        """Streams open to the server now."""
        return self._open

    # ------------------------------------------------------------------ generation

    def _params(self, request: GenerationRequest) -> dict:
        messages = list(request.messages) if request.messages is not None else [
            {"role": "user", "content": request.prompt}]
        params = dict(model=self.model, messages=messages, stream=True, stream_options={"include_usage": True},
                      max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p)
        if request.seed is not None:
            params["seed"] = request.seed
        if request.stop:
            params["stop"] = list(request.stop)
        extra = {k: getattr(request, k) for k in _EXTRA if getattr(request, k) != _DEFAULTS[k].default}
        if extra:
            params["extra_body"] = extra
        return params

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        if self._client is None:
            raise RuntimeError(f"{self!r} is not loaded")
        client, params = self._client, self._params(request)
        t0 = time.perf_counter()
        self._open += 1
        try:
            response = await self._retrying(lambda: client.chat.completions.create(**params), request)
            t_first = finish = usage = None
            try:
                async for chunk in response:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        text = choice.delta.content if choice.delta is not None else None
                        if text:
                            t_first = t_first or time.perf_counter()
                            yield Delta(text)
                        finish = choice.finish_reason or finish
            except Exception as exc:
                raise self._error(exc, request) from exc
            finally:
                await response.close()   # an early exit closes the connection: the server sees it go
            if finish is None:
                raise BackendError(self.key, "the stream ended without a finish reason")
            t_end = time.perf_counter()
            completion = usage.completion_tokens if usage is not None else None
            timed = completion is not None and completion > 1 and t_first is not None and t_end > t_first
            speed = (completion - 1) / (t_end - t_first) if timed else None
            yield Delta("", None, finish, usage.prompt_tokens if usage is not None else None, completion,
                        (t_first or t_end) - t0, speed)
        finally:
            self._open -= 1

    # ------------------------------------------------------------------ errors and retries

    async def _retrying(self, call, request: GenerationRequest | None):
        """``await call()``, retrying 429 and 503 up to ``max_retries`` times; failures mapped."""
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as exc:
                error = self._error(exc, request)
                if not (isinstance(error, BackendError) and self._retryable(exc)) or attempt >= self.max_retries:
                    raise error from exc
                await asyncio.sleep(error.retry_after if error.retry_after is not None else min(0.5 * 2 ** attempt,
                                                                                               MAX_RETRY_WAIT_S))
                attempt += 1

    @staticmethod
    def _retryable(exc: Exception) -> bool:
        response = getattr(exc, "response", None)
        return (getattr(exc, "status_code", None) in _RETRY_STATUSES and response is not None
                and response.headers.get("x-should-retry", "").lower() != "false")

    def _error(self, exc: Exception, request: GenerationRequest | None) -> Exception:
        """LiveMind's error for a failure of the client (status, connection, or stream frame)."""
        import openai

        if isinstance(exc, (BackendError, ContextLengthError, ModelLoadError)):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(self.key, f"no answer within {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(self.key, f"cannot reach {self.base_url} ({type(exc.__cause__ or exc).__name__})")
        if not isinstance(exc, openai.APIError):
            return BackendError(self.key, f"{type(exc).__name__}: {_redact(str(exc), request)}")
        body = exc.body if isinstance(exc.body, dict) else {}
        status = getattr(exc, "status_code", None)
        code, kind = str(body.get("code") or ""), str(body.get("type") or "")
        message = _redact(str(body.get("message") or exc.message), request)
        if status == 400 and (code == "context_length_exceeded" or "context" in kind
                              or _CONTEXT_WORDS.search(message)):
            return ContextLengthError(*_context_numbers(body, message))
        what = f"HTTP {status}" if status is not None else "error in the stream"
        if status in (401, 403):
            what += " (the server refused the API key)"
        elif status == 404:
            what += f" (model {self.model!r} or its endpoint not found)"
        retry_after = None
        if status in _RETRY_STATUSES:
            retry_after = _retry_after(exc.response.headers.get("retry-after"))
        detail = "; ".join(p for p in (code, message) if p)
        return BackendError(self.key, f"{what}: {detail}" if detail else what, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (only the delay form), capped at :data:`MAX_RETRY_WAIT_S`."""
    try:
        return min(max(float(value), 0.0), MAX_RETRY_WAIT_S) if value else None
    except ValueError:
        return None


def _context_numbers(body: dict, message: str) -> tuple[int, int]:
    """``(n_tokens, n_ctx)`` from llama.cpp's fields or the usual message wordings; -1 if unknown."""
    def first(*patterns: str) -> int:
        for p in patterns:
            m = re.search(p, message, re.I)
            if m:
                return int(m.group(1))
        return -1

    n_tokens = body.get("n_prompt_tokens")
    n_ctx = body.get("n_ctx")
    n_tokens = n_tokens if isinstance(n_tokens, int) else first(
        r"(?:take|requested|resulted in|has|contains(?: at least)?) (\d+)")   # vLLM: "your prompt contains N"
    n_ctx = n_ctx if isinstance(n_ctx, int) else first(r"context(?: length)? is (\d+)", r"context of (\d+)")
    return n_tokens, n_ctx


def _redact(text: str, request: GenerationRequest | None) -> str:
    """``text`` without the request's prompt (whole, or from where a quoted prefix of it starts)."""
    if request is not None:
        contents = [m["content"] for m in request.messages] if request.messages is not None else [request.prompt]
        for c in sorted(contents, key=len, reverse=True):
            if len(c) >= 4:
                text = text.replace(c, "[prompt]")
                at = text.find(c[:24]) if len(c) > 24 else -1
                if at >= 0:
                    text = text[:at] + "[prompt]"
    return text[:300]
