"""Gemma-3: 5 sliding-window layers (RoPE base 10 000 unless ``rope.freq_base_swa`` says otherwise,
window ``attention.sliding_window``) then
one global layer, embeddings × sqrt(n_embd), per-head q/k RMSNorm, RMSNorm after each block's
output too, GeGLU, half-split RoPE. Gemma-3 4B-27B scale the global layers' RoPE linearly
(``rope.scaling``, ×8); the local layers keep theirs. Queries are scaled by
1/sqrt(query_pre_attn_scalar), which the GGUF does not carry: it is the head width, but for the
27B model (62 layers) n_embd / n_head — llama.cpp tells the 27B by its layer count too."""

from livemind.engine.arch import Architecture, SlidingWindow, wide_query_scale


ARCH = Architecture(
    name="gemma3",
    rope_style="neox",
    activation="gelu",
    embed_scale_sqrt=True,
    qk_norm=True,
    post_norms=True,
    sliding=SlidingWindow(pattern=6, local_rope_theta=10000.0),
    attn_scale=wide_query_scale(62),
    partial_rope=True,
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "attention.sliding_window",
                       "attention.sliding_window_pattern", "rope.freq_base_swa", "final_logit_softcapping"}),
)
