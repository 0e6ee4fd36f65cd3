"""Phi-3, Phi-3.5, Phi-4 and Phi-4-mini (GGUF ``phi3``): the Llama block with q, k and v stacked
in one ``attn_qkv`` projection (files may also carry them apart), the feed-forward's gate and up
halves stacked in ``ffn_up`` (gate rows first), half-split RoPE. The 128K-context models
(Phi-3.5-mini, Phi-4-mini) carry LongRoPE: per-pair factors ``rope_factors_short`` /
``rope_factors_long`` (the long ones for a context beyond
``rope.scaling.original_context_length``) and ``rope.scaling.attn_factor``, by which RoPE scales
the q and k elements it turns. Phi-4-mini turns only 96 of each head's 128
(``rope.dimension_count``), with one factor per turned pair. llama.cpp disables Phi's sliding
window (``attention.sliding_window`` is read and ignored); so does the engine, to compute what
llama.cpp computes."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="phi3",
    rope_style="neox",
    fused_qkv=True,
    fused_gate_up=True,
    long_rope=True,
    partial_rope=True,
    applies=frozenset({"rope.scaling.attn_factor", "attention.sliding_window"}),
)
