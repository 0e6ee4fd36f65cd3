"""Qwen2 and Qwen2.5 (Qwen-Coder among them): the Llama layout with biases on the q, k and v
projections and half-split RoPE."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="qwen2",
    rope_style="neox",
    biases=("attn_q", "attn_k", "attn_v"),
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "rope.scaling.attn_factor"}),
)
