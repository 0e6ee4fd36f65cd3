"""``livemind bench latency``: latency as a user of the engine sees it, timed from the caller.

Four parts:

- **fresh slots**: short prompts one after another, each its own (so the prefix cache has nothing
  to give), at the default context and at 32K. The first eight take KV slots no request has
  used; the point is that they answer as fast as the later ones.
- **chat**: one conversation grown turn by turn to about 2000 tokens, each turn's time to first
  token with the prefix cache and without, the two alternating turn by turn on two copies of the
  model in one process. With the cache a turn prefills only its new tokens.
- **before / after**: one workload (a chat, four questions at once, a consensus) with the warm
  pool, the prefix cache and batching off, then on, each in a fresh process.
- **team**: the default team as ``livemind ask`` builds it, from a cold start (nothing loaded):
  one routed question end to end (route, the model's load, the answer), then each expert alone
  (its first request — cold when its model was not loaded yet — and ``requests`` warm ones:
  p50/p95), then Parallel and Turns consensus over the team (time to the first synthesis
  token, total, tokens/s, the process's peak RSS after each).

Each model and context runs in a fresh process. Writes latency.{json,md,png}.
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_FRESH = r"""
import asyncio, json, sys, time
from livemind.engine.model import load_model
from livemind.models import resolve_model
cfg = json.loads(sys.argv[1])
m = load_model(resolve_model(cfg["model"]), context=cfg["context"], threads=cfg["threads"], prefix_cache=False)
words = ("river stone lamp garden window music paper cloud orange silver bridge forest candle "
         "harbor winter meadow engine violet").split()
async def ttft(i):
    # the same length every time (a two-digit number would add a token to the later requests)
    prompt = m.tokenize(f"Request {chr(65 + i % 26)}: tell me about the " + " and the ".join(words[i % 16:i % 16 + 3]) + ".")
    t0 = time.perf_counter()
    async for ev in m.generate(prompt, max_tokens=4, temperature=0):
        if ev.token_id is not None:
            first = time.perf_counter() - t0
            break
    return first, len(prompt)
out = [asyncio.run(ttft(i)) for i in range(cfg["requests"])]
print(json.dumps({"ttft_ms": [t * 1e3 for t, _ in out], "prompt_tokens": [n for _, n in out]}))
"""

_CHAT = r"""
import asyncio, json, sys, time
from livemind.engine.model import load_model
from livemind.models import resolve_model
cfg = json.loads(sys.argv[1])
path = resolve_model(cfg["model"])
models = {on: load_model(path, context=cfg["context"], threads=cfg["threads"], prefix_cache=on) for on in (True, False)}
topics = ["the river that runs through the old town", "the library on the hill", "the harbour at dawn",
          "the market square in winter", "the bridge the engineers rebuilt", "the forest north of the city",
          "the observatory above the bay", "the railway that crosses the plain"]
def user_turn(k):
    t = topics[k % len(topics)]
    return (f"Here are my notes on {t}. " + f"People remember {t} for many reasons, and each generation "
            "adds a story of its own to it. " * 9 + f"In one sentence, what stands out about {t}?")
async def turn(m, history):
    t0 = time.perf_counter()
    text, first, last = "", None, None
    async for ev in m.generate(history, max_tokens=cfg["answer_tokens"], temperature=0):
        if first is None and ev.token_id is not None:
            first = time.perf_counter() - t0
        text += ev.text
        last = ev
    return first, text, last.usage
async def warm(m):   # plain text, so it leaves nothing the chat's template would match
    async for _ in m.generate("Warm-up.", max_tokens=4, temperature=0):
        pass
for m in models.values():
    asyncio.run(warm(m))
histories = {on: [{"role": "system", "content": "You are a helpful assistant."}] for on in models}
rows = []
for k in range(cfg["turns"]):
    row = {"turn": k + 1}
    for on in ((True, False) if k % 2 == 0 else (False, True)):   # alternate which goes first
        h = histories[on]
        h.append({"role": "user", "content": user_turn(k)})
        first, text, usage = asyncio.run(turn(models[on], h))
        h.append({"role": "assistant", "content": text})
        key = "on" if on else "off"
        row[key] = {"ttft_ms": first * 1e3, "prompt_tokens": usage.prompt_tokens, "cached_tokens": usage.cached_tokens}
    rows.append(row)
    print(json.dumps(row), file=sys.stderr)
print(json.dumps({"turns": rows}))
"""


def _default_slots() -> int:
    from livemind.engine.model import Model
    return inspect.signature(Model).parameters["n_seq"].default


FRESH_SLOTS = _default_slots()   # the KV slots a model has by default (its n_seq)


_TEAM = r"""
import asyncio, json, resource, statistics, sys, time
from livemind.config import LiveMindConfig
from livemind.events import Done, ModelLoaded, RouteChosen, Token
cfg = json.loads(sys.argv[1])
config = LiveMindConfig.load(None)
config.pool.warm = []                    # a cold start: nothing loaded until asked
QUESTIONS = ["What is the capital of France?", "Explain how a hash table works.",
             "Write a Python function that reverses a string.", "Write a short poem about the sea.",
             "Translate 'good morning' into Spanish."]
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
async def timed(mind, question, **kw):
    t0, first, synth, routed, loads, done = time.perf_counter(), None, None, None, 0.0, None
    async for ev in mind.stream([{"role": "user", "content": question}], max_tokens=cfg["tokens"], temperature=0, **kw):
        now = time.perf_counter() - t0
        if isinstance(ev, RouteChosen) and routed is None:
            routed = now
        elif isinstance(ev, ModelLoaded):
            loads += ev.seconds
        elif isinstance(ev, Token) and ev.delta:
            if first is None:
                first = now
            if ev.stage == "synthesis" and synth is None:
                synth = now
        elif isinstance(ev, Done):
            done = ev.result
    total = time.perf_counter() - t0
    gen = done.usage.completion_tokens
    return {"route_ms": routed * 1e3 if routed is not None else None, "load_s": loads,
            "ttft_ms": first * 1e3 if first is not None else None,
            "synthesis_ttft_ms": synth * 1e3 if synth is not None else None, "total_ms": total * 1e3,
            "tokens": gen, "tok_s": gen / (total - (first or 0)) if total > (first or 0) else 0.0,
            "experts": done.experts}
def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
async def go():
    out = {}
    mind = config.build()
    async with mind:
        out["routed_cold"] = await timed(mind, "What is the tallest mountain in Europe?")
        out["routed_warm"] = await timed(mind, "What is the longest river in Africa?")
        experts = {}
        for name, q in zip([e.name for e in config.team()], QUESTIONS):
            first = await timed(mind, q, expert=name)
            # each warm request its own words up front: only the expert's system prompt is shared
            warm = [await timed(mind, f"Question {i + 1} of {cfg['requests']}: {q}", expert=name)
                    for i in range(cfg["requests"])]
            experts[name] = {"first": first, "warm": {
                k: {"p50": statistics.median([w[k] for w in warm]), "p95": pct([w[k] for w in warm], 0.95)}
                for k in ("ttft_ms", "total_ms", "tok_s")}}
        out["experts"] = experts
        for kind in ("parallel", "turns"):
            out[kind] = await timed(mind, "Why is the sky blue?", strategy=config.strategy(kind))
            out[kind]["peak_rss_mib"] = rss_mib()
    print(json.dumps(out))
asyncio.run(go())
"""


_BEFORE_AFTER = r"""
import asyncio, json, sys, time
from livemind.config import LiveMindConfig
cfg = json.loads(sys.argv[1])
config = LiveMindConfig.load(None)
on = cfg["on"]
config.pool.warm = None if on else []            # the default team's warm experts, or none
config.pool.prefix_cache = on
config.pool.max_sequences = 8 if on else 1       # batching: 8 concurrent generations a model, or 1
n = cfg["tokens"]
async def go():
    t0 = time.perf_counter()
    mind = config.build()
    async with mind:
        times = {"start_s": time.perf_counter() - t0}
        t = time.perf_counter()
        history = []
        for q in ("What is a good name for a black cat?", "Why is that name good?", "Suggest two more."):
            history.append({"role": "user", "content": q})
            r = await mind.ask(history, expert="general", max_tokens=n, temperature=0)
            history.append({"role": "assistant", "content": r.text})
        times["chat_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await asyncio.gather(*[mind.ask(q, expert=e, max_tokens=n, temperature=0) for q, e in (
            ("How does a CPU cache work?", "technical"), ("What is DNS?", "technical"),
            ("Write a Python function that adds two numbers.", "coder"), ("Write a loop that prints 1 to 5.", "coder"))])
        times["concurrent_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await mind.ask("Why is the sky blue?", strategy=config.strategy("parallel"), max_tokens=n, temperature=0)
        times["parallel_s"] = time.perf_counter() - t
        times["workload_s"] = times["chat_s"] + times["concurrent_s"] + times["parallel_s"]
    print(json.dumps(times))
asyncio.run(go())
"""


def _child(code: str, cfg: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", code, json.dumps(cfg)], capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip()[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(*, models=("smollm2-135m-instruct", "gemma3-270m"), threads: int = 2, contexts=(4096, 32768),
         requests: int = 16, turns: int = 8, answer_tokens: int = 32, quick: bool = False,
         out: str | None = "docs/benchmarks") -> int:
    from livemind.bench._timing import machine_facts

    if quick:   # CI: that every part runs, not what it measures
        models, contexts, requests, turns, answer_tokens = models[:1], contexts[:1], FRESH_SLOTS + 1, 2, 4
    load_start = os.getloadavg()
    fresh, chat = [], []
    for model in models:
        for n_ctx, th in [(c, t) for c in contexts for t in sorted({1, threads})]:
            print(f"  fresh slots · {model} · context {n_ctx} · {th} threads ...", file=sys.stderr)
            r = _child(_FRESH, {"model": model, "context": n_ctx, "threads": th, "requests": requests})
            t = r["ttft_ms"]
            # the first request starts the engine thread; the next take slots no request has touched,
            # up to the model's FRESH_SLOTS, the rest slots used before
            row = {"model": model, "context": n_ctx, "threads": th, **r, "first_ms": t[0],
                   "fresh_ms": statistics.median(t[1:FRESH_SLOTS]), "reused_ms": statistics.median(t[FRESH_SLOTS:])}
            fresh.append(row)
            print(f"    first {row['first_ms']:.1f} ms, fresh slots {row['fresh_ms']:.1f} ms, "
                  f"used slots {row['reused_ms']:.1f} ms (medians)", file=sys.stderr)
        print(f"  chat · {model} ...", file=sys.stderr)
        r = _child(_CHAT, {"model": model, "context": contexts[0], "threads": threads, "turns": turns,
                           "answer_tokens": answer_tokens})
        chat.append({"model": model, "context": contexts[0], **r})
    print("  team · the default team from a cold start ...", file=sys.stderr)
    team = _child(_TEAM, {"requests": 3 if quick else requests, "tokens": answer_tokens})
    print("  before / after: the same workload with the warm pool, prefix cache and batching off, then on ...",
          file=sys.stderr)
    before_after = {key: _child(_BEFORE_AFTER, {"on": key == "on", "tokens": answer_tokens}) for key in ("off", "on")}
    result = {"machine": machine_facts(), "threads": threads, "answer_tokens": answer_tokens, "fresh_slots": fresh,
              "chat": chat, "team": team, "before_after": before_after,
              "load": {"start": load_start, "end": os.getloadavg()}}
    print(json.dumps(result, indent=1))
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "latency.json").write_text(json.dumps(result, indent=1) + "\n")
        (Path(out) / "latency.md").write_text(_report(result))
        _plot(result, Path(out) / "latency.png")
    return 0


def _plot(r: dict, png: Path) -> None:
    """The chat's time to first token per turn, with the prefix cache and without, per model; and
    the before/after workload."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(r["chat"]) + 1, figsize=(5 * (len(r["chat"]) + 1), 3.8))
    for ax, c in zip(axes, r["chat"]):
        turns = [t["turn"] for t in c["turns"]]
        for key, label in (("off", "without the prefix cache"), ("on", "with it")):
            ax.plot(turns, [t[key]["ttft_ms"] for t in c["turns"]], marker="o", label=label)
        ax.set_title(f"{c['model']}: a growing chat")
        ax.set_xlabel("turn (about 275 tokens each)")
        ax.set_ylabel("time to first token, ms")
        ax.legend()
    ax = axes[-1]
    if "before_after" in r:
        parts = ("chat_s", "concurrent_s", "parallel_s")
        names = ("3-turn chat", "4 at once", "Parallel")
        for i, key in enumerate(("off", "on")):
            bottom = 0.0
            for part, name in zip(parts, names):
                v = r["before_after"][key][part]
                ax.bar(i, v, bottom=bottom, color=f"C{parts.index(part)}", label=name if i == 0 else None)
                bottom += v
        ax.set_xticks([0, 1], ["warm pool, prefix cache,\nbatching off", "on (the defaults)"])
        ax.set_ylabel("seconds")
        ax.set_title("the same workload on the default team")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _span(rows) -> str:
    n = [t for row in rows for t in row["prompt_tokens"]]
    return f"{min(n)}-{max(n)}" if min(n) != max(n) else str(n[0])


def _report(r: dict) -> str:
    m = r["machine"]
    lines = ["# Latency, timed from the caller", "", "![the growing chat and the before/after workload](latency.png)", "",
             "Written by `livemind bench latency`. Each model and context runs in a fresh process; times are",
             "wall clock from the call to `generate` to the first streamed token, greedy.", "",
             f"- CPU: {m['cpu']}, {m['cpus_usable']} usable CPUs, {r['threads']} threads; ISAs {', '.join(m['isas'])}",
             *([f"- load average (1, 5, 15 min) at the start {', '.join(f'{x:.2f}' for x in r['load']['start'])}, "
                f"at the end {', '.join(f'{x:.2f}' for x in r['load']['end'])}"] if "load" in r else []),
             "", "## Fresh KV slots", "",
             f"Short prompts ({_span(r['fresh_slots'])} tokens) one after another, each different, so nothing is reused: the",
             f"first {FRESH_SLOTS} take slots no request has touched, the rest slots used before. The first",
             "request also starts the engine thread. At one thread and at the run's thread count (where a",
             "step that starts while the other CPU sleeps runs at one thread's speed until it wakes, whatever",
             "the slot). Medians:", "",
             f"| model | context | threads | first request | requests 2-{FRESH_SLOTS} (fresh slots) | "
             f"requests {FRESH_SLOTS + 1}- (used slots) | fresh / used | slowest / fastest of 2- |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f in r["fresh_slots"]:
        rest = f["ttft_ms"][1:]
        lines.append(f"| {f['model']} | {f['context']} | {f['threads']} | {f['first_ms']:.1f} ms | "
                     f"{f['fresh_ms']:.1f} ms | {f['reused_ms']:.1f} ms | {f['fresh_ms'] / f['reused_ms']:.2f} | "
                     f"{max(rest) / min(rest):.2f} |")
    lines += ["", "Every request, in order (ms):", ""]
    for f in r["fresh_slots"]:
        lines.append(f"- {f['model']} at {f['context']}, {f['threads']} threads: "
                     + ", ".join(f"{t:.1f}" for t in f["ttft_ms"]))
    lines += ["", "## A growing chat, with the prefix cache and without", "",
              "One conversation, turn by turn (a long user message each turn, greedy answers of up to",
              f"{r['answer_tokens']} tokens), on two copies of the model in one process, the cache on and off,",
              "alternating which goes first, both warmed up first. Time to first token of each turn:", ""]
    for c in r["chat"]:
        lines += [f"### {c['model']} (context {c['context']})", "",
                  "| turn | prompt tokens | reused from the cache | TTFT with the cache | TTFT without | without / with |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for t in c["turns"]:
            on, off = t["on"], t["off"]
            lines.append(f"| {t['turn']} | {on['prompt_tokens']} | {on['cached_tokens']} | {on['ttft_ms']:.1f} ms | "
                         f"{off['ttft_ms']:.1f} ms | {off['ttft_ms'] / on['ttft_ms']:.1f}x |")
        first, last = c["turns"][0]["on"], c["turns"][-1]["on"]
        lines += ["", f"With the cache the last turn prefilled {last['prompt_tokens'] - last['cached_tokens']} new tokens "
                  f"(beside {last['cached_tokens']} reused) in {last['ttft_ms']:.0f} ms, where the first prefilled "
                  f"{first['prompt_tokens']} in {first['ttft_ms']:.0f} ms: the difference is the new tokens' "
                  "attention over the longer history.", ""]
    if "team" in r:
        lines += _team_report(r["team"], r["answer_tokens"])
    if "before_after" in r:
        off, on = r["before_after"]["off"], r["before_after"]["on"]
        lines += ["## Before / after: the warm pool, the prefix cache and batching", "",
                  "The same workload on the default team in two fresh processes: off (no warm experts, no",
                  "prefix cache, one generation at a time per model) and on (the defaults: `general` and `writer`",
                  "loaded when the pool opens, the prefix cache, 8 generations batched per model). The workload",
                  "is a 3-turn chat with `general`, then 4 questions at once to `technical` and `coder` (one",
                  "model), then a Parallel consensus of the team; the clock starts once the pool is open.", "",
                  "| | pool open | chat | 4 at once | Parallel | the workload |", "|---|---:|---:|---:|---:|---:|"]
        for label, x in (("off", off), ("on", on)):
            lines.append(f"| {label} | {x['start_s']:.2f} s | {x['chat_s']:.2f} s | {x['concurrent_s']:.2f} s | "
                         f"{x['parallel_s']:.2f} s | {x['workload_s']:.2f} s |")
        lines += ["", f"The workload took {off['workload_s'] / on['workload_s']:.1f}× as long with them off.", ""]
    return "\n".join(lines) + "\n"

def _ms(v) -> str:
    return "–" if v is None else f"{v:.0f} ms"


def _team_report(t: dict, tokens: int) -> list[str]:
    lines = ["## The default team, as `livemind ask` runs it", "",
             f"One process from a cold start (no model loaded), greedy answers of up to {tokens} tokens; times",
             "from the call to the first answer token and to the end.", "",
             "| request | route | model loads | first token | total | tokens | tokens/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in (("routed_cold", "routed, cold (router and model load)"), ("routed_warm", "routed, warm")):
        x = t[key]
        lines.append(f"| {label} → {', '.join(x['experts'])} | {_ms(x['route_ms'])} | {x['load_s']:.2f} s | "
                     f"{_ms(x['ttft_ms'])} | {_ms(x['total_ms'])} | {x['tokens']} | {x['tok_s']:.0f} |")
    lines += ["", "Each expert alone: its first request (cold where its model was not loaded yet), then warm "
              "requests (p50 / p95):", "",
              "| expert | first request: loads, first token, total | warm first token | warm total | warm tokens/s |",
              "|---|---|---:|---:|---:|"]
    for name, e in t["experts"].items():
        f, w = e["first"], e["warm"]
        lines.append(f"| {name} | {f['load_s']:.2f} s, {_ms(f['ttft_ms'])}, {_ms(f['total_ms'])} | "
                     f"{w['ttft_ms']['p50']:.0f} / {w['ttft_ms']['p95']:.0f} ms | "
                     f"{w['total_ms']['p50']:.0f} / {w['total_ms']['p95']:.0f} ms | "
                     f"{w['tok_s']['p50']:.0f} / {w['tok_s']['p95']:.0f} |")
    lines += ["", "Consensus over the whole team (its models loaded by then), \"Why is the sky blue?\". Parallel asks",
              "every expert at once, then a synthesizer; Turns asks them one after another, each seeing the",
              "answers so far, the last one's being the result (no synthesis pass, hence no synthesis token):", "",
              "| strategy | first answer token | first synthesis token | total | tokens (all experts) | peak RSS |",
              "|---|---:|---:|---:|---:|---:|"]
    for kind in ("parallel", "turns"):
        x = t[kind]
        lines.append(f"| {kind} | {_ms(x['ttft_ms'])} | {_ms(x['synthesis_ttft_ms'])} | {_ms(x['total_ms'])} | "
                     f"{x['tokens']} | {x['peak_rss_mib']:.0f} MiB |")
    return lines + [""]

