"""Cohere's Command R7B (GGUF ``cohere2``): Command-R's block (LayerNorm, attention and the
feed-forward side by side on one norm, logits × ``logit_scale``, tied output) with sliding-window
attention on three layers of every four; only those turn by RoPE — the global layers have none.
llama.cpp turns the sliding layers by the global base and ignores ``rope.freq_base_swa``; a file
that sets it is refused rather than guessed at."""

from livemind.engine.arch import Architecture, SlidingWindow

ARCH = Architecture(
    name="cohere2",
    norm="layer",
    parallel_residual=True,
    sliding=SlidingWindow(pattern=4, global_rope=False),
    partial_rope=True,
    applies=frozenset({"attention.layer_norm_epsilon", "logit_scale", "attention.sliding_window",
                       "attention.sliding_window_pattern"}),
)
