"""``livemind bench long-context``: Gemma-3-270M generating at a long context on the native
engine — a prompt that fills the context almost to the end, then a few generated tokens — with
the time and the memory it took. Each length runs in a fresh process so its peak RSS is its own.
Writes long-context.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import asyncio, json, resource, sys, time
import numpy as np
from livemind.engine.model import load_model
from livemind.models import resolve_model
cfg = json.loads(sys.argv[1])
n_ctx, kv = cfg["context"], cfg["kv"]
m = load_model(resolve_model(cfg["model"]), context=n_ctx, kv_dtype=kv)
text = ("The history of the city is long. Its markets, bridges and libraries grew over centuries, "
        "and every generation added a new chapter to the story. ")
ids = m.tokenize(text * (n_ctx // 20))[: n_ctx - 16]
async def go():
    out = ""
    async for ev in m.generate(ids, max_tokens=8, temperature=0):
        out += ev.text
        last = ev
    return out, last
t0 = time.perf_counter()
text_out, last = asyncio.run(go())
mem = m.memory()
print(json.dumps({"context": n_ctx, "kv": kv, "prompt_tokens": len(ids), "seconds": time.perf_counter() - t0,
                  "prefill_tok_s": last.timings.prefill_tokens_per_s, "decode_tok_s": last.timings.decode_tokens_per_s,
                  "generated": text_out, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "weights_mib": mem["weights"] / 2**20, "kv_reserved_mib": mem["kv"] / 2**20}))
"""


def main(*, model: str = "gemma3-270m", contexts=(8192, 32768), kv=("f16",), out: str | None = "docs/benchmarks") -> int:
    from livemind.bench._timing import machine_facts

    rows = []
    for n_ctx in contexts:
        for k in kv:
            print(f"  {model} · context {n_ctx} · kv {k} ...", file=sys.stderr)
            p = subprocess.run([sys.executable, "-c", _CHILD, json.dumps({"model": model, "context": n_ctx, "kv": k})],
                               capture_output=True, text=True, timeout=3600)
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip()[-2000:])
            r = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(json.dumps(r))
    if out:
        f = machine_facts()
        lines = ["# Long context on the native engine", "",
                 "Written by `livemind bench long-context`: the prompt fills the context up to 16 tokens from its",
                 "end, then 8 tokens are generated greedily; one fresh process per row. The KV cache is allocated",
                 "for slots × context (here 9 slots) but its pages are mapped only as positions are written, so the",
                 "resident KV is one sequence's. Peak RSS is the whole process (Python, numpy, the mapped file).", "",
                 f"- CPU: {f['cpu']}, {f['cpus_usable']} CPUs, ISA {f['isas'][0]}; {f['date']}", "",
                 "| model | context | KV | prompt tokens | prefill tok/s | decode tok/s | wall s | peak RSS MiB | weights MiB | KV reserved (virtual) MiB | generated |",
                 "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            lines.append(f"| {model} | {r['context']} | {r['kv']} | {r['prompt_tokens']} | {r['prefill_tok_s']:.0f} | "
                         f"{r['decode_tok_s']:.1f} | {r['seconds']:.0f} | {r['peak_rss_mib']:.0f} | {r['weights_mib']:.0f} | "
                         f"{r['kv_reserved_mib']:.0f} | {json.dumps(r['generated'])[1:-1]} |")
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "long-context.md").write_text("\n".join(lines) + "\n")
    return 0
