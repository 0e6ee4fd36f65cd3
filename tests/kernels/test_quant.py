"""GGUF block quantization against gguf-py (bit for bit) and numpy float64, on every ISA."""

from __future__ import annotations

import gguf
import gguf.quants
import numpy as np
import pytest

import livemind.kernels as K

GGML = gguf.GGMLQuantizationType
QTYPE = {"q8_0": GGML.Q8_0, "q4_0": GGML.Q4_0, "q4_1": GGML.Q4_1, "q5_0": GGML.Q5_0,
         "q4_k": GGML.Q4_K, "q6_k": GGML.Q6_K, "q5_1": GGML.Q5_1, "iq4_nl": GGML.IQ4_NL, "q2_k": GGML.Q2_K,
         "q3_k": GGML.Q3_K, "q5_k": GGML.Q5_K, "iq4_xs": GGML.IQ4_XS}
BLOCK = {"q8_0": (32, 34), "q4_0": (32, 18), "q4_1": (32, 20), "q5_0": (32, 22),
         "q4_k": (256, 144), "q6_k": (256, 210), "q5_1": (32, 24), "iq4_nl": (32, 18), "q2_k": (256, 84),
         "q3_k": (256, 110), "q5_k": (256, 176), "iq4_xs": (256, 136)}
# byte offsets of each block's f16 scale fields (patched in random blocks so they stay finite)
F16_FIELDS = {"q8_0": (0,), "q4_0": (0,), "q4_1": (0, 2), "q5_0": (0,), "q4_k": (0, 2), "q6_k": (208,),
              "q5_1": (0, 2), "iq4_nl": (0,), "q2_k": (80, 82), "q3_k": (108,), "q5_k": (0, 2), "iq4_xs": (0,)}
# the formats livemind can quantize; the others come quantized in files (tests use random blocks)
QUANTIZABLE = ("q8_0", "q4_0", "q4_1", "q5_0", "q4_k", "q6_k")

# qmatmul rounds the activations to 8 bits per block (step amax/127, ~0.5% RMS of a block), so
# each output is off by about 0.005 * sqrt(K) * rms(w) * rms(a); allow 10x that scale.
QMM_TOL = 0.05
# Round trip on N(0, 1) data, RMS error / RMS: about 1.3x what each format achieves.
ROUNDTRIP_MAX = {"q8_0": 0.006, "q4_0": 0.12, "q4_1": 0.11, "q5_0": 0.06, "q4_k": 0.09, "q6_k": 0.025}
# rows taken from each real tensor and tensors per format: enough blocks, little runtime
ROWS, TENSORS_PER_FORMAT = 384, 2


def _real_tensors(path, formats):
    """{fmt: [(name, data (rows, row_bytes) uint8, shape (rows, K))]} for the smallest tensors."""
    reader = gguf.GGUFReader(path)
    out = {}
    for fmt in formats:
        found = sorted((t for t in reader.tensors if t.tensor_type == QTYPE[fmt]), key=lambda t: t.n_bytes)
        picked = []
        for t in found[:TENSORS_PER_FORMAT]:
            data = np.array(t.data[:ROWS], dtype=np.uint8)  # (rows, row_bytes), copied out of the mmap
            k = int(t.shape[0])  # ggml order: ne0 is the row length
            picked.append((t.name, data, (data.shape[0], k)))
        out[fmt] = picked
    return out


@pytest.fixture(scope="module")
def real_tensors(smollm2_path, gemma3_path):
    """Real quantized tensors with gguf-py's dequantization of each, loaded once per module."""
    tensors = _real_tensors(smollm2_path, ("q4_1", "q8_0"))
    for fmt, items in _real_tensors(gemma3_path, ("q8_0", "q5_0", "q4_k", "q6_k")).items():
        tensors[fmt] = tensors.get(fmt, []) + items
    return {fmt: [(name, data, shape, gguf.quants.dequantize(data, QTYPE[fmt])) for name, data, shape in items]
            for fmt, items in tensors.items()}


def random_blocks(rng, fmt, n_blocks):
    """Random block bytes with every f16 scale replaced by a finite one (|d| in [2^-8, 2^-4))."""
    _, nbytes = BLOCK[fmt]
    q = rng.integers(0, 256, size=(n_blocks, nbytes), dtype=np.uint8)
    for i, off in enumerate(F16_FIELDS[fmt]):
        d = rng.uniform(2.0**-8, 2.0**-4, n_blocks) * (rng.choice([-1, 1], n_blocks) if i == 0 else 1)
        q[:, off:off + 2] = d.astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    return q


def same_bits(got, want):
    return got.shape == want.shape and np.array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32))


def test_formats_listed():
    assert K.QUANT_FORMATS == QUANTIZABLE + ("q5_1", "iq4_nl", "q2_k", "q3_k", "q5_k", "iq4_xs")


def test_dequantize_real_tensors_match_gguf(each_isa, real_tensors):
    assert set(real_tensors) == {"q8_0", "q4_1", "q5_0", "q4_k", "q6_k"}
    for fmt, items in real_tensors.items():
        assert len(items) >= 1, fmt
        for name, data, shape, want in items:
            got = K.dequantize(data, fmt, shape)
            assert same_bits(got, want), f"{fmt} {name} on {each_isa}: max diff {np.abs(got - want).max()}"


@pytest.mark.parametrize("fmt", K.QUANT_FORMATS)
@pytest.mark.parametrize("n_blocks", [1, 3, 17, 129])
def test_dequantize_random_blocks_match_gguf(each_isa, rng, fmt, n_blocks):
    block, _ = BLOCK[fmt]
    q = random_blocks(rng, fmt, n_blocks)
    want = gguf.quants.dequantize(q.reshape(-1), QTYPE[fmt])
    got = K.dequantize(q, fmt, n_blocks * block)
    assert same_bits(got, want.reshape(-1))


@pytest.mark.parametrize("fmt", ["q8_0", "q4_0", "q4_1", "q5_0"])
def test_quantize_matches_gguf_reference(rng, fmt):
    """The 32-element formats round exactly as ggml's reference quantizer (gguf-py's port)."""
    w = rng.standard_normal((17, 96)).astype(np.float32)
    want = gguf.quants.quantize(w, QTYPE[fmt])
    assert np.array_equal(K.quantize(w, fmt), want)


@pytest.mark.parametrize("fmt", QUANTIZABLE)
def test_quantize_round_trip(rng, fmt):
    w = rng.standard_normal((8, 4096)).astype(np.float32)
    q = K.quantize(w, fmt)
    block, nbytes = BLOCK[fmt]
    assert q.dtype == np.uint8 and q.shape == (8, 4096 // block * nbytes)
    y = K.dequantize(q, fmt, w.shape)
    rel = np.sqrt(np.mean((y.astype(np.float64) - w) ** 2) / np.mean(w.astype(np.float64) ** 2))
    assert rel <= ROUNDTRIP_MAX[fmt], f"{fmt}: relative RMS error {rel:.4f}"
    # 1-D input gives the flat bytes of one row
    flat = K.quantize(w[0], fmt)
    assert flat.shape == (q.shape[1],) and np.array_equal(flat, q[0])


@pytest.mark.parametrize("fmt", K.QUANT_FORMATS)
@pytest.mark.parametrize("n, m, k_blocks", [(1, 1, 1), (3, 2, 3), (17, 1, 17), (129, 3, 2), (4097, 1, 1), (37, 7, 5)])
def test_qmatmul_matches_numpy(each_isa, rng, fmt, n, m, k_blocks):
    block, _ = BLOCK[fmt]
    k = k_blocks * block
    if fmt in QUANTIZABLE:
        q = K.quantize(rng.standard_normal((n, k)).astype(np.float32) * 0.3, fmt)
        w = K.dequantize(q, fmt, (n, k)).astype(np.float64)
    else:   # blocks as a file brings them; gguf-py's numpy dequantization is the reference
        q = random_blocks(rng, fmt, n * k_blocks).reshape(n, -1)
        w = gguf.quants.dequantize(q, QTYPE[fmt]).astype(np.float64).reshape(n, k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    want = a.astype(np.float64) @ w.T
    got = K.qmatmul(a, q, fmt, (n, k))
    assert got.shape == (m, n) and got.dtype == np.float32
    scale = np.sqrt(k) * np.sqrt(np.mean(w**2)) * np.sqrt(np.mean(a.astype(np.float64) ** 2))
    err = np.abs(got - want).max()
    assert err <= QMM_TOL * scale, f"{fmt} on {each_isa}: max error {err:.3g}, scale {scale:.3g}"
    # a 1-D activation gives a 1-D result
    got1 = K.qmatmul(a[0], q, fmt, (n, k))
    assert got1.shape == (n,) and np.array_equal(got1, got[0])


def test_qmatmul_real_tensor(each_isa, real_tensors, rng):
    for fmt, items in real_tensors.items():
        name, data, shape, w = items[0]
        a = rng.standard_normal((2, shape[1])).astype(np.float32)
        want = a.astype(np.float64) @ w.astype(np.float64).T
        scale = np.sqrt(shape[1]) * np.sqrt(np.mean(w.astype(np.float64) ** 2))
        err = np.abs(K.qmatmul(a, data, fmt, shape) - want).max()
        assert err <= QMM_TOL * scale, f"{fmt} {name} on {each_isa}: max error {err:.3g}, scale {scale:.3g}"


def test_errors(rng):
    w = rng.standard_normal((2, 64)).astype(np.float32)
    q = K.quantize(w, "q8_0")
    with pytest.raises(ValueError, match="fmt"):
        K.quantize(w, "iq2_xs")
    with pytest.raises(ValueError, match="q3_k blocks come from GGUF files"):
        K.quantize(rng.standard_normal((2, 256)).astype(np.float32), "q3_k")
    with pytest.raises(ValueError, match="fmt"):
        K.dequantize(q, 8, (2, 64))
    with pytest.raises(ValueError, match="w"):
        K.quantize(rng.standard_normal((2, 48)).astype(np.float32), "q8_0")
    with pytest.raises(ValueError, match="w"):
        K.quantize(w.reshape(1, 2, 64), "q8_0")
    with pytest.raises(ValueError, match="w"):
        K.quantize(w, "q4_k")  # 64 is not a multiple of 256
    with pytest.raises(ValueError, match="q holds"):
        K.dequantize(q[:, :-1], "q8_0", (2, 64))
    with pytest.raises(ValueError, match="q holds"):
        K.dequantize(q, "q8_0", (3, 64))
    with pytest.raises(ValueError, match="shape"):
        K.dequantize(q, "q8_0", (2, 48))
    with pytest.raises(ValueError, match="q must hold bytes"):
        K.dequantize(q.astype(np.float32), "q8_0", (2, 64))
    with pytest.raises(ValueError, match="shape"):
        K.qmatmul(w, q, "q8_0", (2, 64, 1))
    with pytest.raises(ValueError, match="shape"):
        K.qmatmul(w[:, :48], q, "q8_0", (2, 48))
    with pytest.raises(ValueError, match="a must have 64 columns"):
        K.qmatmul(w[:, :32], q, "q8_0", (2, 64))
    with pytest.raises(ValueError, match="q holds"):
        K.qmatmul(w, q, "q4_0", (2, 64))
    with pytest.raises(ValueError, match="a"):
        K.qmatmul(w.reshape(1, 2, 64), q, "q8_0", (2, 64))


@pytest.mark.parametrize("fmt", K.QUANT_FORMATS)
def test_qmatmul_bits_do_not_depend_on_threads_or_tiling(each_isa, rng, fmt):
    """Split over output rows only: 1 or 3 threads, a full tile or one output alone, same bits."""
    block, _ = BLOCK[fmt]
    n, m, k = 301, 5, 9 * block
    q = random_blocks(rng, fmt, n * k // block).reshape(n, -1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    try:
        K.set_threads(1)
        one = K.qmatmul(a, q, fmt, (n, k))
        K.set_threads(3)
        three = K.qmatmul(a, q, fmt, (n, k))
    finally:
        K.set_threads(None)
    assert np.array_equal(one.view(np.uint32), three.view(np.uint32))
    alone = np.array([[K.qmatmul(a[i], q[j:j + 1], fmt, (1, k))[0] for j in (0, 1, 150, 299, 300)] for i in range(m)])
    assert np.array_equal(alone.view(np.uint32), one[:, [0, 1, 150, 299, 300]].view(np.uint32))


# ---------------------------------------------------------------- the x16 layout

X16_FORMATS = ["q8_0", "q4_0", "q4_1", "q5_0", "iq4_nl", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_xs"]


@pytest.mark.parametrize("fmt", X16_FORMATS)
@pytest.mark.parametrize("n, m, k_blocks", [(16, 1, 1), (48, 3, 5), (64, 7, 18)])
def test_x16_qmatmul_matches_numpy_and_the_row_layout(each_isa, rng, fmt, n, m, k_blocks):
    k = k_blocks * BLOCK[fmt][0]
    q = random_blocks(rng, fmt, n * k_blocks).reshape(n, -1)
    x = K.repack_x16(q, fmt, (n, k))
    assert x.nbytes == q.nbytes and np.array_equal(K.repack_x16(x, fmt, (n, k), inverse=True), q)
    w = K.dequantize(q, fmt, (n, k)).astype(np.float64)
    a = rng.standard_normal((m, k)).astype(np.float32)
    want = a.astype(np.float64) @ w.T
    got = K.qmatmul(a, x, fmt, (n, k), layout="x16")
    scale = np.sqrt(k) * np.sqrt(np.mean(w**2)) * np.sqrt(np.mean(a.astype(np.float64) ** 2))
    assert np.abs(got - want).max() <= QMM_TOL * scale
    # the same integer sums as the file's layout: only the float accumulation order differs
    rows = K.qmatmul(a, q, fmt, (n, k))
    assert np.abs(got - rows).max() <= 1e-5 * scale
    for i in range(m):   # a row's result does not depend on the rows beside it in its tile
        assert same_bits(K.qmatmul(a[i], x, fmt, (n, k), layout="x16"), got[i])


def test_x16_real_tensor(each_isa, real_tensors, rng):
    for fmt in ("q4_1", "q8_0", "q5_0", "q4_k", "q6_k"):
        name, data, shape, w = real_tensors[fmt][0]
        x = K.repack_x16(data, fmt, shape)
        a = rng.standard_normal((4, shape[1])).astype(np.float32)
        want = a.astype(np.float64) @ w.astype(np.float64).T
        scale = np.sqrt(shape[1]) * np.sqrt(np.mean(w.astype(np.float64) ** 2))
        err = np.abs(K.qmatmul(a, x, fmt, shape, layout="x16") - want).max()
        assert err <= QMM_TOL * scale, f"{fmt} {name} x16 on {each_isa}: max error {err:.3g}"


def test_x16_errors(rng):
    q = random_blocks(rng, "q5_1", 16).reshape(16, -1)
    with pytest.raises(ValueError, match="q8_0, q4_0, q4_1, q5_0, q4_k, q6_k, iq4_nl, q2_k, q3_k, q5_k and iq4_xs weights, not q5_1"):
        K.repack_x16(q, "q5_1", (16, 32))
    q8 = K.quantize(rng.standard_normal((8, 64)).astype(np.float32), "q8_0")
    with pytest.raises(ValueError, match="multiple of 16 rows"):
        K.repack_x16(q8, "q8_0", (8, 64))
    with pytest.raises(ValueError, match="layout"):
        K.qmatmul(np.ones(64, np.float32), q8, "q8_0", (8, 64), layout="columns")
    assert K.x16_pays("q5_1") is False
