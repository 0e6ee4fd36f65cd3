"""Cohere's Command-R and Aya Expanse (GGUF ``command-r``): LayerNorm (weight, no bias) instead of
RMSNorm, one norm per layer feeding attention and the feed-forward side by side (a parallel
residual), interleaved-pair RoPE, the output tied to the embeddings, logits × ``logit_scale``.
Command-R+ (64 layers and more) adds per-head q/k LayerNorms the engine does not have yet: its
files are refused for those tensors."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="command-r",
    norm="layer",
    parallel_residual=True,
    applies=frozenset({"attention.layer_norm_epsilon", "logit_scale", "rope.scaling.type", "rope.scaling.factor"}),
)
