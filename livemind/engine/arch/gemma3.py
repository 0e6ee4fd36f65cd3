"""Gemma-3: 5 sliding-window layers (RoPE base 10 000, window ``attention.sliding_window``) then
one global layer, embeddings × sqrt(n_embd), per-head q/k RMSNorm, RMSNorm after each block's
output too, GeGLU, half-split RoPE. Gemma-3 4B-27B scale the global layers' RoPE linearly
(``rope.scaling``, ×8); the local layers keep theirs."""

from livemind.engine.arch import Architecture, SlidingWindow

ARCH = Architecture(
    name="gemma3",
    rope_style="neox",
    activation="gelu",
    embed_scale_sqrt=True,
    qk_norm=True,
    post_norms=True,
    sliding=SlidingWindow(pattern=6, local_rope_theta=10000.0),
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "attention.sliding_window"}),
)
