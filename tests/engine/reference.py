"""A slow, obviously-right numpy model of the architectures LiveMind runs (float32 weights
dequantized by the `gguf` package, float64 math), used only as a test oracle: llama.cpp checks
it, and it checks LiveMind's native engine layer by layer.

Reads top down like nanoGPT's model.py; shapes are written beside each step.
"""

from __future__ import annotations

import numpy as np
from gguf.quants import dequantize

from livemind.engine.config import ModelConfig
from livemind.engine.gguf import GGUFFile


class ReferenceModel:
    def __init__(self, path):
        self.file = GGUFFile(path)
        self.cfg = ModelConfig.from_gguf(self.file)
        self._cache: dict[str, np.ndarray] = {}

    def close(self) -> None:
        self._cache.clear()
        self.file.close()

    def w(self, name: str) -> np.ndarray:
        """A weight as float64 in numpy order, e.g. (out, in) for projections."""
        if name not in self._cache:
            info = self.file.tensors[name]
            raw = np.asarray(self.file.tensor_data(name))
            if info.type.name in ("F32", "F16"):
                arr = raw.astype(np.float64)
            else:
                arr = dequantize(raw, info.type.id).astype(np.float64)
            self._cache[name] = arr.reshape(info.shape)
        return self._cache[name]

    # ---------------------------------------------------------------- blocks

    def rmsnorm(self, x, w):                         # x (..., n), w (n,)
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.cfg.norm_eps) * w

    def rope(self, x, pos, theta):                   # x (T, H, D), pos (T,)
        d = x.shape[-1]
        inv = theta ** (-np.arange(0, d, 2) / d)     # (D/2,)
        ang = pos[:, None] * inv[None, :]            # (T, D/2)
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if self.cfg.rope_style == "neox":            # pairs (i, i + D/2)
            a, b = x[..., : d // 2], x[..., d // 2:]
            return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]            # pairs (2i, 2i + 1)
        return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(x.shape)

    def attention(self, q, k, v, window):            # q (T, H, D), k/v (T, Hkv, D)
        T, H, _ = q.shape
        group = H // k.shape[1]
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)   # (T, H, D)
        scores = np.einsum("thd,shd->hts", q, k) * self.cfg.attn_scale    # (H, T, T)
        i, j = np.arange(T)[:, None], np.arange(T)[None, :]
        visible = j <= i
        if window:
            visible &= i - j < window
        scores = np.where(visible[None], scores, -np.inf)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return np.einsum("hts,shd->thd", p, v)                             # (T, H, D)

    def act(self, x):
        if self.cfg.activation == "silu":
            return x / (1.0 + np.exp(-x))
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    # ---------------------------------------------------------------- the model

    def logits(self, ids) -> np.ndarray:             # ids (T,) → (T, n_vocab)
        cfg, w = self.cfg, self.w
        ids = np.asarray(ids)
        T = len(ids)
        pos = np.arange(T, dtype=np.float64)
        x = w("token_embd.weight")[ids] * cfg.embed_scale                  # (T, n_embd)
        for il in range(cfg.n_layer):
            p = f"blk.{il}."
            h = self.rmsnorm(x, w(p + "attn_norm.weight"))
            q = (h @ w(p + "attn_q.weight").T).reshape(T, cfg.n_head, cfg.head_dim)
            k = (h @ w(p + "attn_k.weight").T).reshape(T, cfg.n_head_kv, cfg.head_dim)
            v = (h @ w(p + "attn_v.weight").T).reshape(T, cfg.n_head_kv, cfg.head_dim_v)
            if cfg.qk_norm:
                q = self.rmsnorm(q, w(p + "attn_q_norm.weight"))
                k = self.rmsnorm(k, w(p + "attn_k_norm.weight"))
            theta = cfg.layer_rope_theta(il)
            q, k = self.rope(q, pos, theta), self.rope(k, pos, theta)
            window = cfg.sliding_window if cfg.layer_is_sliding(il) else 0
            a = self.attention(q, k, v, window).reshape(T, -1) @ w(p + "attn_output.weight").T
            if cfg.post_norms:
                a = self.rmsnorm(a, w(p + "post_attention_norm.weight"))
            x = x + a
            h = self.rmsnorm(x, w(p + "ffn_norm.weight"))
            f = (self.act(h @ w(p + "ffn_gate.weight").T) * (h @ w(p + "ffn_up.weight").T)) @ w(p + "ffn_down.weight").T
            if cfg.post_norms:
                f = self.rmsnorm(f, w(p + "post_ffw_norm.weight"))
            x = x + f
        x = self.rmsnorm(x, w("output_norm.weight"))
        out = w("token_embd.weight") if cfg.tied_output else w("output.weight")
        return x @ out.T                                                    # (T, n_vocab)
