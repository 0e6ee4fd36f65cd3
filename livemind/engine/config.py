"""A model's hyper-parameters, read from its GGUF metadata and checked.

One dataclass serves every architecture; the per-architecture differences are data (which
layers slide, which RoPE layout, which activation), so the engine never branches on a model's
name beyond :func:`ModelConfig.from_gguf`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from livemind.engine.gguf import GGUFFile
from livemind.errors import ModelLoadError

SUPPORTED_ARCHITECTURES = ("llama", "gemma3")


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    n_vocab: int
    n_ctx_train: int          # context length the model was trained for
    n_embd: int               # residual stream width
    n_layer: int
    n_head: int               # query heads
    n_head_kv: int            # key/value heads (grouped-query attention when fewer)
    head_dim: int             # per-head width of q and k
    head_dim_v: int           # per-head width of v
    n_ff: int                 # feed-forward hidden width
    norm_eps: float
    rope_theta: float         # RoPE base of global-attention layers
    rope_theta_local: float   # RoPE base of sliding-window layers
    rope_style: str           # "normal" (interleaved pairs) or "neox" (half-split)
    sliding_window: int       # 0: every layer is global
    swa_pattern: int          # every swa_pattern-th layer is global; others slide (0: none slide)
    activation: str           # "silu" (SwiGLU) or "gelu" (GeGLU)
    embed_scale: float        # token embeddings are multiplied by this
    attn_scale: float         # q·k multiplier
    qk_norm: bool             # per-head RMSNorm on q and k
    post_norms: bool          # RMSNorm after attention and after the feed-forward block
    tied_output: bool         # logits reuse token_embd when the file has no output.weight

    def layer_is_sliding(self, layer: int) -> bool:
        return self.sliding_window > 0 and self.swa_pattern > 0 and (layer + 1) % self.swa_pattern != 0

    def layer_rope_theta(self, layer: int) -> float:
        return self.rope_theta_local if self.layer_is_sliding(layer) else self.rope_theta

    @classmethod
    def from_gguf(cls, f: GGUFFile) -> ModelConfig:
        arch = f.architecture
        if arch not in SUPPORTED_ARCHITECTURES:
            raise ModelLoadError(f.path, f"architecture {arch!r} is not supported "
                                         f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
        md = f.metadata

        def get(key: str, default=None, kind=int):
            value = md.get(f"{arch}.{key}", default)
            if value is None:
                raise ModelLoadError(f.path, f"metadata has no {arch}.{key}")
            try:
                return kind(value)
            except (TypeError, ValueError):
                raise ModelLoadError(f.path, f"metadata {arch}.{key} = {value!r} is not a {kind.__name__}") from None

        n_embd, n_head = get("embedding_length"), get("attention.head_count")
        head_dim = get("attention.key_length", n_embd // max(n_head, 1))
        embd = f.tensors.get("token_embd.weight")
        if embd is None:
            raise ModelLoadError(f.path, "no token_embd.weight tensor")
        common = dict(
            arch=arch, n_vocab=int(embd.shape[0]), n_ctx_train=get("context_length"), n_embd=n_embd,
            n_layer=get("block_count"), n_head=n_head, n_head_kv=get("attention.head_count_kv", n_head),
            head_dim=head_dim, head_dim_v=get("attention.value_length", head_dim), n_ff=get("feed_forward_length"),
            norm_eps=get("attention.layer_norm_rms_epsilon", kind=float),
            rope_theta=get("rope.freq_base", 10000.0, float), tied_output="output.weight" not in f.tensors,
        )
        if arch == "llama":
            cfg = cls(**common, rope_theta_local=common["rope_theta"], rope_style="normal", sliding_window=0,
                      swa_pattern=0, activation="silu", embed_scale=1.0, attn_scale=1.0 / math.sqrt(head_dim),
                      qk_norm=False, post_norms=False)
        else:  # gemma3: 5 sliding layers (RoPE base 10k) then 1 global, scaled embeddings, extra norms
            cfg = cls(**common, rope_theta_local=10000.0, rope_style="neox",
                      sliding_window=get("attention.sliding_window", 0), swa_pattern=6, activation="gelu",
                      embed_scale=math.sqrt(n_embd), attn_scale=1.0 / math.sqrt(head_dim),
                      qk_norm=True, post_norms=True)
        cfg._validate(f)
        return cfg

    def _validate(self, f: GGUFFile) -> None:
        for name in ("n_vocab", "n_ctx_train", "n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "n_ff"):
            if getattr(self, name) <= 0:
                raise ModelLoadError(f.path, f"{name} = {getattr(self, name)} must be positive")
        if self.n_head % self.n_head_kv:
            raise ModelLoadError(f.path, f"{self.n_head} query heads do not group over {self.n_head_kv} KV heads")
        if self.head_dim % 2:
            raise ModelLoadError(f.path, f"head dimension {self.head_dim} must be even for RoPE")
