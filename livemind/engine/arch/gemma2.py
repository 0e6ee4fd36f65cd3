"""Gemma-2: sliding-window layers (window ``attention.sliding_window``) alternating with global
ones, embeddings × sqrt(n_embd), RMSNorm before and after each block, GeGLU, half-split RoPE, and
soft-capping twice: every attention score (``attn_logit_softcapping``, 50) and the final logits
(``final_logit_softcapping``, 30) pass through cap·tanh(x/cap). Queries are scaled by
1/sqrt(query_pre_attn_scalar), which the GGUF does not carry: the head width, but n_embd / n_head
for the 27B model (46 layers) — llama.cpp tells it by its layer count."""

from livemind.engine.arch import Architecture, SlidingWindow, wide_query_scale


ARCH = Architecture(
    name="gemma2",
    rope_style="neox",
    activation="gelu",
    embed_scale_sqrt=True,
    post_norms=True,
    sliding=SlidingWindow(pattern=2),
    attn_softcap=50.0,
    final_softcap=30.0,
    attn_scale=wide_query_scale(46),
    partial_rope=True,
    applies=frozenset({"attention.sliding_window", "attention.sliding_window_pattern", "rope.freq_base_swa",
                       "attn_logit_softcapping", "final_logit_softcapping"}),
)
