"""Gemma-3: 5 sliding-window layers (RoPE base 10 000, window ``attention.sliding_window``) then
one global layer, embeddings × sqrt(n_embd), per-head q/k RMSNorm, RMSNorm after each block's
output too, GeGLU, half-split RoPE. Gemma-3 4B-27B scale the global layers' RoPE linearly
(``rope.scaling``, ×8); the local layers keep theirs. Queries are scaled by
1/sqrt(query_pre_attn_scalar), which the GGUF does not carry: it is the head width, but for the
27B model (62 layers) n_embd / n_head — llama.cpp tells the 27B by its layer count too."""

import math

from livemind.engine.arch import Architecture, SlidingWindow


def _attn_scale(n_layer: int, n_embd: int, n_head: int, head_dim: int) -> float:
    return 1.0 / math.sqrt(n_embd / n_head if n_layer == 62 else head_dim)


ARCH = Architecture(
    name="gemma3",
    rope_style="neox",
    activation="gelu",
    embed_scale_sqrt=True,
    qk_norm=True,
    post_norms=True,
    sliding=SlidingWindow(pattern=6, local_rope_theta=10000.0),
    attn_scale=_attn_scale,
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "attention.sliding_window"}),
)
