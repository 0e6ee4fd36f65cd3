"""A loaded model: GGUF weights mapped in place, a KV cache, and the one-call-per-step forward
pass of ``lmk_model_forward``.

>>> m = load_model(smollm2_gguf())                            # doctest: +SKIP
>>> m.logits(m.tokenize("The capital of France is")).argmax()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
# asyncio.to_thread imports the executor on first use: 5 ms of the first request's time to first
# token, paid here at import instead (as sampling.py does numpy.random's 7 ms)
from concurrent.futures import ThreadPoolExecutor  # noqa: F401
from pathlib import Path

import numpy as np

from livemind import _native
from livemind import kernels as K
from livemind.engine.config import ModelConfig
from livemind.engine.encoder import Encoder
from livemind.engine.gguf import GGUFFile
from livemind.engine.memory import KV_DTYPES, WEIGHT_TYPES, KVCache, Mapped, MemoryPlan, plan, repacks
from livemind.engine.prefix import PrefixStats
from livemind.engine.sampling import SamplingParams
from livemind.engine.scheduler import EngineDead, Request, Scheduler, TokenEvent
from livemind.engine.tokenizer import Tokenizer
from livemind.errors import BackendError, ContextLengthError, ModelLoadError

_LAYER_TENSORS = {  # lmk name -> GGUF name (per layer, after "blk.N.")
    "attn_norm": "attn_norm.weight", "attn_q": "attn_q.weight", "attn_k": "attn_k.weight",
    "attn_v": "attn_v.weight", "attn_q_norm": "attn_q_norm.weight", "attn_k_norm": "attn_k_norm.weight",
    "attn_output": "attn_output.weight", "post_attn_norm": "post_attention_norm.weight",
    "ffn_norm": "ffn_norm.weight", "ffn_gate": "ffn_gate.weight", "ffn_up": "ffn_up.weight",
    "ffn_down": "ffn_down.weight", "post_ffn_norm": "post_ffw_norm.weight",
    "attn_q_bias": "attn_q.bias", "attn_k_bias": "attn_k.bias", "attn_v_bias": "attn_v.bias",
}
_BASE_LAYER_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
                       "ffn_up", "ffn_down")
_F32_ONLY = ("norm", "bias", "rope_freqs")   # vectors the step reads as floats
REPACK_CHUNK = 8 << 20     # bytes of a weight repacked at a time (the file's pages dropped behind)


def _layer_tensors(cfg: ModelConfig) -> tuple[str, ...]:
    """The lmk names of the per-layer tensors this model's architecture reads: all required."""
    names = [n for n in _BASE_LAYER_TENSORS if not (n == "ffn_norm" and cfg.parallel_residual)]
    names += ["attn_q_norm", "attn_k_norm"] if cfg.qk_norm else []
    names += ["post_attn_norm", "post_ffn_norm"] if cfg.post_norms else []
    names += [f"{p}_bias" for p in cfg.biases]
    return tuple(names)


class Model:
    """A decoder model on LiveMind's engine. Use :func:`load_model`."""

    def __init__(self, path: str | Path, *, threads: int | None = None, kv_dtype: str = "f16",
                 context: int | None = None, n_seq: int = 8, prefill_chunk: int = 256, repack: bool = True,
                 max_waiting: int = 64, prefix_cache: bool = True):
        if kv_dtype not in KV_DTYPES:
            raise ValueError(f"kv_dtype must be one of {', '.join(KV_DTYPES)}, got {kv_dtype!r}")
        self.file = GGUFFile(path)
        self._owned: list[Mapped] = []          # weights in the x16 layout, the workspace
        self._caches: list[KVCache] = []
        self._repacked: list[str] = []          # the tensors laid out in x16
        self._lock = threading.Lock()           # one step at a time: the workspace is shared
        self._native = None
        try:
            self.config = cfg = ModelConfig.from_gguf(self.file)
            self.n_ctx = min(context or cfg.n_ctx_train, cfg.n_ctx_train)
            self.kv_dtype = kv_dtype
            self.n_seq = n_seq                  # concurrent generations (KV slots)
            self.prefill_chunk = prefill_chunk  # most tokens in one step
            self.max_waiting = max_waiting      # generations queued for a slot beyond n_seq; more: Overloaded
            self.prefix_cache = prefix_cache    # a finished generation's KV is kept for the next (prefix.py)
            self.tokenizer = Tokenizer.from_gguf(self.file)
            if threads is not None:
                K.set_threads(threads)
            self._plan = plan(self.file, cfg, n_ctx=self.n_ctx, kv_dtype=kv_dtype, n_seq=n_seq,
                              prefill_chunk=prefill_chunk, repack=repack)
            self._native = self._describe(repack)
            code, dtype = KV_DTYPES[kv_dtype]
            # one slot per concurrent generation plus one for logits(); pages are mapped as
            # positions are written and handed back when a generation ends (release_slot)
            shape = (n_seq + 1, self.n_ctx, cfg.n_head_kv, cfg.head_dim)
            self._caches = [KVCache(shape, dtype) for _ in range(2 * cfg.n_layer)]
            self._k = [c.array for c in self._caches[0::2]]   # (n_seq + 1, n_ctx, n_head_kv, head_dim) per layer
            self._v = [c.array for c in self._caches[1::2]]
            self._kv_code = code
            self._workspace = self._own(_native.model_workspace_bytes(self._native, prefill_chunk))
            self._scheduler: Scheduler | None = None
        except BaseException:
            self._release()
            self.file.close()
            raise

    def _describe(self, repack: bool):
        cfg, f = self.config, self.file
        shapes = _weight_shapes(cfg)

        def entry(gguf_name: str, ours: str, *, projection: bool = True, part: tuple[int, int] | None = None):
            """A weight for the step. Projections are copied once into memory of the model's own
            (same size; the mapped pages are then dropped): repacked to x16 where their format has
            a fast kernel on this CPU, else as the file lays them out; ``repack=False`` reads every
            weight in place. ``part``: the weight
            is rows ``part[0]`` on of a fused tensor of ``part[1]`` rows (q, k, v stacked, or the
            gate and up halves), read in place."""
            info = f.require(gguf_name)
            used.add(gguf_name)
            rows = int(np.prod(info.shape[:-1])) if len(info.shape) > 1 else 1
            want = shapes[ours] if part is None else (part[1], shapes[ours][1])
            # lmk_model_check refuses these too, but cannot say which tensor is wrong
            if (rows, info.shape[-1]) != want:
                raise ModelLoadError(f.path, f"tensor {gguf_name!r} has shape {info.shape}; this model's "
                                             f"hyper-parameters want {want}")
            formats = ("F32",) if ours.endswith(_F32_ONLY) else WEIGHT_TYPES
            if info.type.name not in formats:
                raise ModelLoadError(f.path, f"tensor {gguf_name!r} is {info.type.name}; the engine reads "
                                             f"{ours} weights as {', '.join(formats)}")
            data = f.tensor_data(gguf_name)
            if part is not None:
                rows = shapes[ours][0]
                data = data.reshape(part[1], -1)[part[0]:part[0] + rows]
            x16 = repacks(info, repack=repack, projection=projection, rows=rows)
            if not x16 and not (repack and projection and len(info.shape) == 2 and not ours.endswith(_F32_ONLY)):
                return (data, info.type.id, rows, info.shape[-1])
            # laid out for the step in a mapping of the model's own: x16 where a kernel pays for
            # it, else the file's layout in huge pages (the step streams it: read in place from the
            # file's 4 KiB pages, an F16 model's decode step took 1.2x as long). A few MiB of rows
            # at a time, their file pages dropped behind: loading never holds a tensor twice.
            data = data.reshape(rows, -1).view(np.uint8)
            out = self._own(data.nbytes, huge=True)
            row_bytes, first = data.nbytes // rows, (part[0] if part else 0) * (data.nbytes // rows)
            step = 16 * max(1, REPACK_CHUNK // (16 * row_bytes))
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                if x16:
                    _native.qrepack_x16(info.type.id, data[r0:r1], out[r0 * row_bytes:r1 * row_bytes], r1 - r0,
                                        info.shape[-1])
                else:
                    out[r0 * row_bytes:r1 * row_bytes] = data[r0:r1].reshape(-1)
                f.release(gguf_name, first + r0 * row_bytes, first + r1 * row_bytes)
            if not x16:
                return (out, info.type.id, rows, info.shape[-1])
            self._repacked.append(gguf_name)
            return (out, info.type.id, rows, info.shape[-1], 1)

        used: set[str] = set()
        tensors = {"output_norm": entry("output_norm.weight", "output_norm"),
                   "output": entry("token_embd.weight" if cfg.tied_output else "output.weight", "output")}
        # a tied embedding is looked up in the output projection's own copy (one copy in memory)
        tensors["token_embd"] = (tensors["output"] if cfg.tied_output
                                 else entry("token_embd.weight", "token_embd", projection=False))
        if cfg.rope_freqs:
            tensors["rope_freqs"] = entry("rope_freqs.weight", "rope_freqs")
        elif cfg.rope_yarn:   # YaRN's divisors, read by the step as rope_freqs.weight would be (the model holds them)
            tensors["rope_freqs"] = (np.array(cfg.rope_yarn, np.float32), 0, 1, len(cfg.rope_yarn))
        elif cfg.long_rope:   # the pair for this context, as llama.cpp picks; the other is not read at it
            long = self.n_ctx > cfg.rope_ctx_orig
            tensors["rope_freqs"] = entry(f"rope_factors_{'long' if long else 'short'}.weight", "rope_freqs")
            f.require(f"rope_factors_{'short' if long else 'long'}.weight")
            used.add(f"rope_factors_{'short' if long else 'long'}.weight")
        layer_tensors = _layer_tensors(cfg)
        for il in range(cfg.n_layer):   # stops at the first missing tensor, however many layers are claimed
            fused = self._fused_parts(il, shapes)
            for ours in layer_tensors:
                name, part = fused.get(ours, (f"blk.{il}.{_LAYER_TENSORS[ours]}", None))
                tensors[f"{il}.{ours}"] = entry(name, ours, part=part)
        unused = sorted(set(f.tensors) - used)
        if unused:   # a tensor nothing reads is math left out: refuse rather than compute something else
            raise ModelLoadError(f.path, f"tensor {unused[0]!r} ({len(unused)} unused in all) is not read by "
                                         f"the engine's {cfg.arch} description; the model would compute "
                                         "without it")
        hp = dict(n_vocab=cfg.n_vocab, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
                  n_head_kv=cfg.n_head_kv, head_dim=cfg.head_dim, head_dim_v=cfg.head_dim_v, n_ff=cfg.n_ff,
                  norm_eps=cfg.norm_eps, embed_scale=cfg.embed_scale, attn_scale=cfg.attn_scale,
                  rope_dims=cfg.rope_dims, rope_mscale=cfg.rope_mscale,
                  rope_style=0 if cfg.rope_style == "normal" else 1, act=0 if cfg.activation == "silu" else 1,
                  norm_kind=0 if cfg.norm == "rms" else 1, parallel_residual=int(cfg.parallel_residual),
                  logit_scale=cfg.logit_scale, attn_softcap=cfg.attn_softcap, final_softcap=cfg.final_softcap)
        layers = [(cfg.layer_rope_theta(il), cfg.sliding_window if cfg.layer_is_sliding(il) else 0,
                   cfg.layer_rope_freq_scale(il)) for il in range(cfg.n_layer)]
        try:
            return _native.model_new(hp, layers, tensors)
        except ValueError as exc:
            raise ModelLoadError(f.path, f"weights do not fit the model description: {exc}") from None

    def _fused_parts(self, il: int, shapes) -> dict[str, tuple[str, tuple[int, int]]]:
        """Layer ``il``'s weights that its file stores stacked in one tensor (Phi-3: q, k and v in
        attn_qkv; the feed-forward's gate and up halves in ffn_up), as lmk name -> (tensor, (first
        row, rows of the tensor))."""
        desc, f = self.config.architecture, self.file
        groups = []
        if desc.fused_qkv and f"blk.{il}.attn_qkv.weight" in f.tensors:   # else the file has q, k, v apart
            groups.append((f"blk.{il}.attn_qkv.weight", ("attn_q", "attn_k", "attn_v")))
        if desc.fused_gate_up:
            groups.append((f"blk.{il}.ffn_up.weight", ("ffn_gate", "ffn_up")))
        out = {}
        for name, parts in groups:
            total, row = sum(shapes[p][0] for p in parts), 0
            for p in parts:
                out[p] = (name, (row, total))
                row += shapes[p][0]
        return out

    # ------------------------------------------------------------------ forward

    def forward(self, tokens, pos, seq, want=None) -> np.ndarray:
        """One step: tokens (T,), positions (T,), sequence slots (T,) → logits (n_wanted, vocab)."""
        tokens = np.ascontiguousarray(tokens, np.int32)
        pos = np.ascontiguousarray(pos, np.int32)
        seq = np.ascontiguousarray(seq, np.int32)
        n_out = int(np.count_nonzero(want)) if want is not None else int(
            np.count_nonzero(np.append(seq[1:] != seq[:-1], True)))
        logits = np.empty((n_out, self.config.n_vocab), np.float32)
        want_arr = None if want is None else np.ascontiguousarray(want, np.int8)
        if len(tokens) > self.prefill_chunk:
            raise ValueError(f"a step takes at most {self.prefill_chunk} tokens, got {len(tokens)}")
        with self._lock:
            if self._native is None:
                raise RuntimeError("the model is closed")
            _native.model_forward(self._native, self._k, self._v, self._kv_code, self.n_ctx, self.n_seq + 1,
                                  tokens, pos, seq, want_arr, logits, self._workspace)
        return logits

    def logits(self, ids, *, all_positions: bool = False) -> np.ndarray:
        """Logits after ``ids`` (a fresh sequence): (vocab,) for the last position, or
        (len(ids), vocab) for every position. The prompt is prefilled in chunks."""
        ids = np.asarray(ids, np.int32)
        if ids.ndim != 1 or len(ids) == 0:
            raise ValueError("ids must be a non-empty 1-D sequence of token ids")
        if len(ids) > self.n_ctx:
            raise ContextLengthError(len(ids), self.n_ctx)
        if ids.min() < 0 or ids.max() >= self.config.n_vocab:
            raise ValueError(f"token ids must lie in [0, {self.config.n_vocab})")
        out = []
        for start in range(0, len(ids), self.prefill_chunk):
            chunk = ids[start:start + self.prefill_chunk]
            pos = np.arange(start, start + len(chunk), dtype=np.int32)
            want = np.ones(len(chunk), np.int8) if all_positions else None
            slot = np.full(len(chunk), self.n_seq, np.int32)    # the slot reserved for logits()
            out.append(self.forward(chunk, pos, slot, want))
        self.release_slot(self.n_seq, len(ids))
        return np.concatenate(out) if all_positions else out[-1][0]

    def release_slot(self, slot: int, positions: int, start: int = 0) -> None:
        """Hands back the KV pages of ``slot``'s positions ``start``..``positions``: what they held
        is no longer needed (the scheduler calls this), so resident memory follows the work in
        flight and the prefixes kept for reuse."""
        for cache in self._caches:
            cache.release(slot, positions, start)

    def copy_prefix(self, src: int, dst: int, positions: int) -> None:
        """Copies the K/V of ``src``'s first ``positions`` positions into slot ``dst`` (the prefix
        cache taking up a running sequence's prompt)."""
        with self._lock:
            for a in self._k + self._v:   # (n_slots, n_ctx, n_head_kv, head_dim) each
                a[dst, :positions] = a[src, :positions]

    @property
    def kv_bytes_per_position(self) -> int:
        """Bytes one position of one slot takes over all layers, K and V."""
        return sum(c.slot_bytes for c in self._caches) // self.n_ctx

    def prefix_stats(self) -> PrefixStats | None:
        """The prefix cache's counters, or None when it is off; all zero before the first
        generation."""
        if not self.prefix_cache:
            return None
        return self._scheduler.prefix_stats() if self._scheduler is not None else PrefixStats()

    def trim_prefix_cache(self, nbytes: int) -> int:
        """Hands back about ``nbytes`` of the KV kept for prefix reuse, least recently used first;
        returns the bytes freed (the governor's relief under memory pressure)."""
        return self._scheduler.trim(nbytes) if self._scheduler is not None else 0

    # ------------------------------------------------------------------ text

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Token ids of ``text``; ``add_special`` adds BOS/EOS as the model wants them, and
        text that looks like a special token stays plain text unless ``parse_special``."""
        return self.tokenizer.encode(text, add_special=add_special, parse_special=parse_special)

    def detokenize(self, ids) -> str:
        return self.tokenizer.decode(ids)

    def embed(self, texts) -> np.ndarray:
        """Decoders have no sentence embeddings: load an encoder folder with :func:`load_model`."""
        raise TypeError(f"{self.file.path.name} is a {self.config.arch} decoder; embeddings come from an "
                        "encoder: load_model(livemind.engine.encoder.minilm_dir()).embed(texts)")

    def prompt_ids(self, prompt) -> np.ndarray:
        """Token ids for a prompt given as ids, text, or chat messages (rendered with the
        model's chat template)."""
        if isinstance(prompt, str):
            ids = self.tokenize(prompt)
        elif isinstance(prompt, (list, tuple)) and prompt and all(isinstance(m, dict) for m in prompt):
            from livemind.engine.chat import encode_chat
            # the messages are data: only the template's text becomes control tokens
            ids = encode_chat(self.tokenizer, prompt, self.file.metadata.get("tokenizer.chat_template"),
                              arch=self.config.arch)
        else:
            ids = list(prompt)
        arr = np.asarray(ids, np.int64)
        if arr.ndim != 1 or len(arr) == 0:
            raise ValueError("prompt must be non-empty text, chat messages, or a list of token ids")
        if arr.min() < 0 or arr.max() >= self.config.n_vocab:
            raise ValueError(f"prompt token ids must lie in [0, {self.config.n_vocab})")
        return arr.astype(np.int32)

    # ------------------------------------------------------------------ generation

    async def generate(self, prompt, *, max_tokens: int = 256, temperature: float = 0.8, top_k: int = 40,
                       top_p: float = 0.95, min_p: float = 0.05, repetition_penalty: float = 1.0,
                       seed: int | None = None, stop=()) -> AsyncIterator[TokenEvent]:
        """Streams a completion of ``prompt`` (token ids, text, or chat messages). Concurrent
        calls share forward steps (continuous batching). Breaking out of the loop or cancelling
        the task frees the sequence's slot at the next step. Raises ContextLengthError before
        any work if the prompt does not fit the context, and BackendError if the engine fails
        this generation (the others on the model go on).

        >>> async for ev in m.generate("Once upon a time", max_tokens=8, temperature=0):  # doctest: +SKIP
        ...     print(ev.text, end="")
        """
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                                repetition_penalty=repetition_penalty, seed=seed,
                                stop=(stop,) if isinstance(stop, str) else tuple(stop or ()))
        ids = await asyncio.to_thread(self.prompt_ids, prompt)    # rendering and tokenizing: off the loop
        if len(ids) >= self.n_ctx:
            raise ContextLengthError(len(ids), self.n_ctx)
        if self._native is None:
            raise RuntimeError("the model is closed")
        if self._scheduler is None:
            self._scheduler = Scheduler(self, n_slots=self.n_seq, step_tokens=self.prefill_chunk,
                                        prefix_cache=self.prefix_cache,
                                        max_waiting=self.max_waiting)
        req = Request(prompt=ids, params=params, max_tokens=max_tokens, loop=asyncio.get_running_loop(),
                      queue=asyncio.Queue(), decoder=self.tokenizer.stream_decoder(),
                      eot_ids=frozenset(self.tokenizer.eot_ids))
        try:
            self._scheduler.submit(req)
        except EngineDead as exc:
            raise BackendError(self.name, str(exc)) from None
        try:
            while True:
                event = await req.queue.get()
                if event.finish_reason == "error":
                    raise BackendError(self.name, event.error or "the generation failed")
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            req.cancel()   # a no-op when finished; otherwise frees the slot at the next step

    @property
    def name(self) -> str:
        """The model file's name, as errors name this model."""
        return self.file.path.name

    @property
    def healthy(self) -> bool:
        """False once the engine thread has died (every request it held ended with an error):
        close the model and load it again."""
        return self._scheduler is None or self._scheduler.healthy

    def in_flight(self) -> int:
        """Generations queued or running."""
        return self._scheduler.in_flight() if self._scheduler else 0

    def memory(self) -> dict:
        """The most this model takes, by kind (weights, kv, scratch, host; bytes): the account
        of :mod:`livemind.engine.memory`, which the governor budgets."""
        return self._plan.as_dict()

    @property
    def memory_plan(self) -> MemoryPlan:
        return self._plan

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.close()
            self._scheduler = None
        self._release()
        self.file.close()

    def _release(self) -> None:
        """Hands the model's own memory back (its mappings), once no step is running: the C model
        reads it until it is gone."""
        with self._lock:
            self._native = None
            self._k = self._v = []
            self._workspace = None
            for mapped in [*self._caches, *self._owned]:
                mapped.close()
            self._caches, self._owned = [], []

    def _own(self, nbytes: int, *, huge: bool = False) -> np.ndarray:
        """``nbytes`` in a mapping of the model's own (page-aligned), handed back at close()."""
        mapped = Mapped(nbytes, huge=huge)
        self._owned.append(mapped)
        return mapped.array()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _weight_shapes(cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """(rows, cols) of each weight of the step (lmk_model.h), by its lmk name."""
    e, q, kv, d = cfg.n_embd, cfg.n_head * cfg.head_dim, cfg.n_head_kv * cfg.head_dim, cfg.head_dim
    norm, vocab = (1, e), (cfg.n_vocab, e)
    heads, kv_heads = (cfg.n_head, cfg.n_head_kv) if cfg.qk_norm_per_head else (1, 1)
    return {"token_embd": vocab, "output_norm": norm, "output": vocab, "attn_norm": norm, "attn_q": (q, e),
            "attn_k": (kv, e), "attn_v": (kv, e), "attn_q_norm": (heads, d), "attn_k_norm": (kv_heads, d),
            "attn_output": (e, q), "post_attn_norm": norm, "ffn_norm": norm, "ffn_gate": (cfg.n_ff, e),
            "ffn_up": (cfg.n_ff, e), "ffn_down": (e, cfg.n_ff), "post_ffn_norm": norm,
            "attn_q_bias": (1, q), "attn_k_bias": (1, kv), "attn_v_bias": (1, kv),
            "rope_freqs": (1, cfg.rope_dims // 2)}


def load_model(path: str | Path, *, threads: int | None = None, kv_dtype: str = "f16",
               context: int | None = None, repack: bool = True, prefix_cache: bool = True) -> Model | Encoder:
    """Maps a GGUF model and readies it for inference. ``context`` caps the KV cache (default:
    the model's trained context); ``kv_dtype`` is "f16" (default), "fp8" (half the memory) or
    "f32". ``repack`` lets the engine lay projection weights out for this CPU's fastest kernel
    once at load (the x16 layout, same size; docs/engine.md); False keeps the file's layout.
    ``prefix_cache`` keeps each finished generation's KV for the next request that starts the same
    way (a chat's next turn: :mod:`livemind.engine.prefix`); False prefills every prompt whole.

    A folder (config.json, tokenizer.json, model.safetensors of a BERT model, such as
    ``livemind.engine.encoder.minilm_dir()``) loads as a sentence :class:`Encoder` instead, whose
    ``embed(texts)`` gives unit-length embeddings; ``context`` then caps its tokens per text."""
    if Path(path).is_dir():
        if threads is not None:
            K.set_threads(threads)
        return Encoder(path, max_length=context)
    return Model(path, threads=threads, kv_dtype=kv_dtype, context=context, repack=repack,
                 prefix_cache=prefix_cache)
