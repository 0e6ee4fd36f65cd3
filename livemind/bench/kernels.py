"""``livemind bench kernels``: each kernel on every ISA this CPU has, beside numpy doing the same
work in the same process, medians of several runs. Writes ``kernels.json`` and ``kernels.md``.

Throughput is GFLOP/s for compute-bound kernels and GB/s (bytes the kernel must read and write)
for memory-bound ones; the ratio column is numpy's time over ours (> 1: we are faster).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import livemind.kernels as K
from livemind.bench._timing import machine_facts, median_seconds


@dataclass(frozen=True)
class Case:
    kernel: str
    shape: str
    unit: str                     # "GFLOP/s" or "GB/s"
    work: float                   # flops or bytes of one call
    make: Callable[[np.random.Generator], tuple[Callable[[], object], Callable[[], object]]]
    peer: str = "numpy"


def _f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _matmul(m, n, k):
    def make(rng):
        a, b = _f32(rng, m, k), _f32(rng, n, k)
        return (lambda: K.matmul(a, b)), (lambda: a @ b.T)
    unit, work = ("GB/s", 4.0 * n * k) if m == 1 else ("GFLOP/s", 2.0 * m * n * k)
    return Case("matmul f32", f"{m}x{n}x{k}", unit, work, make)


def _qgemv(fmt, n, k):
    def make(rng):
        w = _f32(rng, n, k, scale=0.05)
        q = K.quantize(w, fmt)
        a = _f32(rng, 1, k)
        # the peer does what a numpy user would: dequantize, then a BLAS GEMV
        return (lambda: K.qmatmul(a, q, fmt, (n, k))), (lambda: a @ K.dequantize(q, fmt, (n, k)).T)
    bytes_per_row = {"q8_0": 34 / 32, "q4_0": 18 / 32, "q4_1": 20 / 32, "q5_0": 22 / 32,
                     "q4_k": 144 / 256, "q6_k": 210 / 256}[fmt] * k
    return Case(f"qmatmul {fmt}", f"1x{n}x{k}", "GB/s", bytes_per_row * n, make,
                peer="numpy dequantize+GEMV")


def _softmax(rows, n):
    def make(rng):
        x = _f32(rng, rows, n, scale=3.0)

        def peer():
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        return (lambda: K.softmax(x)), peer
    return Case("softmax", f"{rows}x{n}", "GB/s", 8.0 * rows * n, make)


def _rmsnorm(rows, n):
    def make(rng):
        x, w = _f32(rng, rows, n), _f32(rng, n)
        peer = lambda: x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * w
        return (lambda: K.rmsnorm(x, w, 1e-6)), peer
    return Case("rmsnorm", f"{rows}x{n}", "GB/s", 8.0 * rows * n, make)


def _layernorm(rows, n):
    def make(rng):
        x, w, b = _f32(rng, rows, n), _f32(rng, n), _f32(rng, n)

        def peer():
            mu = x.mean(axis=-1, keepdims=True)
            return (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5) * w + b
        return (lambda: K.layernorm(x, w, b, 1e-5)), peer
    return Case("layernorm", f"{rows}x{n}", "GB/s", 8.0 * rows * n, make)


def _rope(t, h, d, style):
    def make(rng):
        x = _f32(rng, t, h, d)
        pos = np.arange(t, dtype=np.int32)
        inv = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float32) / d)
        ang = pos[:, None].astype(np.float32) * inv[None, :]          # (T, D/2)
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]   # (T, 1, D/2)

        def peer():  # numpy with the angles' cos/sin recomputed per call, as the kernel does
            c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
            if style == "neox":
                x0, x1 = x[..., : d // 2], x[..., d // 2:]
                return np.concatenate([x0 * c - x1 * s, x0 * s + x1 * c], axis=-1)
            x0, x1 = x[..., 0::2], x[..., 1::2]
            return np.stack([x0 * c - x1 * s, x0 * s + x1 * c], axis=-1).reshape(x.shape)
        del cos, sin
        return (lambda: K.rope(x, pos, 10000.0, style=style)), peer
    return Case(f"rope {style}", f"{t}x{h}x{d}", "GB/s", 8.0 * t * h * d, make)


def _glu(kind, n):
    def make(rng):
        g, u = _f32(rng, n, scale=2.0), _f32(rng, n)
        if kind == "swiglu":
            return (lambda: K.swiglu(g, u)), (lambda: g / (1.0 + np.exp(-g)) * u)
        c = np.float32(0.7978845608028654)
        return (lambda: K.geglu(g, u)), (lambda: 0.5 * g * (1.0 + np.tanh(c * (g + 0.044715 * g * g * g))) * u)
    return Case(kind, f"{n}", "GB/s", 12.0 * n, make)


def _gelu(n):
    def make(rng):
        x = _f32(rng, n, scale=2.0)
        c = np.float32(0.7978845608028654)
        return (lambda: K.gelu(x)), (lambda: 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x))))
    return Case("gelu", f"{n}", "GB/s", 8.0 * n, make)


def _fp8(direction, n):
    table = K.fp8_decode(np.arange(256, dtype=np.uint8))   # numpy's best decode: a table gather
    positive = table[:127]                                  # codes 0x00..0x7E, ascending

    def make(rng):
        x = _f32(rng, n, scale=20.0)
        u = K.fp8_encode(x)
        if direction == "decode":
            return (lambda: K.fp8_decode(u)), (lambda: table[u])

        def peer():  # nearest code by binary search (ties not to even: the peer does less work)
            a = np.minimum(np.abs(x), 448.0)
            i = np.clip(np.searchsorted(positive, a), 1, 126)
            i -= (a - positive[i - 1]) <= (positive[i] - a)
            return (i.astype(np.uint8) | (np.signbit(x).astype(np.uint8) << 7))
        return (lambda: K.fp8_encode(x)), peer
    unit_bytes = 5.0 * n
    return Case(f"fp8 {direction}", f"{n}", "GB/s", unit_bytes, make)


def _attention(t, s, h, hkv, d, kv_dtype="f32"):
    def make(rng):
        q, k, v = _f32(rng, t, h, d), _f32(rng, s, hkv, d), _f32(rng, s, hkv, d)
        group = h // hkv
        # K/V stored in the cache's type once, as an engine's KV cache holds them
        store = {"f32": lambda x: x, "f16": lambda x: x.astype(np.float16), "fp8": K.fp8_encode}[kv_dtype]
        kc, vc = store(k), store(v)

        def peer():  # one batched numpy pass over all heads; materialises the (H, T, S) scores
            qh = q.transpose(1, 0, 2)                                   # (H, T, D)
            kh = np.repeat(k.transpose(1, 0, 2), group, axis=0)         # (H, S, D)
            vh = np.repeat(v.transpose(1, 0, 2), group, axis=0)
            sc = qh @ kh.transpose(0, 2, 1) / np.sqrt(d)                # (H, T, S)
            pos = s - t + np.arange(t)
            sc = np.where(np.arange(s)[None, :] <= pos[:, None], sc, -np.inf)
            p = np.exp(sc - sc.max(-1, keepdims=True))
            return (p / p.sum(-1, keepdims=True)) @ vh
        return (lambda: K.attention(q, kc, vc, causal=True, kv_dtype=kv_dtype)), peer
    visible = sum(min(s, s - t + i + 1) for i in range(t))
    return Case(f"attention {kv_dtype}", f"T{t} S{s} H{h}/{hkv} D{d}", "GFLOP/s", 4.0 * visible * h * d, make)


def cases(quick: bool = False) -> list[Case]:
    out = [
        _matmul(1024, 1024, 1024),
        _matmul(1, 4096, 4096),
        _qgemv("q8_0", 4096, 4096),
        _qgemv("q4_k", 4096, 4096),
    ]
    if not quick:
        out += [_qgemv(f, 4096, 4096) for f in ("q4_0", "q4_1", "q5_0", "q6_k")]
        out += [_matmul(128, 4096, 1024)]
    out += [_softmax(64, 4096), _softmax(1, 4096), _rmsnorm(64, 4096), _rmsnorm(1, 4096)]
    if not quick:
        out += [_layernorm(64, 4096), _rope(64, 8, 128, "normal"), _rope(64, 8, 128, "neox"),
                _glu("swiglu", 64 * 1536), _glu("geglu", 64 * 1536), _gelu(64 * 1536),
                _fp8("encode", 1 << 20), _fp8("decode", 1 << 20)]
    out += [_attention(1, 4096, 4, 1, 256), _attention(1, 4096, 4, 1, 256, "f16")]
    if not quick:
        out += [_attention(1, 4096, 4, 1, 256, "fp8"), _attention(256, 1024, 8, 2, 64)]
    return out


def run(*, quick: bool = False, threads: int | None = None, repeats: int | None = None,
        isas: list[str] | None = None, log=print) -> dict:
    """Measures every case; returns the facts and rows that :func:`write` records."""
    repeats = repeats or (3 if quick else 7)
    K.set_threads(threads)
    isas = isas or K.available_isas()
    before = K.isa()
    rng = np.random.default_rng(0)
    rows = []
    log(f"{'kernel':<18} {'shape':<22} {'isa':<7} {'ours':>10} {'numpy':>10}  unit     ratio")
    try:
        for case in cases(quick):
            ours, peer = case.make(rng)
            peer_s = median_seconds(peer, repeats=repeats)
            for isa in isas:
                K.set_isa(isa)
                ours_s = median_seconds(ours, repeats=repeats)
                row = {
                    "kernel": case.kernel, "shape": case.shape, "isa": isa, "unit": case.unit,
                    "ours": case.work / ours_s / 1e9, "peer": case.work / peer_s / 1e9,
                    "peer_name": case.peer, "ours_ms": ours_s * 1e3, "peer_ms": peer_s * 1e3,
                    "ratio": peer_s / ours_s,
                }
                rows.append(row)
                log(f"{case.kernel:<18} {case.shape:<22} {isa:<7} {row['ours']:>10.2f} {row['peer']:>10.2f}"
                    f"  {case.unit:<8} {row['ratio']:>5.2f}x")
    finally:
        K.set_isa(before)
    facts = machine_facts()
    facts.update(threads=K.get_threads(), repeats=repeats, quick=quick)
    return {"facts": facts, "rows": rows}


def write(result: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "kernels.json", out_dir / "kernels.md"
    js.write_text(json.dumps(result, indent=2) + "\n")
    f = result["facts"]
    lines = [
        "# Kernel benchmarks",
        "",
        "Written by `livemind bench kernels`. Each kernel on every ISA of this CPU beside numpy doing the",
        "same work in the same process; medians of several runs, each run looped to ≥ 50 ms. Ratio is",
        "numpy's time over ours (> 1: LiveMind is faster). GB/s counts the bytes a kernel must read and",
        "write (for quantized GEMV: the weight bytes); GFLOP/s counts 2 flops per multiply-add.",
        "",
        f"- CPU: {f['cpu']} ({f['machine']}), {f['cpus_usable']} usable CPUs, ISAs {', '.join(f['isas'])}",
        f"- threads: {f['threads']} for LiveMind's pool and for numpy's BLAS; repeats: {f['repeats']}",
        f"- numpy {f['numpy']} ({f['numpy_blas']}); Python {f['python']}; OpenBLAS env: {f['openblas_env'] or 'unset'}",
        f"- date: {f['date']}{' (quick run)' if f['quick'] else ''}",
        "",
        "| kernel | shape | ISA | LiveMind | peer | unit | ratio | peer is |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['kernel']} | {r['shape']} | {r['isa']} | {r['ours']:.2f} | {r['peer']:.2f} | "
                     f"{r['unit']} | {r['ratio']:.2f}× | {r['peer_name']} |")
    md.write_text("\n".join(lines) + "\n")
    return js, md


def main(argv: list[str] | None = None, *, quick: bool = False, threads: int | None = None,
         out: str | None = "docs/benchmarks", repeats: int | None = None) -> int:
    result = run(quick=quick, threads=threads, repeats=repeats)
    if out:
        js, md = write(result, Path(out))
        print(f"wrote {js} and {md}", file=sys.stderr)
    return 0
