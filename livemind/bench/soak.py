"""``livemind bench soak``: a real ``livemind serve`` under a tight memory budget, driven for a long
time (default 30 minutes) by clients that cycle every model and strategy, with the server's
resident memory sampled throughout. What it shows: memory follows the models loaded and the work
in flight, and does not creep — KV pages go back when generations end, unloaded models leave
nothing behind, and cancelled requests leak nothing.

The default team at a 1024-token context under a 700 MiB budget: SmolLM2 (general, technical,
coder) and Gemma-3-270M (writer, multilingual) do not fit together, so the governor unloads one
to load the other whenever the traffic turns. ``concurrency`` clients loop over a mix of routed
requests, requests to a named expert, parallel and turns consensus, and streams the client
abandons after a few frames. Every ``interval`` seconds: the server process's RSS (VmRSS), its
peak (VmHWM), and /stats (models loaded, loads, unloads, the governor's usage).

Writes soak.json (every sample and outcome), soak.md (the summary and a table) and soak.png.
Not a CI test: a 30-minute run is the point.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CONFIG = """
[pool]
context = {context}
warm = []
idle_ttl = 120

[governor]
budget_bytes = {budget}

[consensus]
experts = ["general", "writer"]
synthesizer = "general"

[server.limits]
max_concurrent_requests = 64
"""

PROMPTS = [
    "What is the capital of Canada?", "Write a Python function that reverses a list.",
    "Écris une phrase sur la mer.", "Once upon a time, in a far kingdom,", "Explain what a hash map is.",
    "Give me three tips for sleeping better.", "¿Cuál es el río más largo del mundo?",
    "Write a haiku about autumn.", "How does TCP differ from UDP?", "Summarise the plot of Hamlet in two lines.",
]
EXPERTS = ["general", "technical", "coder", "writer", "multilingual"]
MIX = [("routed", 35), ("expert", 25), ("parallel", 10), ("turns", 10), ("abandoned", 20)]
MIB = 1 << 20


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _client(http, rng: random.Random, stop_at: float, outcomes: Counter) -> None:
    kinds, weights = zip(*MIX)
    while time.monotonic() < stop_at:
        kind = rng.choices(kinds, weights)[0]
        model = {"routed": "livemind-auto", "expert": rng.choice(EXPERTS), "parallel": "livemind-parallel",
                 "turns": "livemind-turns", "abandoned": rng.choice(["livemind-auto", *EXPERTS])}[kind]
        body = {"model": model, "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
                "max_tokens": rng.randint(8, 48), "temperature": rng.choice([0, 0.7])}
        try:
            if kind == "abandoned" or rng.random() < 0.3:
                async with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                    frames, keep = 0, rng.randint(2, 6) if kind == "abandoned" else None
                    async for line in r.aiter_lines():
                        frames += bool(line)
                        if keep is not None and frames >= keep:
                            break                       # the client goes away mid-stream
                    outcomes[f"{kind} {r.status_code}"] += 1
            else:
                r = await http.post("/v1/chat/completions", json=body)
                outcomes[f"{kind} {r.status_code}"] += 1
                if r.status_code == 503:
                    await asyncio.sleep(float(r.headers.get("Retry-After", 1)))
        except Exception as exc:   # noqa: BLE001 - counted: the summary shows any
            outcomes[f"{kind} {type(exc).__name__}"] += 1


async def _drive(url: str, pid: int, minutes: float, concurrency: int, interval: float, seed: int) -> tuple[list, Counter]:
    import httpx

    samples: list[dict] = []
    outcomes: Counter = Counter()
    t0 = time.monotonic()
    stop_at = t0 + minutes * 60
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        async def sample() -> None:
            next_print = 0.0
            while True:
                s = (await http.get("/stats")).json()
                pool = s["pool"]
                row = {"t": round(time.monotonic() - t0, 1), **{k.lower(): v for k, v in _status(pid).items()},
                       "loaded": [m["experts"][0] for m in pool["models"].values() if m["state"] == "loaded"],
                       "resident": [m["experts"][0] for m in pool["models"].values() if m["state"] != "unloaded"],
                       "loads": pool["counters"]["loads"], "unloads": pool["counters"]["unloads"],
                       "governor_usage": pool["governor"]["usage"], "requests": s["server"]["requests"],
                       "in_flight": s["server"]["in_flight"]}
                samples.append(row)
                if row["t"] >= next_print:
                    print(f"  {row['t'] / 60:5.1f} min  RSS {row['vmrss'] / MIB:6.0f} MiB  peak {row['vmhwm'] / MIB:6.0f} "
                          f"MiB  loaded {','.join(row['loaded']) or '-':22s} loads {row['loads']:4d}  "
                          f"requests {row['requests']}", file=sys.stderr, flush=True)
                    next_print += 60
                if time.monotonic() >= stop_at:
                    return
                await asyncio.sleep(interval)

        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(_client(http, random.Random(seed + i), stop_at, outcomes) for i in range(concurrency)))
        await sampler
    return samples, outcomes


def _slope_mib_per_hour(rows: list[dict]) -> float:
    ts = [r["t"] for r in rows]
    ys = [r["vmrss"] / MIB for r in rows]
    if len(rows) < 2 or max(ts) == min(ts):
        return 0.0
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / sum((t - mt) ** 2 for t in ts) * 3600


def summarise(samples: list[dict]) -> dict:
    """RSS by thirds of the run and the trend of its second half, by what was loaded."""
    n = len(samples)
    thirds = [samples[i * n // 3:(i + 1) * n // 3] for i in range(3)]
    by_loaded: dict[str, list[int]] = {}
    for r in samples:
        by_loaded.setdefault("+".join(sorted(r["loaded"])) or "none", []).append(r["vmrss"])
    # the process's own memory (Python, the router's encoder, the server): its RSS with no model
    # loaded, loading or unloading, once the first has come and gone; the budget counts the
    # models beside it
    idle = [r["vmrss"] for r in samples if not r.get("resident", r["loaded"]) and r["loads"] > 0]
    own = statistics.median(idle) if idle else None
    peak = max(r["vmhwm"] for r in samples)
    return {
        "samples": n, "minutes": samples[-1]["t"] / 60 if samples else 0,
        "own_rss_mib": round(own / MIB, 1) if own is not None else None,
        "peak_less_own_mib": round((peak - own) / MIB, 1) if own is not None else None,
        "rss_max_mib_by_third": [round(max(r["vmrss"] for r in t) / MIB, 1) for t in thirds if t],
        "rss_median_mib_by_third": [round(statistics.median(r["vmrss"] for r in t) / MIB, 1) for t in thirds if t],
        "second_half_slope_mib_per_hour": round(_slope_mib_per_hour(samples[n // 2:]), 1),
        "peak_rss_mib": round(peak / MIB, 1),
        "rss_mib_by_models_loaded": {k: {"median": round(statistics.median(v) / MIB, 1),
                                         "max": round(max(v) / MIB, 1), "samples": len(v)}
                                     for k, v in sorted(by_loaded.items())},
        "loads": samples[-1]["loads"], "unloads": samples[-1]["unloads"], "requests": samples[-1]["requests"],
    }


def main(*, minutes: float = 30.0, concurrency: int = 4, interval: float = 5.0, context: int = 1024,
         budget_mib: int = 700, seed: int = 0, out: str | None = "docs/benchmarks") -> int:
    import httpx

    from livemind.bench._timing import machine_facts

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="livemind-soak-") as tmp:
        cfg = Path(tmp) / "livemind.toml"
        cfg.write_text(CONFIG.format(context=context, budget=budget_mib * MIB))
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "livemind", "serve", "--config", str(cfg), "--port", str(port),
                                 "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}: {(Path(tmp) / 'server.log').read_text()[-2000:]}")
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start in 120 s")
                time.sleep(0.2)
            print(f"soak: {minutes:g} min, {concurrency} clients, context {context}, budget {budget_mib} MiB, "
                  f"server pid {proc.pid}", file=sys.stderr)
            load_before = os.getloadavg()[0]
            samples, outcomes = asyncio.run(_drive(url, proc.pid, minutes, concurrency, interval, seed))
            load_after = os.getloadavg()[0]
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()
    summary = summarise(samples)
    report = {"machine": machine_facts(), "settings": {"minutes": minutes, "concurrency": concurrency,
              "interval": interval, "context": context, "budget_mib": budget_mib, "seed": seed,
              "load_average_1min": [load_before, load_after]},
              "summary": summary, "outcomes": dict(sorted(outcomes.items())), "samples": samples}
    print(json.dumps({"summary": summary, "outcomes": report["outcomes"]}, indent=1))
    if out:
        _write(Path(out), report)
    return 0


def _own_memory(s: dict, budget_mib: int) -> str:
    """What the report says of the budget, which counts the models beside the server's own memory."""
    if s.get("own_rss_mib") is None:
        within = s["peak_rss_mib"] <= budget_mib
        return (f"The budget ({budget_mib} MiB) counts the models; the peak counts the server's own memory too "
                "(Python, the router's encoder, the HTTP server), which this run never saw alone (with its "
                f"clients some model was always loading or loaded), and the whole process "
                f"{'stayed within' if within else 'went over'} the models' budget.")
    return (f"The budget ({budget_mib} MiB) counts the models; the server's own memory (Python, the router's "
            f"encoder, the HTTP server: its median RSS with no model loaded, loading or unloading) is "
            f"{s['own_rss_mib']:g} MiB beside it, so the models' share of the peak is at most "
            f"{s['peak_less_own_mib']:g} MiB.")


def _write(folder: Path, report: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    s, st, m = report["summary"], report["settings"], report["machine"]
    rows = report["samples"]
    every = max(1, len(rows) // 16)
    table = ["| minute | RSS MiB | peak MiB | loaded | loads so far | requests so far |", "|---|---|---|---|---|---|"]
    for r in rows[::every] + ([rows[-1]] if (len(rows) - 1) % every else []):
        table.append(f"| {r['t'] / 60:.1f} | {r['vmrss'] / MIB:.0f} | {r['vmhwm'] / MIB:.0f} | "
                     f"{', '.join(r['loaded']) or '—'} | {r['loads']} | {r['requests']} |")
    by = "\n".join(f"| {k} | {v['median']} | {v['max']} | {v['samples']} |"
                   for k, v in s["rss_mib_by_models_loaded"].items())
    outcomes = "\n".join(f"| {k} | {v} |" for k, v in report["outcomes"].items())
    text = f"""# Soak: a server cycling models under a tight budget

Written by `livemind bench soak --minutes {st['minutes']:g}` ({m['date']}, {m['cpu']}, {m['cpus_usable']} CPUs,
ISAs {', '.join(m['isas'])}). A real `livemind serve` with the default team at a {st['context']}-token context and
`[governor] budget_bytes` = {st['budget_mib']} MiB, so SmolLM2 and Gemma-3-270M never fit together and the governor
swaps them as the traffic turns. {st['concurrency']} clients loop over routed requests, named experts, parallel and
turns consensus, and streams they abandon after a few frames (docs in `livemind/bench/soak.py`). The server
process's RSS (VmRSS) and peak (VmHWM) are read from /proc every {st['interval']:g} s.

Method: this measures memory, not speed, so no peer runs beside it (llama.cpp's server holds one
model and does not swap). RSS is read from outside the server, by the driving process. Load average
(1 min) at the start and end: {' / '.join(f'{x:.1f}' for x in st.get('load_average_1min', []))
or 'not recorded'}; other work on the machine slows the requests (the counts below) but does not
change what the server holds resident.

**Result:** {s['requests']} requests in {s['minutes']:.1f} min, {s['loads']} model loads. RSS maximum by third of
the run: {' / '.join(f'{x:g}' for x in s['rss_max_mib_by_third'])} MiB; median by third:
{' / '.join(f'{x:g}' for x in s['rss_median_mib_by_third'])} MiB; linear trend over the second half
{s['second_half_slope_mib_per_hour']:+g} MiB/hour; peak {s['peak_rss_mib']:g} MiB. {_own_memory(s, st['budget_mib'])}

RSS by the models loaded at the sample:

| loaded | median MiB | max MiB | samples |
|---|---|---|---|
{by}

Over time:

{chr(10).join(table)}

Outcomes (kind of request, status):

| outcome | count |
|---|---|
{outcomes}

![RSS over time](soak.png)
"""
    (folder / "soak.md").write_text(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(9, 4))
    t = [r["t"] / 60 for r in rows]
    ax.plot(t, [r["vmrss"] / MIB for r in rows], label="RSS", lw=1)
    ax.plot(t, [r["vmhwm"] / MIB for r in rows], label="peak RSS so far", lw=0.8, alpha=0.7)
    ax.axhline(st["budget_mib"], color="red", ls="--", lw=0.8, label="budget")
    ax.set_xlabel("minutes")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0, top=st["budget_mib"] * 1.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("livemind serve under a tight budget: resident memory over time")
    fig.tight_layout()
    fig.savefig(folder / "soak.png", dpi=110)
    plt.close(fig)
