"""A model's hyper-parameters, read from its GGUF metadata and checked.

One dataclass serves every architecture. What differs between families is their description
(:mod:`livemind.engine.arch`): :meth:`ModelConfig.from_gguf` reads the common keys under the
file's ``<arch>.`` prefix and whatever the description asks for, and refuses a file whose
metadata changes the math in a way the description does not apply. Nothing here names a family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from livemind.engine.arch import MATH_KEYS, Architecture, architecture, supported
from livemind.engine.gguf import GGUFFile
from livemind.errors import ModelLoadError

SUPPORTED_ARCHITECTURES = supported()
INT32_MAX = 2**31 - 1       # the native step's sizes and positions are int32
FLOAT32_MAX = 3.4028234663852886e38   # the step's RoPE base is a float
MAX_LAYERS = 4096           # the native step's limit (kernels/python/bind_model.c)
# Longer than any released model's trained context (10M tokens); a larger value is corruption,
# and the default KV cache is sized by it.
MAX_CONTEXT = 1 << 24


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    n_vocab: int
    n_ctx_train: int          # context length the model was trained for
    n_embd: int               # residual stream width
    n_layer: int
    n_head: int               # query heads
    n_head_kv: int            # key/value heads (grouped-query attention when fewer)
    head_dim: int             # per-head width of q and k
    head_dim_v: int           # per-head width of v
    n_ff: int                 # feed-forward hidden width
    norm_eps: float
    rope_theta: float         # RoPE base of global-attention layers
    rope_theta_local: float   # RoPE base of sliding-window layers
    rope_style: str           # "normal" (interleaved pairs) or "neox" (half-split)
    rope_dims: int            # RoPE turns the first rope_dims elements of each head (head_dim: all)
    sliding_window: int       # 0: every layer is global
    sliding_layers: tuple[bool, ...]   # per layer: does it slide (when sliding_window > 0)
    activation: str           # "silu" (SwiGLU) or "gelu" (GeGLU)
    embed_scale: float        # token embeddings are multiplied by this
    attn_scale: float         # q·k multiplier
    qk_norm: bool             # per-head norm on q and k
    qk_norm_per_head: bool    # ... with one weight per head (n_head, head_dim), not one (head_dim)
    post_norms: bool          # RMSNorm after attention and after the feed-forward block
    tied_output: bool         # logits reuse token_embd when the file has no output.weight
    biases: tuple[str, ...] = ()   # projections with a bias vector
    norm: str = "rms"              # "rms" or "layer" (LayerNorm)
    parallel_residual: bool = False
    logit_scale: float = 1.0
    rope_freq_scale: float = 1.0   # linear RoPE scaling of global layers (1 / rope.scaling.factor)
    rope_freqs: bool = False       # the file's rope_freqs.weight scales each RoPE pair
    long_rope: bool = False        # the file's rope_factors_long/short scale each RoPE pair (LongRoPE)
    rope_ctx_orig: int = 0         # LongRoPE: a context beyond this takes the long factors
    rope_yarn: tuple[float, ...] = ()   # YaRN: per RoPE pair, the divisor of its frequency (as rope_freqs)
    rope_mscale: float = 1.0       # YaRN/LongRoPE attention factor: RoPE multiplies what it turns by it
    global_rope: bool = True       # False: global layers have no RoPE (Cohere2)
    attn_softcap: float = 0.0      # > 0: attention scores become cap·tanh(score/cap)
    final_softcap: float = 0.0     # > 0: logits likewise
    architecture: Architecture | None = field(default=None, repr=False)

    def layer_is_sliding(self, layer: int) -> bool:
        return self.sliding_window > 0 and self.sliding_layers[layer]

    def layer_rope_theta(self, layer: int) -> float:
        """This layer's RoPE base; 0 for a layer without RoPE."""
        if self.layer_is_sliding(layer):
            return self.rope_theta_local
        return self.rope_theta if self.global_rope else 0.0

    def layer_rope_freq_scale(self, layer: int) -> float:
        return 1.0 if self.layer_is_sliding(layer) else self.rope_freq_scale

    @classmethod
    def from_gguf(cls, f: GGUFFile) -> ModelConfig:
        name = f.architecture
        desc = architecture(name)
        if desc is None:
            raise ModelLoadError(f.path, f"architecture {name!r} is not supported "
                                         f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")

        def get(key: str, default=None, *, lo=1, hi=INT32_MAX, kind=int, open_lo=False):
            return _checked(f, f"{name}.{key}", default, lo, hi, kind, open_lo)

        _refuse_unapplied(f, desc)
        # every value is checked before anything is derived from it: a head count of 0 must be
        # this error, not a ZeroDivisionError three lines down
        n_embd, n_head = get("embedding_length"), get("attention.head_count")
        head_dim = get("attention.key_length", n_embd // n_head, lo=2)
        rope_dims = get("rope.dimension_count", head_dim, lo=2, hi=head_dim)
        if rope_dims % 2:
            raise ModelLoadError(f.path, f"metadata {name}.rope.dimension_count = {rope_dims} is odd: RoPE turns pairs")
        if rope_dims != head_dim and not desc.partial_rope:
            raise ModelLoadError(f.path, f"metadata {name}.rope.dimension_count = {rope_dims}: RoPE on part of a "
                                         f"head (of {head_dim}) is not what {name} models do (llama.cpp refuses it too)")
        rope_theta = get("rope.freq_base", 10000.0, lo=0.0, hi=FLOAT32_MAX, kind=float, open_lo=True)
        sw = desc.sliding
        n_layer = get("block_count", hi=MAX_LAYERS)
        theta_local = rope_theta
        if sw and "rope.freq_base_swa" in desc.applies and f"{name}.rope.freq_base_swa" in f.metadata:
            theta_local = get("rope.freq_base_swa", lo=0.0, hi=FLOAT32_MAX, kind=float, open_lo=True)
        elif sw and sw.local_rope_theta is not None:
            theta_local = sw.local_rope_theta

        attn_scale = desc.attn_scale(n_layer, n_embd, n_head, head_dim) if desc.attn_scale else 1.0 / math.sqrt(head_dim)
        long_rope = desc.long_rope and "rope_factors_long.weight" in f.tensors
        n_ctx_train = get("context_length", hi=MAX_CONTEXT)
        yarn = f.metadata.get(f"{name}.rope.scaling.type") == "yarn"
        rope_mscale = 1.0   # RoPE multiplies the q and k elements it turns by this
        if "rope.scaling.attn_factor" in desc.applies:
            rope_mscale = get("rope.scaling.attn_factor", 1.0, lo=0.0, hi=1e3, kind=float, open_lo=True)
        rope_yarn: tuple[float, ...] = ()
        if yarn:
            if sw or long_rope or (desc.rope_freqs and "rope_freqs.weight" in f.tensors):
                raise ModelLoadError(f.path, f"metadata {name}.rope.scaling.type = 'yarn': YaRN is applied to "
                                             "models without sliding-window layers or per-pair RoPE factors")
            factor = get("rope.scaling.factor", lo=1.0, hi=1e6, kind=float)
            ctx_orig = get("rope.scaling.original_context_length", n_ctx_train, lo=1, hi=MAX_CONTEXT)
            rope_yarn, mscale = _yarn(rope_dims, rope_theta, factor, ctx_orig)
            rope_mscale *= mscale

        per_head_qk_norm = desc.per_head_qk_norm and "blk.0.attn_q_norm.weight" in f.tensors

        def softcap(key: str, default: float) -> float:
            return get(key, default, lo=0.0, hi=1e6, kind=float) if key in desc.applies else 0.0
        cfg = cls(
            arch=name, n_vocab=_vocab_size(f, n_embd), n_ctx_train=n_ctx_train,
            n_embd=n_embd, n_layer=n_layer, n_head=n_head,
            n_head_kv=get("attention.head_count_kv", n_head, hi=n_head),
            head_dim=head_dim, head_dim_v=get("attention.value_length", head_dim), n_ff=get("feed_forward_length"),
            norm_eps=get("attention.layer_norm_epsilon" if desc.norm == "layer" else "attention.layer_norm_rms_epsilon",
                         lo=0.0, hi=1.0, kind=float),
            rope_theta=rope_theta, rope_theta_local=theta_local, rope_style=desc.rope_style, rope_dims=rope_dims,
            sliding_window=get("attention.sliding_window", 0, lo=0) if sw else 0,
            sliding_layers=_sliding_layers(f, desc, n_layer), activation=desc.activation,
            embed_scale=math.sqrt(n_embd) if desc.embed_scale_sqrt else 1.0,
            attn_scale=attn_scale,
            qk_norm=desc.qk_norm or per_head_qk_norm, qk_norm_per_head=per_head_qk_norm, post_norms=desc.post_norms, tied_output="output.weight" not in f.tensors,
            biases=desc.biases, rope_freq_scale=1.0 if yarn else _rope_freq_scale(f, name),
            rope_freqs=desc.rope_freqs and "rope_freqs.weight" in f.tensors, norm=desc.norm,
            parallel_residual=desc.parallel_residual, long_rope=long_rope,
            rope_ctx_orig=get("rope.scaling.original_context_length", n_ctx_train, hi=MAX_CONTEXT) if long_rope else 0,
            rope_yarn=rope_yarn, rope_mscale=rope_mscale,
            global_rope=sw.global_rope if sw else True,
            attn_softcap=softcap("attn_logit_softcapping", desc.attn_softcap),
            final_softcap=softcap("final_logit_softcapping", desc.final_softcap),
            logit_scale=get("logit_scale", 1.0, lo=-1e6, hi=1e6, kind=float) if "logit_scale" in desc.applies else 1.0,
            architecture=desc,
        )
        cfg._validate(f)
        return cfg

    def _validate(self, f: GGUFFile) -> None:
        if self.n_head % self.n_head_kv:
            raise ModelLoadError(f.path, f"{self.n_head} query heads do not group over {self.n_head_kv} KV heads")
        if self.head_dim % 2:
            raise ModelLoadError(f.path, f"head dimension {self.head_dim} must be even for RoPE")
        if self.head_dim_v != self.head_dim:
            raise ModelLoadError(f.path, f"value heads of width {self.head_dim_v} differ from key heads of width "
                                         f"{self.head_dim}: the engine's attention needs them equal")


def _refuse_unapplied(f: GGUFFile, desc: Architecture) -> None:
    """A file whose metadata changes the math in a way ``desc`` does not apply is refused,
    naming the key: loading it anyway would give wrong logits without a word."""
    prefix = f"{desc.name}."
    for key, value in f.metadata.items():
        if not key.startswith(prefix):
            continue
        short = key[len(prefix):]
        neutral = MATH_KEYS.get(short)
        if neutral is None or short in desc.applies or (not isinstance(value, list) and value in neutral):
            continue
        raise ModelLoadError(f.path, f"metadata {key} = {_shown(value)} changes how {desc.name} models compute, "
                                     "and the engine does not apply it yet")


def _sliding_layers(f: GGUFFile, desc: Architecture, n_layer: int) -> tuple[bool, ...]:
    """Which layers slide: the file's ``attention.sliding_window_pattern`` (a period n — every n-th
    layer global — or one flag per layer) when the family applies it, else the family's period."""
    if desc.sliding is None:
        return (False,) * n_layer
    key = f"{desc.name}.attention.sliding_window_pattern"
    pattern = f.metadata.get(key, desc.sliding.pattern) if "attention.sliding_window_pattern" in desc.applies \
        else desc.sliding.pattern
    if isinstance(pattern, list):
        if len(pattern) != n_layer or not all(isinstance(v, bool) for v in pattern):
            raise ModelLoadError(f.path, f"metadata {key} = {_shown(pattern)} is not one flag per layer "
                                         f"({n_layer} layers)")
        return tuple(pattern)
    n = _checked(f, key, desc.sliding.pattern, 0, INT32_MAX, int, False)
    return tuple(n == 0 or il % n < n - 1 for il in range(n_layer))   # llama.cpp: 0 means every layer slides


def _yarn(n_dims: int, base: float, factor: float, ctx_orig: int) -> tuple[tuple[float, ...], float]:
    """YaRN as llama.cpp applies it (ggml's rope_yarn, beta_fast 32 and beta_slow 1, extrapolation
    factor 1): pair d's angle mixes the interpolated one (scaled by 1 / factor) and the original,
    by a ramp between the correction dimensions; returned as the divisor of each pair's frequency,
    with the magnitude factor RoPE puts on q and k (1 + 0.1 ln factor)."""
    def corr_dim(n_rot: float) -> float:
        return n_dims * math.log(ctx_orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))

    low, high = max(0.0, math.floor(corr_dim(32.0))), min(n_dims - 1.0, math.ceil(corr_dim(1.0)))
    scale, divisors = 1.0 / factor, []
    for d in range(n_dims // 2):
        ramp = 1.0 - min(1.0, max(0.0, (d - low) / max(0.001, high - low)))
        divisors.append(1.0 / (scale * (1.0 - ramp) + ramp))
    return tuple(divisors), 1.0 + 0.1 * math.log(factor)


def _rope_freq_scale(f: GGUFFile, arch: str) -> float:
    """1 / factor for linear RoPE scaling; 1 without scaling. YaRN is applied apart (_yarn); other
    kinds are refused."""
    kind = f.metadata.get(f"{arch}.rope.scaling.type", "none")
    factor = f.metadata.get(f"{arch}.rope.scaling.factor")
    if kind == "none" or (kind == "linear" and factor in (None, 0, 1)):
        return 1.0
    if kind != "linear":
        raise ModelLoadError(f.path, f"metadata {arch}.rope.scaling.type = {_shown(kind)}: only linear RoPE "
                                     "scaling is applied")
    factor = _checked(f, f"{arch}.rope.scaling.factor", None, 1.0, 1e6, float, False)
    return 1.0 / factor


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked(f: GGUFFile, key: str, default, lo, hi, kind, open_lo: bool):
    """Metadata ``key`` (or ``default`` when absent) as a ``kind`` within [lo, hi] ((lo, hi] when
    ``open_lo``). Strict: a string, an array, a bool or a fraction where an integer belongs is a
    corrupt file, not something to coerce; NaN is in no range."""
    value = f.metadata.get(key, default)
    if value is None:
        raise ModelLoadError(f.path, f"metadata has no {key}")
    shown = f"metadata {key}" if key in f.metadata else f"{key} (absent from the file: the default)"
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise ModelLoadError(f.path, f"{shown} = {value!r} is not {'an integer' if kind is int else 'a number'}")
    if not (lo < value <= hi if open_lo else lo <= value <= hi):
        raise ModelLoadError(f.path, f"{shown} = {value!r} is out of range {'(' if open_lo else '['}{lo}, {hi}]")
    return kind(value)


def _vocab_size(f: GGUFFile, n_embd: int) -> int:
    """Rows of the token embedding, which must be (n_vocab, n_embd) and agree with the
    tokenizer: every id the tokenizer makes is looked up there, and every id the model scores
    must decode."""
    embd = f.require("token_embd.weight")
    if len(embd.shape) != 2 or embd.shape[1] != n_embd or embd.shape[0] > INT32_MAX:
        raise ModelLoadError(f.path, f"token_embd.weight has shape {embd.shape}, not (n_vocab, {n_embd})")
    n_vocab = embd.shape[0]
    tokens = f.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, list) and len(tokens) != n_vocab:
        raise ModelLoadError(f.path, f"the tokenizer has {len(tokens)} tokens but token_embd.weight has "
                                     f"{n_vocab} rows")
    return n_vocab
