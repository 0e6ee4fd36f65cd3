"""Qwen3 (dense): the Llama layout with per-head q/k RMSNorm before half-split RoPE and no
biases; its head width (``attention.key_length``, 128) need not be n_embd / n_head."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="qwen3",
    rope_style="neox",
    qk_norm=True,
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "rope.scaling.attn_factor"}),
)
