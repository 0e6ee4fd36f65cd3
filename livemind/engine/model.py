"""A loaded model: GGUF weights mapped in place, a KV cache, and the one-call-per-step forward
pass of ``lmk_model_forward``.

>>> m = load_model(smollm2_gguf())                            # doctest: +SKIP
>>> m.logits(m.tokenize("The capital of France is")).argmax()  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livemind import _native
from livemind import kernels as K
from livemind.engine.config import ModelConfig
from livemind.engine.gguf import GGUFFile
from livemind.errors import ContextLengthError, ModelLoadError

KV_DTYPES = {"f32": (0, np.float32), "f16": (1, np.float16), "fp8": (2, np.uint8)}
_LAYER_TENSORS = {  # lmk name -> GGUF name (per layer)
    "attn_norm": "attn_norm", "attn_q": "attn_q", "attn_k": "attn_k", "attn_v": "attn_v",
    "attn_q_norm": "attn_q_norm", "attn_k_norm": "attn_k_norm", "attn_output": "attn_output",
    "post_attn_norm": "post_attention_norm", "ffn_norm": "ffn_norm", "ffn_gate": "ffn_gate",
    "ffn_up": "ffn_up", "ffn_down": "ffn_down", "post_ffn_norm": "post_ffw_norm",
}


class Model:
    """A decoder model on LiveMind's engine. Use :func:`load_model`."""

    def __init__(self, path: str | Path, *, threads: int | None = None, kv_dtype: str = "f16",
                 context: int | None = None, n_seq: int = 1, prefill_chunk: int = 256):
        if kv_dtype not in KV_DTYPES:
            raise ValueError(f"kv_dtype must be one of {', '.join(KV_DTYPES)}, got {kv_dtype!r}")
        self.file = GGUFFile(path)
        try:
            self.config = cfg = ModelConfig.from_gguf(self.file)
            self.n_ctx = min(context or cfg.n_ctx_train, cfg.n_ctx_train)
            self.kv_dtype = kv_dtype
            self.n_seq = n_seq
            self.prefill_chunk = prefill_chunk
            if threads is not None:
                K.set_threads(threads)
            self._native = self._describe()
            code, dtype = KV_DTYPES[kv_dtype]
            shape = (n_seq, self.n_ctx, cfg.n_head_kv, cfg.head_dim)
            self._k = [np.zeros(shape, dtype) for _ in range(cfg.n_layer)]
            self._v = [np.zeros(shape, dtype) for _ in range(cfg.n_layer)]
            self._kv_code = code
            self._workspace = _aligned(_native.model_workspace_bytes(self._native, prefill_chunk))
        except BaseException:
            self.file.close()
            raise

    def _describe(self):
        cfg, f = self.config, self.file

        def entry(gguf_name: str):
            info = f.tensors[gguf_name]
            data = f.tensor_data(gguf_name)
            rows = int(np.prod(info.shape[:-1])) if len(info.shape) > 1 else 1
            return (data, info.type.id, rows, info.shape[-1])

        tensors = {"token_embd": entry("token_embd.weight"), "output_norm": entry("output_norm.weight"),
                   "output": entry("token_embd.weight" if cfg.tied_output else "output.weight")}
        for il in range(cfg.n_layer):
            for ours, theirs in _LAYER_TENSORS.items():
                name = f"blk.{il}.{theirs}.weight"
                if name in f.tensors:
                    tensors[f"{il}.{ours}"] = entry(name)
        hp = dict(n_vocab=cfg.n_vocab, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
                  n_head_kv=cfg.n_head_kv, head_dim=cfg.head_dim, head_dim_v=cfg.head_dim_v, n_ff=cfg.n_ff,
                  norm_eps=cfg.norm_eps, embed_scale=cfg.embed_scale, attn_scale=cfg.attn_scale,
                  rope_style=0 if cfg.rope_style == "normal" else 1, act=0 if cfg.activation == "silu" else 1)
        layers = [(cfg.layer_rope_theta(il), cfg.sliding_window if cfg.layer_is_sliding(il) else 0)
                  for il in range(cfg.n_layer)]
        try:
            return _native.model_new(hp, layers, tensors)
        except ValueError as exc:
            raise ModelLoadError(f.path, f"weights do not fit the model description: {exc}") from None

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
        _native.model_forward(self._native, self._k, self._v, self._kv_code, self.n_ctx, self.n_seq,
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
            out.append(self.forward(chunk, pos, np.zeros(len(chunk), np.int32), want))
        return np.concatenate(out) if all_positions else out[-1][0]

    def memory(self) -> dict:
        weights = sum(t.nbytes for t in self.file.tensors.values())
        kv = sum(a.nbytes for a in self._k) + sum(a.nbytes for a in self._v)
        return {"weights": weights, "kv": kv, "scratch": int(self._workspace.nbytes)}

    def close(self) -> None:
        self._native = None
        self._k = self._v = []
        self.file.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _aligned(nbytes: int, alignment: int = 64) -> np.ndarray:
    raw = np.empty(nbytes + alignment, np.uint8)
    off = (-raw.ctypes.data) % alignment
    return raw[off:off + nbytes]


def load_model(path: str | Path, *, threads: int | None = None, kv_dtype: str = "f16",
               context: int | None = None) -> Model:
    """Maps a GGUF model and readies it for inference. ``context`` caps the KV cache (default:
    the model's trained context); ``kv_dtype`` is "f16" (default), "fp8" (half the memory) or
    "f32"."""
    return Model(path, threads=threads, kv_dtype=kv_dtype, context=context)
