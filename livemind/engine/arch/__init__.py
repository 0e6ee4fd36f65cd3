"""Architectures as data. Each GGUF architecture family the engine runs is one small file here
that fills in an :class:`Architecture`: which norms and where, which projections carry biases,
the RoPE layout and which scaling it honours, the activation, the embedding multiplier, the
sliding-window pattern. :meth:`livemind.engine.config.ModelConfig.from_gguf` and the model
builder read the description; neither names a family.

Adding a family: write ``<family>.py`` with ``ARCH = Architecture(name=..., ...)`` (the GGUF
``general.architecture`` value), add it to ``_FAMILIES`` below, and test it against llama.cpp on
a random-weight file in its layout (tests/engine/test_architectures.py). Whatever the
description does not say is refused at load, never ignored: a metadata key that changes the math
(:data:`MATH_KEYS`) the family does not apply, or a tensor in the file that no part of the
description reads.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

# Metadata keys (after the "<arch>." prefix) that change what a model computes. A file that sets
# one to anything but its neutral value loads only if its family applies it (Architecture.applies).
MATH_KEYS = {
    "rope.scaling.type": ("none",),
    "rope.scaling.factor": (1, 1.0, 0, 0.0),
    "rope.scaling.attn_factor": (1, 1.0, 0, 0.0),
    "rope.scaling.yarn_log_multiplier": (0, 0.0),
    "rope.scaling.yarn_ext_factor": (0, 0.0, -1, -1.0),
    "attn_logit_softcapping": (0, 0.0),
    "final_logit_softcapping": (0, 0.0),
    "logit_scale": (1, 1.0),
    "embedding_scale": (1, 1.0),
    "residual_scale": (1, 1.0),
    "attention.scale": (0, 0.0),
    "attention.clamp_kqv": (0, 0.0),
    "attention.layer_norm_epsilon": (),          # LayerNorm instead of RMSNorm
    "attention.sliding_window": (0,),
    "attention.sliding_window_pattern": (),
    "rope.freq_base_swa": (),                    # the sliding layers' own RoPE base
    "use_parallel_residual": (False,),
    "expert_count": (0,),
}


@dataclass(frozen=True)
class SlidingWindow:
    """Layers that attend over the last ``attention.sliding_window`` positions only. Which layers:
    the file's ``attention.sliding_window_pattern`` when the family applies it (a period n: every
    n-th layer global, the rest sliding; or one flag per layer), else all but every ``pattern``-th
    (Gemma-3: 5 local, then 1 global). Sliding layers are never RoPE-scaled and turn by
    ``rope.freq_base_swa`` when the family applies it and the file sets it, else by
    ``local_rope_theta`` (None: the global base). ``global_rope`` False: the global layers have no
    RoPE at all (Cohere2)."""

    pattern: int
    local_rope_theta: float | None = None
    global_rope: bool = True


@dataclass(frozen=True)
class Architecture:
    """How one family computes, beyond the common decoder (pre-norm RMSNorm blocks, grouped-query
    attention with RoPE, a gated feed-forward)."""

    name: str                              # GGUF general.architecture
    norm: str = "rms"                      # block and output norms: "rms", or "layer" (LayerNorm, no bias)
    parallel_residual: bool = False        # x += attn(h) + ffn(h) with one h = attn_norm(x); no ffn_norm
    rope_style: str = "normal"             # "normal" (interleaved pairs) or "neox" (half-split)
    activation: str = "silu"               # "silu" (SwiGLU) or "gelu" (GeGLU, tanh approximation)
    embed_scale_sqrt: bool = False         # token embeddings × sqrt(n_embd) (Gemma)
    qk_norm: bool = False                  # per-head norm of q and k before RoPE (Gemma-3, Qwen3), one weight
    # q/k norms with a weight for each head, read when the file has them (Command-R+ does, Command-R
    # does not); they are of the family's norm kind, as every norm is
    per_head_qk_norm: bool = False
    post_norms: bool = False               # RMSNorm on each block's output before the residual (Gemma-2/3)
    biases: tuple[str, ...] = ()           # projections with a bias vector (Qwen2: attn_q, attn_k, attn_v)
    sliding: SlidingWindow | None = None
    rope_freqs: bool = False               # reads rope_freqs.weight, per-pair RoPE factors (Llama-3.1+)
    # RoPE may turn only the first rope.dimension_count elements of each head (Phi-4-mini: 96 of
    # 128), as llama.cpp allows for this family; False: the file must turn them all
    partial_rope: bool = False
    fused_qkv: bool = False                # q, k, v may come stacked in attn_qkv.weight (Phi-3)
    fused_gate_up: bool = False            # ffn_up.weight holds the gate rows, then the up rows (Phi-3)
    # rope_factors_long / rope_factors_short (LongRoPE, Phi-3.5): per-pair RoPE factors, the long
    # ones when the context exceeds rope.scaling.original_context_length (as llama.cpp chooses)
    long_rope: bool = False
    # soft-caps when the file has no attn_logit_softcapping / final_logit_softcapping (0: none)
    attn_softcap: float = 0.0
    final_softcap: float = 0.0
    # the q·k multiplier from (n_layer, n_embd, n_head, head_dim); None: 1 / sqrt(head_dim)
    attn_scale: Callable[[int, int, int, int], float] | None = None
    applies: frozenset[str] = frozenset()  # MATH_KEYS this family honours


def wide_query_scale(n_layers: int) -> Callable[[int, int, int, int], float]:
    """Gemma's ``attn_scale``: 1/sqrt(query_pre_attn_scalar), which GGUF files do not carry. It is
    the head width, except in the largest model (told by its ``n_layers``, as llama.cpp does),
    where it is n_embd / n_head."""
    def scale(n_layer: int, n_embd: int, n_head: int, head_dim: int) -> float:
        return 1.0 / math.sqrt(n_embd / n_head if n_layer == n_layers else head_dim)
    return scale


_FAMILIES = ("llama", "gemma2", "gemma3", "qwen2", "qwen3", "phi3", "command-r", "cohere2")


def architecture(name: str) -> Architecture | None:
    """The description of GGUF architecture ``name``, or None when the engine has none."""
    if name not in _FAMILIES:
        return None
    return importlib.import_module(f"livemind.engine.arch.{name.replace('-', '_')}").ARCH


def supported() -> tuple[str, ...]:
    return _FAMILIES
