"""Every architecture family against llama.cpp, on random-weight files in each family's layout
(livemind/bench/synthetic.py): F32 weights, and variants made by llama.cpp's own quantizer.

Teacher-forced on the same random token ids, both engines score every position. The band a second
engine is held to is llama.cpp's own: the same file through llama.cpp with flash attention on
against off, in the same run. Ours must be as close to llama.cpp (flash attention off) as that,
within a stated margin: at the worst position our distance (1 - cosine) is at most
``DIST_RATIO`` times llama.cpp's own plus ``DIST_FLOOR``, and argmax agreement (near-ties counted,
as in test_vs_llamacpp.py) trails llama.cpp's own by at most ``AGREE_SLACK`` positions. A variant
must also move llama.cpp's logits away from the plain layout's by far more than that margin, so
that an engine ignoring it would fail.

Besides the plain layout of each family, the variants that change the math: Llama-3.1's
``rope_freqs.weight``, linear ``rope.scaling`` (Llama; Gemma-3's global layers only), Qwen2's
q/k/v biases, Qwen3's q/k norms with a head wider than n_embd / n_head, Gemma-3's sliding window
over 6 layers (5 local, 1 global). And the refusals: a key that changes the math the engine does
not apply, a tensor nothing reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from livemind.bench.synthetic import BOS, N_ORDINARY, quantized, write
from livemind.engine.model import load_model
from livemind.errors import ModelLoadError

N_POS = 48
DIST_RATIO = 2.0
DIST_FLOOR = 1e-4
AGREE_SLACK = 1


def _llama(path, **kw):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=128, n_batch=128, n_threads=2, n_threads_batch=2, logits_all=True,
                 verbose=False, **kw)


def _scores(path, ids, **kw) -> np.ndarray:
    llm = _llama(path, **kw)
    try:
        llm.eval(list(ids))
        return np.array(llm.scores[: len(ids)], dtype=np.float64)
    finally:
        llm.close()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _agree(got: np.ndarray, ref: np.ndarray) -> int:
    """Positions where got's argmax is ref's, or the two are a near-tie in ref (gap < 0.05)."""
    g, r = got.argmax(-1), ref.argmax(-1)
    rows = np.arange(len(ref))
    return int(((g == r) | (ref[rows, r] - ref[rows, g] < 0.05)).sum())


def _check(path, *, plain=None) -> dict:
    """Holds our logits on ``path`` to llama.cpp's band; with ``plain`` (the same weights without
    the variant), checks that the variant changes llama.cpp's logits by much more than the band."""
    ids = np.random.default_rng(1).integers(0, N_ORDINARY, N_POS)
    ids[0] = BOS                                             # first, as a prompt would begin
    ref = _scores(path, ids)
    ref_fa = _scores(path, ids, flash_attn=True)
    with load_model(path, context=128) as m:
        ours = m.logits(ids, all_positions=True).astype(np.float64)
    band = {"dist": float(1 - _cos(ref_fa, ref).min()), "agree": _agree(ref_fa, ref)}
    got = {"dist": float(1 - _cos(ours, ref).min()), "agree": _agree(ours, ref)}
    allowed = DIST_RATIO * band["dist"] + DIST_FLOOR
    said = f"{path.name}: ours {got}, llama.cpp against itself {band}, allowed distance {allowed:.2e}"
    assert got["dist"] <= allowed, said
    assert got["agree"] >= band["agree"] - AGREE_SLACK, said
    if plain is not None:
        moved = float(1 - _cos(_scores(plain, ids), ref).min())
        assert moved > 10 * allowed, f"{path.name}: the variant moves llama.cpp's logits by only {moved:.2e}"
    return got


# family, writer arguments: the plain layout and each variant that changes the math
CASES = {
    "llama": ("llama", {}),
    "llama-rope-freqs": ("llama", {"rope_freqs": np.linspace(1.0, 8.0, 32)}),   # Llama-3.1's long-context RoPE
    "llama-linear-rope": ("llama", {"metadata": {"rope.scaling.type": "linear", "rope.scaling.factor": 4.0}}),
    # YaRN as Qwen2.5/Qwen3 long-context files carry it: a small original context puts the ramp
    # between interpolated and original frequencies inside the head, and the attention factor
    "qwen2-yarn": ("qwen2", {"metadata": {"rope.scaling.type": "yarn", "rope.scaling.factor": 4.0,
                                          "rope.scaling.original_context_length": 64}}),
    "qwen3-yarn": ("qwen3", {"metadata": {"rope.scaling.type": "yarn", "rope.scaling.factor": 8.0,
                                          "rope.scaling.original_context_length": 32,
                                          "rope.scaling.attn_factor": 1.1}}),
    "llama-yarn": ("llama", {"metadata": {"rope.scaling.type": "yarn", "rope.scaling.factor": 2.0}}),
    "llama-gqa-1kv": ("llama", {"n_head_kv": 1}),
    "qwen2": ("qwen2", {}),
    "qwen3": ("qwen3", {"head_dim": 96}),                                      # wider than 256 / 4
    "gemma3": ("gemma3", {"n_layer": 6}),
    "gemma3-linear-rope": ("gemma3", {"n_layer": 6, "metadata": {"rope.scaling.type": "linear",
                                                                  "rope.scaling.factor": 8.0}}),
    # 62 layers is how llama.cpp tells Gemma-3 27B, whose queries scale by n_embd / n_head (64), not
    # by the head width (96 here)
    "gemma3-swa-base": ("gemma3", {"n_layer": 6, "metadata": {"rope.freq_base_swa": 100.0}}),
    "gemma3-swa-pattern": ("gemma3", {"n_layer": 6, "metadata": {"attention.sliding_window_pattern": 3}}),
    # soft-caps 50 and 30 when the file does not say (as llama.cpp), alternating sliding layers
    "gemma2": ("gemma2", {"n_layer": 4}),
    "gemma2-softcaps": ("gemma2", {"n_layer": 4, "metadata": {"attn_logit_softcapping": 0.5,
                                                              "final_logit_softcapping": 1.0}}),
    "gemma2-27b-query-scale": ("gemma2", {"n_layer": 46, "head_dim": 96, "n_embd": 256, "n_ff": 256}),
    "command-r": ("command-r", {}),
    "phi3": ("phi3", {}),
    # LongRoPE as Phi-3.5-mini carries it: the short factors at a context within the original one,
    # the long ones beyond it (llama.cpp and the engine both load at context 128), and the attention
    # factor by which RoPE scales q and k
    "phi3-long-rope-short": ("phi3", {"tensors": {"rope_factors_short.weight": np.linspace(1.0, 3.0, 32),
                                                  "rope_factors_long.weight": np.linspace(1.0, 40.0, 32)},
                                      "metadata": {"rope.scaling.original_context_length": 4096,
                                                   "rope.scaling.attn_factor": 1.19}}),
    "phi3-long-rope-long": ("phi3", {"tensors": {"rope_factors_short.weight": np.linspace(1.0, 3.0, 32),
                                                 "rope_factors_long.weight": np.linspace(1.0, 40.0, 32)},
                                     "metadata": {"rope.scaling.original_context_length": 64,
                                                  "rope.scaling.attn_factor": 1.19}}),
    # partial RoPE as Phi-4-mini has it (96 of 128 there: 48 of 64 here), with LongRoPE factors
    # for the turned pairs only; and on interleaved pairs (Cohere's style)
    "phi3-partial-rope": ("phi3", {"rope_dims": 48,
                                   "tensors": {"rope_factors_short.weight": np.linspace(1.0, 3.0, 24),
                                               "rope_factors_long.weight": np.linspace(1.0, 40.0, 24)},
                                   "metadata": {"rope.scaling.original_context_length": 64,
                                                "rope.scaling.attn_factor": 1.19}}),
    "command-r-partial-rope": ("command-r", {"rope_dims": 32}),
    # Command-R+ (64 layers and more): LayerNorms of q and k with a weight for each head
    "command-r-plus-qk-norm": ("command-r", {"n_layer": 64, "n_embd": 128, "n_ff": 128}),
    # three sliding layers with RoPE, then a global one without
    "cohere2": ("cohere2", {"n_layer": 4}),
    "gemma3-27b-query-scale": ("gemma3", {"n_layer": 62, "head_dim": 96, "n_embd": 256, "n_ff": 256}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_f32_logits_sit_in_llamacpps_own_band(tmp_path, case):
    family, kwargs = CASES[case]
    base = {k: v for k, v in kwargs.items() if k not in ("metadata", "rope_freqs", "tensors")}
    plain = write(tmp_path / "plain.gguf", family, **base) if base != kwargs else None
    _check(write(tmp_path / f"{case}.gguf", family, **kwargs), plain=plain)


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3", "command-r", "cohere2"])
@pytest.mark.parametrize("ftype", ["Q8_0", "Q4_K_M"])
def test_llamacpp_quantized_variants_sit_in_its_own_band(tmp_path, family, ftype):
    src = write(tmp_path / f"{family}.gguf", family, n_layer={"gemma3": 6, "gemma2": 4, "cohere2": 4}.get(family, 2))
    _check(quantized(src, tmp_path / f"{family}-{ftype}.gguf", ftype))


def test_a_math_key_the_engine_does_not_apply_is_refused_naming_it(tmp_path):
    path = write(tmp_path / "softcap.gguf", "llama", metadata={"final_logit_softcapping": 30.0})
    with pytest.raises(ModelLoadError, match="llama.final_logit_softcapping = 30.0 changes how llama models compute"):
        load_model(path).close()
    path = write(tmp_path / "yarn.gguf", "gemma3", n_layer=6, metadata={"rope.scaling.type": "yarn",
                                                                     "rope.scaling.factor": 4.0})
    with pytest.raises(ModelLoadError, match="rope.scaling.type = 'yarn': YaRN is applied to models without"):
        load_model(path).close()
    path = write(tmp_path / "dynamic.gguf", "qwen2", metadata={"rope.scaling.type": "dynamic", "rope.scaling.factor": 4.0})
    with pytest.raises(ModelLoadError, match="rope.scaling.type = 'dynamic': only linear"):
        load_model(path).close()
    # llama.cpp reads Cohere2's sliding-layer RoPE base and never uses it: refused, not guessed at
    path = write(tmp_path / "swa-base.gguf", "cohere2", metadata={"rope.freq_base_swa": 500.0})
    with pytest.raises(ModelLoadError, match="cohere2.rope.freq_base_swa = 500.0 changes"):
        load_model(path).close()


def test_partial_rope_where_llamacpp_refuses_it_is_refused(tmp_path):
    # llama.cpp asserts a llama/qwen head is turned whole; an odd count cannot be pairs at all
    path = write(tmp_path / "partial.gguf", "llama", rope_dims=48)
    with pytest.raises(ModelLoadError, match="rope.dimension_count = 48: RoPE on part of a head .of 64. is not"):
        load_model(path).close()
    path = write(tmp_path / "odd.gguf", "phi3", rope_dims=47)
    with pytest.raises(ModelLoadError, match="rope.dimension_count = 47 is odd"):
        load_model(path).close()
    path = write(tmp_path / "wide.gguf", "phi3", rope_dims=66)
    with pytest.raises(ModelLoadError, match="rope.dimension_count = 66 is out of range"):
        load_model(path).close()


def test_neutral_values_of_math_keys_load(tmp_path):
    path = write(tmp_path / "neutral.gguf", "llama", metadata={"rope.scaling.type": "none", "logit_scale": 1.0})
    load_model(path, context=64).close()


def test_a_tensor_nothing_reads_is_refused_naming_it(tmp_path):
    """A llama file with q/k norms (as if it were Qwen3 mislabelled): llama.cpp refuses it for its
    tensor count; the engine says which tensor it would have ignored."""
    import gguf

    src = write(tmp_path / "qwen3.gguf", "qwen3")
    reader = gguf.GGUFReader(str(src))
    w = gguf.GGUFWriter(str(tmp_path / "mislabelled.gguf"), "llama")
    for field in reader.fields.values():
        name = field.name
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value = field.contents()
        key = "llama." + name[len("qwen3."):] if name.startswith("qwen3.") else name
        w.add_key_value(key, value, field.types[0], sub_type=field.types[-1] if len(field.types) > 1 else None)
    for t in reader.tensors:
        w.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ModelLoadError, match=r"tensor 'blk\.0\.attn_k_norm\.weight' \(4 unused in all\)"):
        load_model(tmp_path / "mislabelled.gguf").close()
