"""``livemind bench engine``: LiveMind's engine beside llama.cpp on the same GGUF file with the
same thread count, in the same run: llama.cpp through llama-cpp-python (timed from the caller,
as ours) and llama.cpp's own C++ ``llama-bench`` (its internal timer; built by
``scripts/build-llamacpp-tools`` from the same vendored sources, AMX off).

For each model and thread count, rounds alternate which engine goes first; each engine runs in
a fresh subprocess (so peak RSS is its own) and reports:
  - prefill tok/s: one 512-token prompt, evaluated from an empty cache;
  - time to first token: that prefill plus choosing the first token;
  - decode tok/s: 128 greedy tokens after a short prompt;
  - batched decode (LiveMind only): total tok/s with 4 and 8 concurrent streams, and its ratio to
    one stream (llama-cpp-python's API runs one sequence at a time);
  - peak RSS of the process.
Medians of ``repeats`` runs inside each subprocess, after an untimed warm-up on both sides; ours
and llama-cpp-python's are timed from the caller (our decode from the first streamed token's
arrival to the last one's), llama-bench by itself (pp512 and tg128, ``-r repeats``). A row's
figures are medians over rounds, its ratios the median of each round's ratios. Writes
engine.json, engine.md and engine.png.

``--synthetic`` (:func:`synthetic_main`): the same measurement on mid-size random-weight models
(:mod:`livemind.bench.synthetic`; hidden 1024, 8 layers, vocabulary 32 000) in each architecture
family's layout and in each weight type llama.cpp's quantizer makes, so that every family and
type is measured beside llama.cpp, not only the two packaged models. Rounds alternate which
engine goes first; the figure is the median over rounds. Writes engine-synthetic.{json,md}.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CHILD = r"""
import asyncio, json, resource, statistics, sys, time
import numpy as np
cfg = json.loads(sys.argv[1])
path, threads, engine, repeats = cfg["path"], cfg["threads"], cfg["engine"], cfg["repeats"]
batched = cfg.get("batched", True)
rng = np.random.default_rng(0)
out = {}

if engine == "livemind":
    import livemind.kernels as K
    from livemind.engine.model import load_model
    K.set_threads(threads)
    m = load_model(path, context=2048)
    vocab = m.config.n_vocab
    prompt = rng.integers(100, min(vocab, 20000), 512).tolist()
    short = m.tokenize("Once upon a time, in a small village by the sea,")
    pre = []
    m.logits(prompt)                                   # warm-up, not timed
    for _ in range(repeats):
        t = time.perf_counter(); lg = m.logits(prompt); pre.append(time.perf_counter() - t)
    t = time.perf_counter(); int(np.argmax(m.logits(prompt))); ttft = time.perf_counter() - t

    async def stream(n, clock=None):
        # timed from the caller: from the first token's arrival to the last one's
        async for ev in m.generate(short, max_tokens=n, temperature=0):
            if clock is not None and ev.token_id is not None:
                clock.append(time.perf_counter())
            last = ev
        return last
    async def many(k, n):
        t = time.perf_counter()
        evs = await asyncio.gather(*[stream(n) for _ in range(k)])
        return sum(e.usage.completion_tokens for e in evs) / (time.perf_counter() - t)
    dec = []
    asyncio.run(stream(16))                            # warm-up, not timed
    for _ in range(repeats):
        clock = []
        asyncio.run(stream(128, clock))
        dec.append((len(clock) - 1) / (clock[-1] - clock[0]))
    if batched:
        out["batched"] = {str(k): statistics.median([asyncio.run(many(k, 64)) for _ in range(max(1, repeats // 2))])
                          for k in (1, 4, 8)}
else:
    from llama_cpp import Llama
    m = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
              verbose=False)
    vocab = m.n_vocab()
    prompt = rng.integers(100, min(vocab, 20000), 512).tolist()
    short = m.tokenize("Once upon a time, in a small village by the sea,".encode(), add_bos=True)
    pre = []
    m.reset(); m.eval(prompt)                          # warm-up, not timed
    for _ in range(repeats):
        m.reset()
        t = time.perf_counter(); m.eval(prompt); pre.append(time.perf_counter() - t)
    m.reset()
    t = time.perf_counter(); m.eval(prompt); int(np.argmax(m.scores[m.n_tokens - 1])); ttft = time.perf_counter() - t
    dec = []
    for _ in range(repeats):
        m.reset(); m.eval(short)
        tok = int(np.argmax(m.scores[m.n_tokens - 1]))
        t = time.perf_counter()
        for _ in range(127):
            m.eval([tok]); tok = int(np.argmax(m.scores[m.n_tokens - 1]))
        dec.append(127 / (time.perf_counter() - t))
out.update(prefill_tok_s=512 / statistics.median(pre), ttft_ms=ttft * 1000, decode_tok_s=statistics.median(dec),
           peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def _child(engine: str, path: str, threads: int, repeats: int, batched: bool = True) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OMP_NUM_THREADS"] = str(threads)
    cfg = json.dumps({"engine": engine, "path": path, "threads": threads, "repeats": repeats, "batched": batched})
    proc = subprocess.run([sys.executable, "-c", _CHILD, cfg], capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def llama_bench_path() -> Path | None:
    """llama.cpp's own llama-bench: $LIVEMIND_LLAMA_BENCH, else the newest scripts/build-llamacpp-tools
    build in the cache, else None."""
    if os.environ.get("LIVEMIND_LLAMA_BENCH"):
        return Path(os.environ["LIVEMIND_LLAMA_BENCH"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livemind"
    found = sorted(cache.glob("llama.cpp-*/bin/llama-bench"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _llama_bench(path: str, threads: int, repeats: int) -> dict:
    """pp512 and tg128 by llama-bench at ``threads`` (its own timer; its own warm-up run)."""
    exe = llama_bench_path()
    if exe is None:
        return {"error": "llama-bench is not built (scripts/build-llamacpp-tools)"}
    cmd = [str(exe), "-m", path, "-t", str(threads), "-p", "512", "-n", "128", "-r", str(repeats), "-o", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    tests = json.loads(proc.stdout)
    pp = next(t for t in tests if t["n_prompt"] == 512 and t["n_gen"] == 0)
    tg = next(t for t in tests if t["n_gen"] == 128 and t["n_prompt"] == 0)
    shown = ["MODEL" if a == path else "THREADS" if i > 0 and cmd[i - 1] == "-t" else a for i, a in enumerate(cmd)]
    return {"prefill_tok_s": pp["avg_ts"], "decode_tok_s": tg["avg_ts"], "command": " ".join(shown[1:]),
            "build": tests[0].get("build_commit", "?")}


ENGINES = ("livemind", "llama.cpp", "llama-bench")   # ours, llama-cpp-python, llama.cpp's C++ tool
RATED = ("prefill_tok_s", "decode_tok_s")


def _rounds(path: str, threads: int, rounds: int, repeats: int, engines=ENGINES, batched: bool = True) -> dict:
    """Each engine on ``path``, ``rounds`` times, the order rotating round by round. Returns per
    engine the medians over rounds (or its first error) and, beside each peer, "ratios": the
    median of each round's ours / peer."""
    runs: dict[str, list[dict]] = {e: [] for e in engines}
    for r in range(rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        for engine in order:
            if engine == "llama-bench":
                runs[engine].append(_llama_bench(path, threads, repeats))
            else:
                runs[engine].append(_child(engine, path, threads, repeats, batched=batched and engine == "livemind"))
    out: dict = {}
    for engine, got in runs.items():
        errors = [g["error"] for g in got if "error" in g]
        if errors:
            out[engine] = {"error": errors[0]}
            continue
        keys = [k for k, v in got[0].items() if isinstance(v, (int, float))]
        out[engine] = {k: statistics.median(g[k] for g in got) for k in keys}
        out[engine].update({k: v for k, v in got[0].items() if not isinstance(v, (int, float, dict))})
        if "batched" in got[0]:
            out[engine]["batched"] = {n: statistics.median(g["batched"][n] for g in got) for n in got[0]["batched"]}
        if engine != "livemind" and "error" not in out.get("livemind", {"error": 1}):
            # each round's engines ran seconds apart: the median of their ratios is steadier on a
            # shared machine than the ratio of medians taken over rounds minutes apart
            out[engine]["ratios"] = {k: statistics.median(o[k] / p[k] for o, p in zip(runs["livemind"], got))
                                     for k in RATED}
    return out


def run(models: list[str], threads: list[int], repeats: int = 3, rounds: int = 3, log=print) -> dict:
    from livemind.bench._timing import machine_facts
    from livemind.models import resolve_model

    rows = []
    for name in models:
        path = str(resolve_model(name))
        for t in threads:
            log(f"  {name} · {t} thread(s) · {rounds} rounds of {', '.join(ENGINES)} ...")
            row = {"model": name, "threads": t, **_rounds(path, t, rounds, repeats)}
            rows.append(row)
            log("    " + _line(row, name))
    facts = machine_facts()
    facts.update(repeats=repeats, rounds=rounds, load=os.getloadavg())
    return {"facts": facts, "rows": rows}


def _line(row: dict, label: str) -> str:
    """One row's figures against each peer, for the log."""
    ours = row["livemind"]
    if "error" in ours:
        return f"{label}: error: {ours['error']}"
    parts = [f"{label}: ours decode {ours['decode_tok_s']:.1f} tok/s, prefill {ours['prefill_tok_s']:.0f}"]
    for peer in ENGINES[1:]:
        p = row.get(peer)
        if p is None:
            continue
        if "error" in p:
            parts.append(f"{peer}: {p['error']}")
        else:
            parts.append(f"{peer} {p['decode_tok_s']:.1f} ({p['ratios']['decode_tok_s']:.2f}x) / "
                         f"{p['prefill_tok_s']:.0f} ({p['ratios']['prefill_tok_s']:.2f}x)")
    return "; ".join(parts)


def write(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "engine.json").write_text(json.dumps(result, indent=2) + "\n")
    f, rows = result["facts"], result["rows"]
    bench = next((r["llama-bench"] for r in rows if "command" in r.get("llama-bench", {})), None)
    lines = [
        "# Engine benchmark: LiveMind beside llama.cpp",
        "",
        "Written by `livemind bench engine`. Same GGUF file, same thread count, same run, "
        f"{f['rounds']} rounds rotating which",
        "engine goes first, each engine in its own subprocess, warm-up excluded on every side:",
        "",
        "- **ours** and **llama-cpp-python** (n_threads = n_threads_batch = threads, n_batch 512) timed from the",
        "  caller: prefill a 512-token prompt from an empty cache; decode 128 greedy tokens after a short",
        "  prompt (ours from the first streamed token to the last, llama-cpp-python's 127 `eval` calls);",
        "- **llama-bench**, llama.cpp's own C++ tool built from the same vendored sources with AMX off",
        "  (`scripts/build-llamacpp-tools`), by its own timer after its own warm-up run: pp512 and tg128 (128 tokens from an empty",
        "  context)" + (f": `llama-bench {bench['command']}` (build {bench['build']})." if bench else "."),
        "",
        f"Figures are medians over rounds of each run's median of {f['repeats']}; ratios (ours / peer) the median of",
        "each round's ratio. Batched: our total tokens/s with N concurrent streams (64 tokens each).",
        "",
        f"- CPU: {f['cpu']}, {f['cpus_usable']} usable CPUs; ISAs {', '.join(f['isas'])}; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in f.get('load', ()))}",
        f"- date: {f['date']}",
        "",
        "| model | threads | decode tok/s: ours / llama-cpp-python / llama-bench | decode × (cpp-python, bench) | "
        "prefill tok/s: ours / llama-cpp-python / llama-bench | prefill × (cpp-python, bench) | "
        "TTFT ms (ours / cpp-python) | peak RSS MiB (ours / cpp-python) | batched 4 / 8 streams (× single) |",
        "|---|---:|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["livemind"]
        if "error" in r:
            lines.append(f"| {row['model']} | {row['threads']} | error: {r['error']} |||||||")
            continue
        peers = [row.get(e, {"error": "not run"}) for e in ENGINES[1:]]

        def fig(key, fmt):
            return " / ".join([fmt.format(r[key])] + ["–" if "error" in p else fmt.format(p[key]) for p in peers])

        def ratio(key):
            return ", ".join("–" if "error" in p else f"{p['ratios'][key]:.2f}×" for p in peers)

        cpp = peers[0]
        b = r["batched"]
        lines.append(
            f"| {row['model']} | {row['threads']} | {fig('decode_tok_s', '{:.1f}')} | {ratio('decode_tok_s')} | "
            f"{fig('prefill_tok_s', '{:.0f}')} | {ratio('prefill_tok_s')} | {r['ttft_ms']:.0f} / "
            f"{cpp.get('ttft_ms', float('nan')):.0f} | {r['peak_rss_mib']:.0f} / {cpp.get('peak_rss_mib', float('nan')):.0f} | "
            f"{b['4']:.0f} ({b['4'] / b['1']:.1f}×) / {b['8']:.0f} ({b['8'] / b['1']:.1f}×) |")
    errors = sorted({f"{e}: {row[e]['error']}" for row in rows for e in ENGINES[1:] if "error" in row.get(e, {})})
    lines += [""] + [f"- not measured — {e}" for e in errors] + ["", "![decode and prefill throughput](engine.png)", ""]
    (out_dir / "engine.md").write_text("\n".join(lines) + "\n")
    _plot(rows, out_dir / "engine.png")


def _plot(rows: list[dict], png: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, title in ((axes[0], "decode_tok_s", "decode tokens/s"), (axes[1], "prefill_tok_s", "prefill tokens/s")):
        xs = range(len(rows))
        for off, engine in ((-0.27, "livemind"), (0, "llama.cpp"), (0.27, "llama-bench")):
            ax.bar([x + off for x in xs], [row.get(engine, {}).get(metric, 0) for row in rows], 0.27,
                   label="llama-cpp-python" if engine == "llama.cpp" else engine)
        ax.set_xticks(list(xs), [f"{row['model']}\n{row['threads']} thr" for row in rows], fontsize=8)
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(*, models=("smollm2-135m-instruct", "gemma3-270m"), threads=(1, 2), repeats: int = 3, rounds: int = 3,
         out: str | None = "docs/benchmarks") -> int:
    result = run(list(models), list(threads), repeats, rounds)
    if out:
        write(result, Path(out))
        print(f"wrote {out}/engine.md", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- synthetic models, every family and type

FAMILIES = ("llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3", "command-r", "cohere2")
TYPES = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
         "F16", "BF16")
SHAPE = dict(n_layer=8, n_embd=1024, n_head=16, n_head_kv=4, n_ff=2816, n_vocab=32000, context=4096)


def synthetic_model(family: str, ftype: str, cache: Path, log=print) -> Path:
    """The mid-size random-weight ``family`` model in ``ftype`` (llama.cpp's quantizer), built
    once into ``cache``."""
    from livemind.bench.synthetic import quantized, write

    cache.mkdir(parents=True, exist_ok=True)
    dst = cache / f"{family}-{ftype}.gguf"
    if not dst.exists():
        src = cache / f"{family}-F32.gguf"
        if not src.exists():
            log(f"  writing {src.name} (random weights) ...")
            write(src, family, **SHAPE)
        log(f"  quantizing {dst.name} ...")
        quantized(src, cache / (dst.name + ".part"), ftype).rename(dst)
    return dst


def step_bytes(path) -> int:
    """The weight bytes one decode step reads: every matrix but the token embedding (one row of it
    is read), which is read whole as the output projection when the model ties them."""
    from livemind.engine.gguf import GGUFFile

    f = GGUFFile(path)
    try:
        tied = "output.weight" not in f.tensors
        return sum(t.nbytes for name, t in f.tensors.items()
                   if len(t.shape) == 2 and (name != "token_embd.weight" or tied))
    finally:
        f.close()


def memory_ceiling(threads: int, mib: int = 256, runs: int = 8) -> float:
    """GB/s our F32 GEMV streams a ``mib`` MiB matrix at (larger than any cache here), the best of
    ``runs``: about what a decode step can read per second on this machine, at this moment."""
    import numpy as np

    import livemind.kernels as K

    K.set_threads(threads)
    b = np.random.default_rng(0).standard_normal((mib * 2**20 // 4 // 2048, 2048)).astype(np.float32)
    a = np.ones((1, 2048), np.float32)
    K.matmul(a, b)
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        K.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return b.nbytes / best / 1e9


def synthetic_run(cases: list[tuple[str, str]], threads: int, rounds: int, repeats: int, cache: Path,
                  log=print) -> dict:
    from livemind.bench._timing import machine_facts

    ceiling = [memory_ceiling(threads)]
    log(f"    memory: {ceiling[0]:.1f} GB/s (F32 GEMV over 256 MiB, {threads} threads)")
    rows = []
    for family, ftype in cases:
        path = str(synthetic_model(family, ftype, cache, log))
        row = {"family": family, "type": ftype, "threads": threads, "step_bytes": step_bytes(path),
               **_rounds(path, threads, rounds, repeats, engines=("livemind", "llama.cpp"), batched=False)}
        if "ratios" in row["llama.cpp"]:
            row["ratios"] = row["llama.cpp"].pop("ratios")
        rows.append(row)
        log("    " + _synthetic_line(row))
    ceiling.append(memory_ceiling(threads))
    facts = machine_facts()
    facts.update(rounds=rounds, repeats=repeats, shape=SHAPE, load=os.getloadavg(), memory_gb_s=ceiling)
    return {"facts": facts, "rows": rows}


def _synthetic_line(row: dict) -> str:
    ours, peer = row["livemind"], row["llama.cpp"]
    if "error" in ours or "error" in peer:
        return f"{row['family']} {row['type']}: error: {ours.get('error') or peer.get('error')}"
    return (f"{row['family']} {row['type']}: decode {ours['decode_tok_s']:.1f} / {peer['decode_tok_s']:.1f} tok/s "
            f"({row['ratios']['decode_tok_s']:.2f}x), prefill {ours['prefill_tok_s']:.0f} / "
            f"{peer['prefill_tok_s']:.0f} ({row['ratios']['prefill_tok_s']:.2f}x)")


def write_synthetic(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "engine-synthetic.json").write_text(json.dumps(result, indent=2) + "\n")
    f = result["facts"]
    load = ", ".join(f"{x:.2f}" for x in f["load"])
    lines = [
        "# Engine benchmark on every family and weight type (synthetic models)",
        "",
        "Written by `livemind bench engine --synthetic`. Random-weight models in each family's GGUF layout",
        f"({f['shape']['n_layer']} layers, hidden {f['shape']['n_embd']}, {f['shape']['n_head']} heads / "
        f"{f['shape']['n_head_kv']} KV heads, feed-forward {f['shape']['n_ff']}, vocabulary {f['shape']['n_vocab']}),",
        "F32 written by `livemind.bench.synthetic`, each type made from it by llama.cpp's own quantizer. Both",
        "engines on the same file and thread count, each in a fresh subprocess, timed from the caller after",
        "an untimed warm-up: prefill is one 512-token prompt from an empty cache, decode 128 greedy tokens",
        "after a short prompt (ours from the first streamed token to the last; llama.cpp's 127 `eval` calls",
        f"of one token). {f['rounds']} rounds alternating which engine goes first, {f['repeats']} timed runs in",
        "each; the tok/s figures are medians over rounds of the per-round medians, the ratios the median",
        "over rounds of each round's ratio (its two engines ran seconds apart, so a neighbour's burst on a",
        "shared machine moves both).",
        "",
        f"- CPU: {f['cpu']}, {f['cpus_usable']} usable CPUs; ISAs {', '.join(f['isas'])}; load average at the end {load}",
        f"- llama.cpp: llama-cpp-python's build (n_threads = n_threads_batch = threads, n_batch 512); date {f['date']}",
        "",
        "Decode GB/s is the weight bytes a decode step reads (every matrix; the token embedding only",
        "where it is the output too) times the tokens per second: where both engines are near what this",
        "machine's memory gives, the ratio cannot grow much."
        + (" What it gives was measured before and after the cases, as the GB/s at which our F32 GEMV"
           f" streams a 256 MiB matrix (best of 8): {f['memory_gb_s'][0]:.1f} and {f['memory_gb_s'][1]:.1f} GB/s."
           if "memory_gb_s" in f else ""),
        "",
        "| family | type | threads | decode tok/s (ours / llama.cpp) | decode ratio | decode GB/s (ours / llama.cpp) "
        "| prefill tok/s (ours / llama.cpp) | prefill ratio |",
        "|---|---|---:|---|---:|---|---|---:|",
    ]
    for row in result["rows"]:
        ours, peer = row["livemind"], row["llama.cpp"]
        if "error" in ours or "error" in peer:
            lines.append(f"| {row['family']} | {row['type']} | {row['threads']} | error: "
                         f"{ours.get('error') or peer.get('error')} |||||")
            continue
        gbs = " / ".join(f"{e['decode_tok_s'] * row['step_bytes'] / 1e9:.1f}" for e in (ours, peer)) \
            if "step_bytes" in row else "—"
        lines.append(f"| {row['family']} | {row['type']} | {row['threads']} | {ours['decode_tok_s']:.1f} / "
                     f"{peer['decode_tok_s']:.1f} | {row['ratios']['decode_tok_s']:.2f}× | {gbs} | "
                     f"{ours['prefill_tok_s']:.0f} / {peer['prefill_tok_s']:.0f} | "
                     f"{row['ratios']['prefill_tok_s']:.2f}× |")
    (out_dir / "engine-synthetic.md").write_text("\n".join(lines) + "\n")


def synthetic_main(*, families=FAMILIES, types=TYPES, threads: int = 2, rounds: int = 2, repeats: int = 3,
                   cache: str | None = None, out: str | None = "docs/benchmarks") -> int:
    """Each family at Q4_K_M, and every type on the llama layout."""
    cache_dir = Path(cache) if cache else Path.home() / ".cache" / "livemind" / "bench-synthetic"
    cases = [(fam, "Q4_K_M") for fam in families] + [("llama", t) for t in types if t != "Q4_K_M"]
    result = synthetic_run(cases, threads, rounds, repeats, cache_dir)
    if out:
        write_synthetic(result, Path(out))
        print(f"wrote {out}/engine-synthetic.md", file=sys.stderr)
    return 0
