"""Random-weight GGUF files in each architecture family's exact layout, as llama.cpp's
converters write them (tensor names, which are tied, biases and extra norms, metadata keys): small
ones for the tests that hold the engine to llama.cpp on families we ship no model of
(tests/engine/test_architectures.py), mid-size ones for ``livemind bench engine --synthetic``. The
layouts are written out here from llama.cpp's tensor tables, not derived from
livemind.engine.arch, so that a description that forgot a tensor fails against llama.cpp instead
of agreeing with itself.

Weight-type variants are made by llama.cpp's own quantizer (:func:`quantized`). Needs the ``gguf``
package (and llama-cpp-python for :func:`quantized`): test dependencies, not the runtime's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# a byte-level BPE vocabulary: GPT-2's printable byte stand-ins, two merges, then three control
# tokens (the first is BOS, the last EOS)
_ORDINARY = [chr(c) for c in range(0x21, 0x7F)] + ["Ġ", "Ġt", "he"]
_TOKENS = _ORDINARY + ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_TYPES = [1] * len(_ORDINARY) + [3, 3, 3]
_MERGES = ["Ġ t", "h e"]
N_ORDINARY = BOS = len(_ORDINARY)

LAYOUTS = {   # family -> (per-layer tensors beyond the common ones, output tied?, metadata of its own)
    "llama": ((), False, {}),
    "qwen2": (("attn_q.bias", "attn_k.bias", "attn_v.bias"), False, {}),
    "qwen3": (("attn_q_norm.weight", "attn_k_norm.weight"), False, {"key_length": True}),
    "gemma3": (("attn_q_norm.weight", "attn_k_norm.weight", "post_attention_norm.weight", "post_ffw_norm.weight"),
               True, {"key_length": True, "sliding_window": 8}),
    "gemma2": (("post_attention_norm.weight", "post_ffw_norm.weight"), True, {"key_length": True, "sliding_window": 8}),
    # LayerNorm, one norm a layer (parallel attention and feed-forward), output tied, a logit scale;
    # from 64 layers on (Command-R+), q/k norms with a weight for each head
    "command-r": ((), True, {"layer_norm": True, "no_ffn_norm": True, "logit_scale": 0.125,
                            "per_head_qk_norm_from": 64}),
    # q, k, v stacked in attn_qkv; gate and up stacked in ffn_up
    "phi3": ((), False, {"fused": True}),
    "cohere2": ((), True, {"layer_norm": True, "no_ffn_norm": True, "logit_scale": 0.125, "sliding_window": 8}),
}
COMMON = ("attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
          "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight")


def write(path: Path, family: str, *, n_layer: int = 2, n_embd: int = 256, n_head: int = 4, n_head_kv: int = 2,
          head_dim: int | None = None, n_ff: int = 512, seed: int = 0, metadata: dict | None = None,
          rope_freqs: np.ndarray | None = None, context: int = 256, tensors: dict | None = None,
          n_vocab: int | None = None, rope_dims: int | None = None) -> Path:
    """A ``family`` model with random weights (F32) at ``path``. ``head_dim`` other than
    n_embd / n_head needs a family that writes ``attention.key_length``; ``metadata``: more
    ``<arch>.`` keys (e.g. ``{"rope.scaling.type": "linear", "rope.scaling.factor": 8.0}``);
    ``rope_freqs``: a ``rope_freqs.weight`` tensor (rope_dims / 2 factors); ``rope_dims``: RoPE on
    the first that many elements of each head (default: all of it); ``tensors``: more
    top-level float tensors by name (e.g. Phi-3's ``rope_factors_long.weight``); ``n_vocab``: pad
    the vocabulary with tokens no text spells to this size (real models' output projections are
    large: a benchmark wants one)."""
    import gguf

    extra, tied, own = LAYOUTS[family]
    head_dim = head_dim or n_embd // n_head
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), family)
    w.add_name("tiny random model")   # llama.cpp keys token attributes on some names ("phi3")
    w.add_context_length(context)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    if own.get("layer_norm"):
        w.add_layer_norm_eps(1e-5)
    else:
        w.add_layer_norm_rms_eps(1e-6)
    if "logit_scale" in own:
        w.add_float32(f"{family}.logit_scale", own["logit_scale"])
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(rope_dims or head_dim)
    if own.get("key_length"):
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if "sliding_window" in own:
        w.add_sliding_window(own["sliding_window"])
    for key, value in (metadata or {}).items():
        full = f"{family}.{key}"
        if isinstance(value, str):
            w.add_string(full, value)
        elif isinstance(value, float):
            w.add_float32(full, value)
        else:
            w.add_uint32(full, value)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    pad = max(0, (n_vocab or 0) - len(_TOKENS))
    tokens, types = _TOKENS + [f"\u2400pad{i}" for i in range(pad)], _TYPES + [1] * pad
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(_MERGES)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(len(_TOKENS) - 1)

    def tensor(name: str, shape, scale: float = 0.08, offset: float = 0.0):
        w.add_tensor(name, (offset + rng.standard_normal(shape) * scale).astype(np.float32))

    q, kv = n_head * head_dim, n_head_kv * head_dim
    shapes = {"attn_q.weight": (q, n_embd), "attn_k.weight": (kv, n_embd), "attn_v.weight": (kv, n_embd),
              "attn_output.weight": (n_embd, q), "ffn_gate.weight": (n_ff, n_embd), "ffn_up.weight": (n_ff, n_embd),
              "ffn_down.weight": (n_embd, n_ff), "attn_q.bias": (q,), "attn_k.bias": (kv,), "attn_v.bias": (kv,),
              "attn_q_norm.weight": (head_dim,), "attn_k_norm.weight": (head_dim,),
              "attn_qkv.weight": (q + 2 * kv, n_embd)}
    names = COMMON + extra
    if n_layer >= own.get("per_head_qk_norm_from", n_layer + 1):
        names += ("attn_q_norm.weight", "attn_k_norm.weight")
        shapes["attn_q_norm.weight"], shapes["attn_k_norm.weight"] = (n_head, head_dim), (n_head_kv, head_dim)
    if own.get("fused"):
        names = tuple(n for n in names if n not in ("attn_q.weight", "attn_k.weight", "attn_v.weight",
                                                    "ffn_gate.weight")) + ("attn_qkv.weight",)
        shapes["ffn_up.weight"] = (2 * n_ff, n_embd)
    tensor("token_embd.weight", (len(tokens), n_embd), 0.5)
    if rope_freqs is not None:
        w.add_tensor("rope_freqs.weight", np.asarray(rope_freqs, np.float32))
    for name, value in (tensors or {}).items():
        w.add_tensor(name, np.asarray(value, np.float32))
    for il in range(n_layer):
        for name in names:
            if name == "ffn_norm.weight" and own.get("no_ffn_norm"):
                continue
            if name.endswith("norm.weight"):
                tensor(f"blk.{il}.{name}", shapes.get(name, (n_embd,)), 0.1, 1.0)   # near one, as trained norms are
            elif name.endswith(".bias"):
                tensor(f"blk.{il}.{name}", shapes[name], 0.5)
            else:
                tensor(f"blk.{il}.{name}", shapes[name], 1.0 / np.sqrt(shapes[name][1]))
    tensor("output_norm.weight", (n_embd,), 0.1, 1.0)
    if not tied:
        tensor("output.weight", (len(tokens), n_embd), 1.0 / np.sqrt(n_embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def quantized(src: Path, dst: Path, type_name: str) -> Path:
    """``src`` requantized by llama.cpp's own quantizer (``llama_model_quantize``) to
    ``type_name`` (a ``LLAMA_FTYPE_MOSTLY_*`` suffix: "Q8_0", "Q4_K_M", ...)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{type_name}")
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src.name} -> {type_name}) returned {rc}")
    return dst
