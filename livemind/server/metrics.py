"""The server's own counters, and the Prometheus text format of them with the pool's and the
governor's figures (GET /metrics). Reading them never loads a model."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ServerCounters:
    """Counts since the app started. ``in_flight`` is the requests being answered now."""

    in_flight: int = 0
    requests: Counter = field(default_factory=Counter)        # (model, status) -> count
    prompt_tokens: int = 0
    completion_tokens: int = 0
    routes: Counter = field(default_factory=Counter)          # expert -> routed requests
    disconnects: int = 0

    def finished(self, model: str, status: int | str) -> None:
        self.requests[(model, str(status))] += 1

    def as_dict(self) -> dict:
        return {"in_flight": self.in_flight, "disconnects": self.disconnects,
                "requests": sum(self.requests.values()),
                "requests_by_status": dict(_by_status(self.requests)),
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "routes": dict(self.routes)}


def _by_status(requests: Counter) -> Counter:
    out: Counter = Counter()
    for (_, status), n in requests.items():
        out[status] += n
    return out


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Text:
    def __init__(self):
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_: str, samples) -> None:
        self.lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")


def prometheus(counters: ServerCounters, pool_stats) -> str:
    """The exposition text (version 0.0.4) of the server counters and a :class:`PoolStats`."""
    t = _Text()
    t.metric("livemind_requests_total", "counter", "Chat completion requests answered, by model and HTTP status.",
             [({"model": m, "status": s}, n) for (m, s), n in sorted(counters.requests.items())])
    t.metric("livemind_requests_in_flight", "gauge", "Requests being answered now.", [({}, counters.in_flight)])
    t.metric("livemind_client_disconnects_total", "counter", "Requests whose client went away before the end.",
             [({}, counters.disconnects)])
    t.metric("livemind_tokens_total", "counter", "Tokens processed, by kind.",
             [({"kind": "prompt"}, counters.prompt_tokens), ({"kind": "completion"}, counters.completion_tokens)])
    t.metric("livemind_routes_total", "counter", "Requests the router sent to each expert.",
             [({"expert": e}, n) for e, n in sorted(counters.routes.items())])
    c = pool_stats.counters
    t.metric("livemind_model_loads_total", "counter", "Model loads that succeeded.", [({}, c.loads)])
    t.metric("livemind_model_load_failures_total", "counter", "Model loads that failed.", [({}, c.load_failures)])
    t.metric("livemind_model_unloads_total", "counter", "Model unloads, by reason.",
             [({"reason": r}, n) for r, n in c.unloads.model_dump().items()])
    t.metric("livemind_pool_hits_total", "counter", "Requests that found their model loaded.", [({}, c.hits)])
    t.metric("livemind_pool_misses_total", "counter", "Requests that had to load or wait for their model.",
             [({}, c.misses)])
    t.metric("livemind_governor_refusals_total", "counter", "Loads the memory governor refused.", [({}, c.refusals)])
    t.metric("livemind_models_resident", "gauge", "Models loaded now.", [({}, pool_stats.loaded)])
    t.metric("livemind_models_max_loaded", "gauge", "The cap on resident models.", [({}, pool_stats.max_loaded)])
    t.metric("livemind_model_loaded", "gauge", "1 for each model loaded now, 0 otherwise.",
             [({"model": k}, int(m.state == "loaded")) for k, m in sorted(pool_stats.models.items())])
    t.metric("livemind_model_in_flight", "gauge", "Generations running on each model.",
             [({"model": k}, m.in_flight) for k, m in sorted(pool_stats.models.items())])
    # the prefix cache of each loaded model that has one; its counters start when the model loads
    cached = sorted((k, m.prefix_cache) for k, m in pool_stats.models.items() if m.prefix_cache is not None)
    for field, kind, help_ in (
            ("lookups", "counter", "Requests that looked for their prompt's start in the prefix cache."),
            ("hits", "counter", "Requests that found part of their prompt in the prefix cache."),
            ("reused_tokens", "counter", "Prompt tokens taken from the prefix cache instead of prefilled."),
            ("cached_tokens", "gauge", "Tokens whose KV free slots keep for reuse now.")):
        t.metric(f"livemind_prefix_cache_{field}" + ("_total" if kind == "counter" else ""), kind, help_,
                 [({"model": k}, getattr(p, field)) for k, p in cached])
    g = pool_stats.governor
    t.metric("livemind_memory_limit_bytes", "gauge", "Memory this process may use (cgroup or machine).",
             [({}, g.limit)])
    t.metric("livemind_memory_budget_bytes", "gauge", "Bytes the governor lets models take.", [({}, g.budget)])
    t.metric("livemind_memory_usage_bytes", "gauge", "Memory in use (cgroup or machine).", [({}, g.usage)])
    if g.process is not None:
        t.metric("livemind_process_resident_bytes", "gauge", "This process's resident memory.", [({}, g.process)])
    return "\n".join(t.lines) + "\n"
