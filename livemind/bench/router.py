"""Router accuracy and latency: the semantic Router beside a keyword-overlap baseline, in one run.

- accuracy of each on the labelled sets (tests/data/router_queries*.jsonl) with the default team;
  the baseline gets the same language test, so the gap is the semantic part alone;
- p50/p90 latency of ``await router.route(text)`` for a 20-word request (the encoder in a worker
  thread, as a caller sees it), after warm-up, over ``runs`` calls, with the kernel pool at 1 and
  at every usable core; the baseline's latency on the same request;
- where one route's time goes: WordPiece, each kernel family, the numpy glue between kernels,
  and the router's own work (scoring, language test, thread hand-off).

Writes router.json and router.md.

    python -m livemind.bench.router
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import anyio
import numpy as np
import regex

import livemind.kernels as K
from livemind._language import non_english
from livemind.bench._timing import machine_facts
from livemind.events import RouteDecision
from livemind.router import Router, query_text
from livemind.team import default_team

QUERY = ("Can you explain why my Python script that reads a large CSV file with pandas keeps "
         "running out of memory?")                      # 20 words
_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
# router_queries: written before the default team's examples, then used to tune them (a dev set);
# router_queries_holdout: written after the tuning, and never tuned on.
SETS = ("router_queries", "router_queries_holdout")
_WORD = regex.compile(r"\p{L}[\p{L}\p{N}'+#]*")
_COMMON = frozenset("a an and are as at be by can do for from how i in is it me my of on or that the this to what "
                    "with you your".split())


class KeywordRouter:
    """The peer: each expert scores the share of the request's words found in its description and
    examples (common words left out); non-English requests go to the multilingual expert, as in
    :class:`Router`."""

    def __init__(self, experts):
        self.experts = list(experts)
        self.vocab = {e.name: self._words(" ".join((e.description, *e.examples))) for e in self.experts}

    @staticmethod
    def _words(text: str) -> set[str]:
        return {w.lower() for w in _WORD.findall(text)} - _COMMON

    def route_sync(self, messages_or_text) -> RouteDecision:
        text = query_text(messages_or_text)
        words = self._words(text)
        scores = {e.name: len(words & self.vocab[e.name]) / max(len(words), 1) for e in self.experts}
        multilingual = [e.name for e in self.experts if e.multilingual]
        if non_english(text) and multilingual:
            return RouteDecision(expert=multilingual[0], scores=scores, reason="non-English")
        best = max(scores, key=scores.__getitem__)
        return RouteDecision(expert=best if scores[best] > 0 else self.experts[0].name, scores=scores)


def labelled(name: str = "router_queries") -> list[dict]:
    text = (_DATA / f"{name}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def accuracy(router, rows) -> tuple[float, dict]:
    """Share routed right, and per expert (right, total)."""
    per = Counter(), Counter()
    for r in rows:
        per[1][r["expert"]] += 1
        per[0][r["expert"]] += router.route_sync(r["query"]).expert == r["expert"]
    return sum(per[0].values()) / len(rows), {k: (per[0][k], per[1][k]) for k in per[1]}


def _percentiles(samples: list[float]) -> dict:
    s = np.asarray(samples) * 1e3
    return {"p50_ms": float(np.percentile(s, 50)), "p90_ms": float(np.percentile(s, 90)), "runs": len(samples)}


def latency_sync(fn, runs: int) -> dict:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return _percentiles(samples)


def latency_by_threads(router: Router, text: str, runs: int, counts: list[int]) -> dict:
    """p50/p90 of ``await router.route(text)`` (one call at a time, in one event loop) for each
    kernel-pool size, in alternating blocks of 10 calls so that other work on the machine weighs
    on each size alike."""
    samples = {n: [] for n in counts}

    async def go():
        await router.prepare()
        for _ in range(max(1, runs // 10)):
            for n in counts:
                K.set_threads(n)
                await router.route(text)                    # warm-up after resizing the pool
                for _ in range(10):
                    t = time.perf_counter()
                    await router.route(text)
                    samples[n].append(time.perf_counter() - t)

    before = K.get_threads()
    try:
        asyncio.run(go())
    finally:
        K.set_threads(before)
    return {f"router_threads_{n}": _percentiles(s) for n, s in samples.items()}


class _FixedEncoder:
    """Returns one precomputed vector: the router's own work, without the encoder."""

    def __init__(self, vector):
        self.vector = vector

    def embed(self, texts):
        return np.repeat(self.vector[None], len(texts), axis=0)


def breakdown(router: Router, text: str, runs: int) -> dict:
    """Median milliseconds of one route spent in each part, at the current kernel-pool size. The
    encoder's kernel calls are timed by wrapping them for the duration."""
    enc = router._encoder
    names = ("matmul", "attention", "layernorm", "gelu")
    originals = {name: getattr(K, name) for name in names}
    spent = {name: [] for name in names}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            out = fn(*a, **kw)
            spent[name][-1] += time.perf_counter() - t
            return out
        return wrapper

    wordpiece, forward = [], []
    try:
        for name, fn in originals.items():
            setattr(K, name, timed(name, fn))
        for _ in range(runs + 3):
            for name in names:
                spent[name].append(0.0)
            t0 = time.perf_counter()
            ids = enc.tokenizer.encode(text)
            t1 = time.perf_counter()
            enc._encode_one(ids)
            wordpiece.append(t1 - t0)
            forward.append(time.perf_counter() - t1)
    finally:
        for name, fn in originals.items():
            setattr(K, name, fn)
    med = lambda v: statistics.median(v[3:]) * 1e3   # noqa: E731  (after 3 warm-up runs)
    kernels = {name: med(v) for name, v in spent.items()}

    stub = Router(default_team(), encoder=_FixedEncoder(enc.embed([text])[0]))
    own = latency_sync(lambda: stub.route_sync(text), runs)["p50_ms"]

    async def handoffs():
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            await anyio.to_thread.run_sync(lambda: None)
            samples.append(time.perf_counter() - t)
        return samples

    n_tokens = len(enc.tokenizer.encode(text))
    d = enc.n_embd
    flops = 2 * n_tokens * enc.n_layer * (3 * d * d + d * d + 2 * 4 * d * d)   # the linear layers
    return {
        "kernel_threads": K.get_threads(),
        "tokens": n_tokens,
        "wordpiece_ms": med(wordpiece),
        "kernels_ms": kernels,
        "glue_ms": med(forward) - sum(kernels.values()),       # numpy adds, slicing, Python between kernels
        "forward_ms": med(forward),
        "router_own_ms": own,
        "thread_handoff_ms": _percentiles(asyncio.run(handoffs()))["p50_ms"],
        "matmul_gflops": flops / (kernels["matmul"] / 1e3) / 1e9,
    }


def run(runs: int = 100) -> dict:
    team = default_team()
    load_before = os.getloadavg()
    router = Router(team)
    t = time.perf_counter()
    asyncio.run(router.prepare())
    prepare_s = time.perf_counter() - t
    keyword = KeywordRouter(team)
    sets = {}
    for name in SETS:
        rows = labelled(name)
        (acc, per), (kacc, kper) = accuracy(router, rows), accuracy(keyword, rows)
        sets[name] = {"queries": len(rows), "accuracy": {"router": acc, "keyword": kacc},
                      "per_expert": {"router": per, "keyword": kper}}
    counts = sorted({1, K.cpu_count()})
    latency = latency_by_threads(router, QUERY, runs, counts)
    latency["keyword"] = latency_sync(lambda: keyword.route_sync(QUERY), runs)
    where = {}
    before = K.get_threads()
    try:
        for n in counts:
            K.set_threads(n)
            where[n] = breakdown(router, QUERY, runs)
    finally:
        K.set_threads(before)
    return {
        "machine": machine_facts(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "sets": sets, "query": QUERY, "query_words": len(QUERY.split()), "prepare_s": prepare_s,
        "latency": latency, "breakdown": [_rounded(w) for w in where.values()],
    }


def _rounded(d: dict) -> dict:
    return {k: _rounded(v) if isinstance(v, dict) else round(v, 4) if isinstance(v, float) else v
            for k, v in d.items()}


def markdown(r: dict) -> str:
    m, lat, bs = r["machine"], r["latency"], r["breakdown"]
    lines = [
        "# Router benchmark",
        "",
        f"`python -m livemind.bench.router` on {m['cpu']} ({m['cpus_usable']} usable CPUs, ISA "
        f"{m['isas'][0]}), {m['date']}. Load average {r['load_average_before'][0]:.1f} before, "
        f"{r['load_average_after'][0]:.1f} after: other work shared the machine.",
        "",
        "## Accuracy on the labelled sets (default team)",
        "",
        "`router_queries` was written before the default team's examples and then used to tune them "
        "(and to choose the top-3 score and the threshold): a development set. "
        "`router_queries_holdout` was written after the tuning and never tuned on. The keyword "
        "baseline scores the share of a request's words found in an expert's texts, with the same "
        "language test.",
        "",
        "| set | expert | Router (MiniLM, top-3 mean) | keyword overlap |",
        "| --- | --- | ---: | ---: |",
    ]
    for set_name, st in r["sets"].items():
        for name, (ok, n) in st["per_expert"]["router"].items():
            kok, _ = st["per_expert"]["keyword"][name]
            lines.append(f"| {set_name} | {name} | {ok}/{n} | {kok}/{n} |")
        lines.append(f"| {set_name} | **all ({st['queries']})** | **{st['accuracy']['router']:.1%}** | "
                     f"**{st['accuracy']['keyword']:.1%}** |")
    lines += ["",
              f"## Latency of `await router.route(...)` for a {r['query_words']}-word request "
              f"({bs[0]['tokens']} tokens)", "",
              "After warm-up, one call at a time; the thread counts alternate in blocks of 10 calls.", "",
              "| router | p50 | p90 | calls |", "| --- | ---: | ---: | ---: |"]
    for name, row in lat.items():
        label = "keyword overlap (sync)" if name == "keyword" else \
            f"Router, kernel pool of {name.removeprefix('router_threads_')} thread(s)"
        lines.append(f"| {label} | {row['p50_ms']:.2f} ms | {row['p90_ms']:.2f} ms | {row['runs']} |")
    lines += ["", f"Embedding the team's texts once (`prepare`, encoder load included): {r['prepare_s']:.2f} s.",
              "", "## Where one route's time goes (medians, ms)", "",
              "| part | " + " | ".join(f"{b['kernel_threads']} thread(s)" for b in bs) + " |",
              "| --- |" + " ---: |" * len(bs)]
    def row(label, f):
        lines.append(f"| {label} | " + " | ".join(f(b) for b in bs) + " |")
    row("WordPiece tokenizer", lambda b: f"{b['wordpiece_ms']:.2f}")
    row("matmul kernels", lambda b: f"{b['kernels_ms']['matmul']:.2f} ({b['matmul_gflops']:.0f} GFLOP/s)")
    row("attention kernels", lambda b: f"{b['kernels_ms']['attention']:.2f}")
    row("layernorm + gelu kernels", lambda b: f"{b['kernels_ms']['layernorm'] + b['kernels_ms']['gelu']:.2f}")
    row("numpy glue between kernels (bias adds, residuals, slices, Python)", lambda b: f"{b['glue_ms']:.2f}")
    row("router's own work (scoring, language test, decision)", lambda b: f"{b['router_own_ms']:.2f}")
    row("worker-thread hand-off of `await route()`", lambda b: f"{b['thread_handoff_ms']:.2f}")
    one = bs[0]
    encoder = one["forward_ms"] + one["wordpiece_ms"]
    total = encoder + one["router_own_ms"] + one["thread_handoff_ms"]
    lines += ["", f"At {one['kernel_threads']} thread(s) the encoder (WordPiece and the six-layer forward) is "
              f"{encoder / total:.0%} of the parts' sum ({total:.1f} ms), its matmuls {one['kernels_ms']['matmul'] / total:.0%}; "
              f"the router's own work is {one['router_own_ms']:.2f} ms."]
    ps = {k: v["p50_ms"] for k, v in lat.items() if k.startswith("router_threads_")}
    if len(ps) > 1 and min(ps, key=ps.get) == next(iter(ps)):
        most = max(b["kernel_threads"] for b in bs)
        lines.append(f"One thread was faster than {most}: with other processes on the machine (load average "
                     f"{r['load_average_before'][0]:.1f}), a pool of several threads waits at each of the "
                     "forward's ~50 small kernel calls for a core another process holds (DESIGN.md, \"Cores "
                     "are a budget too\").")
    lines.append("The parts are timed in separate passes, so under a shifting load their sum and the "
                 "end-to-end p50 differ.")
    lines.append("")
    return "\n".join(lines)


def main(out: str | None = "docs/benchmarks", runs: int = 100) -> int:
    result = run(runs)
    for name, st in result["sets"].items():
        acc = st["accuracy"]
        print(f"accuracy on {name} ({st['queries']} requests): Router {acc['router']:.1%}, keyword {acc['keyword']:.1%}")
    for name, row in result["latency"].items():
        print(f"{name:20} p50 {row['p50_ms']:7.2f} ms  p90 {row['p90_ms']:7.2f} ms  ({row['runs']} runs)")
    for b in result["breakdown"]:
        print(f"one route, {b['kernel_threads']} kernel thread(s): wordpiece {b['wordpiece_ms']:.2f} ms, kernels "
              + ", ".join(f"{k} {v:.2f}" for k, v in b["kernels_ms"].items())
              + f" ms, glue {b['glue_ms']:.2f} ms, router {b['router_own_ms']:.2f} ms, "
              f"hand-off {b['thread_handoff_ms']:.2f} ms")
    print(f"load average {result['load_average_before'][0]:.1f} before, {result['load_average_after'][0]:.1f} after")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, "router.json").write_text(json.dumps(result, indent=2) + "\n")
        Path(out, "router.md").write_text(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
