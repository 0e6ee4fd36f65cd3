"""Peak memory of :func:`livemind.kernels.attention` as the context S grows.

Flash attention keeps a few tiles of scratch per thread, so beyond its inputs (K and V grow
linearly in S) a call should need about the same memory at every S; attention that forms the
(T, S) scores would need T · H · S · 4 more bytes.

Each point runs in a fresh subprocess, so that ``ru_maxrss`` (the process's peak resident set)
starts clean: the child allocates its inputs without temporaries, notes its resident set, calls
attention once, and reports how far the peak rose above that.

Shapes: D = 256, 4 query heads sharing 1 KV head (Gemma-like GQA). Two calls per S:
  - decode: T = 1, the step that runs once per generated token;
  - chunk: T = 512 new tokens at the end of S (chunked prefill), causal. A full prefill
    (T = S) costs O(S²): measured on this project's 2-core AVX-512 machine (busy), 1.0 s at
    S = 4096, 4.8 s at 8192 and 126 s at 32768, too slow to repeat per point. T = 512 runs the
    same tiling over all S keys with many query rows and takes ~5 s at S = 32768.
    ``modes=("prefill",)`` runs T = S anyway.

    python -m livemind.bench.attention_memory
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import livemind.kernels as K

cfg = json.loads(sys.argv[1])
S, T, H, Hkv, D, dt = cfg["S"], cfg["T"], cfg["H"], cfg["Hkv"], cfg["D"], cfg["kv_dtype"]
K.set_isa(cfg["isa"]) if cfg["isa"] else None
rng = np.random.default_rng(0)
store = {"f32": np.float32, "f16": np.float16, "fp8": np.uint8}[dt]

def kv():
    # filled in slices so that no full-size temporary raises the peak before the baseline
    a = np.empty((S, Hkv, D), store)
    for i in range(0, S, 256):
        x = rng.standard_normal((min(256, S - i), Hkv, D), dtype=np.float32)
        a[i:i + 256] = K.fp8_encode(x) if dt == "fp8" else x
    return a

q = rng.standard_normal((T, H, D), dtype=np.float32)
k, v = kv(), kv()
K.attention(q[:1], k[:1], v[:1], kv_dtype=dt)  # thread pool and lazy setup before the baseline

def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

rss_before = rss_now()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
out = K.attention(q, k, v, causal=True, kv_dtype=dt)
seconds = time.perf_counter() - t0
peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"rss_before": rss_before, "peak_before": peak_before, "peak_after": peak_after,
                  "seconds": seconds, "input_bytes": q.nbytes + k.nbytes + v.nbytes,
                  "output_bytes": out.nbytes, "isa": K.isa(), "threads": K.get_threads()}))
"""


def _run_child(cfg: dict, timeout: float) -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the directory holding the livemind package
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cfg)], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"attention memory child failed for {cfg}: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(lengths=(4096, 8192, 16384, 32768), modes=("decode", "chunk"), *, chunk: int = 512,
            heads: int = 4, kv_heads: int = 1, head_dim: int = 256, kv_dtype: str = "f32",
            isa: str | None = None, timeout: float = 600.0) -> list[dict]:
    """Runs one causal attention call per (S, mode) in a fresh subprocess and returns a row per
    call: S, T, mode, kv_dtype, input_bytes (q, k, v), the peak RSS before the call (after
    allocating inputs) and after it, growth_bytes (the peak after the call minus the resident
    set just before it: an upper bound on what the call itself needed, its output included), naive_scores_bytes (what a (T, H, S) float32 score matrix
    would take) and seconds (one call, wall clock)."""
    rows = []
    for S in lengths:
        for mode in modes:
            T = {"decode": 1, "chunk": min(chunk, S), "prefill": S}[mode]
            cfg = {"S": S, "T": T, "H": heads, "Hkv": kv_heads, "D": head_dim, "kv_dtype": kv_dtype, "isa": isa}
            r = _run_child(cfg, timeout)
            rows.append({
                "S": S, "T": T, "mode": mode, "kv_dtype": kv_dtype, "isa": r["isa"], "threads": r["threads"],
                "input_bytes": r["input_bytes"], "peak_before_bytes": r["peak_before"],
                "peak_after_bytes": r["peak_after"], "growth_bytes": r["peak_after"] - r["rss_before"],
                "naive_scores_bytes": T * heads * S * 4, "seconds": r["seconds"],
            })
    return rows


def _mib(n: int) -> str:
    return f"{n / 2**20:9.1f}"


def main(argv: list[str] | None = None) -> None:
    """Prints the table (default S = 4096 .. 32768, decode and T = 512 chunks, f32 K/V)."""
    import argparse

    ap = argparse.ArgumentParser(prog="attention_memory", description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[4096, 8192, 16384, 32768])
    ap.add_argument("--modes", nargs="+", choices=["decode", "chunk", "prefill"], default=["decode", "chunk"])
    ap.add_argument("--kv-dtype", choices=["f32", "f16", "fp8"], default="f32")
    ap.add_argument("--out", default="docs/benchmarks", help="folder for attention-memory.md ('' for none)")
    args = ap.parse_args(argv)
    rows = measure(tuple(args.lengths), tuple(args.modes), kv_dtype=args.kv_dtype)
    print(f"attention peak memory: D=256, H=4, Hkv=1, causal, {args.kv_dtype} K/V; one fresh process per row")
    print(f"{'mode':7s} {'S':>6s} {'T':>5s} {'inputs MiB':>10s} {'peak MiB':>9s} {'growth MiB':>10s} "
          f"{'(T,H,S) scores MiB':>18s} {'seconds':>8s}")
    for r in rows:
        print(f"{r['mode']:7s} {r['S']:6d} {r['T']:5d} {_mib(r['input_bytes']):>10s} {_mib(r['peak_after_bytes'])} "
              f"{_mib(r['growth_bytes']):>10s} {_mib(r['naive_scores_bytes']):>18s} {r['seconds']:8.3f}")
    print(f"isa {rows[0]['isa']}, {rows[0]['threads']} threads. growth = peak RSS after the call minus the "
          "resident set just before it (an upper bound; includes the output).")
    if args.out:
        write(rows, Path(args.out))


def write(rows: list[dict], out_dir: Path) -> Path:
    """Records the rows with their method and machine in attention-memory.md."""
    from livemind.bench._timing import machine_facts

    f = machine_facts()
    lines = [
        "# Attention memory as the context grows",
        "",
        "Written by `livemind bench attention-memory`. One causal `livemind.kernels.attention` call per row,",
        "each in a fresh process: D = 256, 4 query heads sharing 1 KV head (Gemma-3-like). *growth* is the",
        "process's peak resident set after the call minus its resident set just before (inputs already",
        "allocated): an upper bound on what the call itself needed, its output included. A kernel that formed",
        "the (T, H, S) score matrix would need the *scores* column on top.",
        "",
        f"- CPU: {f['cpu']}, ISA {rows[0]['isa']}, {rows[0]['threads']} threads; {f['date']}",
        "",
        "| mode | S | T | K/V | inputs MiB | growth MiB | (T,H,S) scores MiB | seconds |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['S']} | {r['T']} | {r['kv_dtype']} | {r['input_bytes'] / 2**20:.1f} | "
                     f"{r['growth_bytes'] / 2**20:.1f} | {r['naive_scores_bytes'] / 2**20:.1f} | {r['seconds']:.3f} |")
    lines += ["", "Inputs grow linearly in S (K and V); the call's own growth stays flat: memory is O(S) overall,",
              "never O(S²) and never O(T·S).", ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "attention-memory.md"
    path.write_text("\n".join(lines))
    return path


if __name__ == "__main__":
    main()
