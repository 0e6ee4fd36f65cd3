"""Llama 1-3.x, Mistral, SmolLM, TinyLlama and the many fine-tunes that share the layout: RMSNorm
before each block, grouped-query attention with interleaved-pair RoPE, SwiGLU. Llama-3.1+ files
carry ``rope_freqs.weight`` (the llama3 long-context RoPE factors, one per pair); older
long-context fine-tunes carry linear ``rope.scaling``."""

from livemind.engine.arch import Architecture

ARCH = Architecture(
    name="llama",
    rope_freqs=True,
    applies=frozenset({"rope.scaling.type", "rope.scaling.factor", "rope.scaling.attn_factor"}),
)
