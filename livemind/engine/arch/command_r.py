"""Cohere's Command-R and Aya Expanse (GGUF ``command-r``): LayerNorm (weight, no bias) instead of
RMSNorm, one norm per layer feeding attention and the feed-forward side by side (a parallel
residual), interleaved-pair RoPE, the output tied to the embeddings, logits × ``logit_scale``.
Command-R+ (64 layers and more) adds LayerNorms of q and k before RoPE with a weight for each
head (``attn_q_norm`` (n_head, head_dim)); read when the file has them. RoPE may turn part of a
head (``rope.dimension_count``), as llama.cpp allows."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="command-r",
    norm="layer",
    parallel_residual=True,
    partial_rope=True,
    per_head_qk_norm=True,
    applies=frozenset({"attention.layer_norm_epsilon", "logit_scale", "rope.scaling.type", "rope.scaling.factor"}),
)
