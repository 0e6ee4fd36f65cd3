"""``livemind bench latency --quick`` runs every part on the real models and writes its report: the
fresh-slot times, the growing chat whose second turn reuses the first's KV only with the prefix
cache on, and the default team from a cold start (routed, each expert, Parallel and Turns)."""

from __future__ import annotations

import json

from livemind.bench import latency


def test_the_quick_latency_run_measures_and_reports_every_part(tmp_path):
    assert latency.main(quick=True, out=str(tmp_path)) == 0
    r = json.loads((tmp_path / "latency.json").read_text())
    one, fresh = r["fresh_slots"]          # at 1 thread, then at the run's 2
    assert (one["threads"], fresh["threads"]) == (1, 2)
    assert len(fresh["ttft_ms"]) == latency.FRESH_SLOTS + 1 and all(t > 0 for t in fresh["ttft_ms"])
    assert fresh["fresh_ms"] > 0 and fresh["reused_ms"] > 0
    (chat,) = r["chat"]
    first, second = chat["turns"]
    assert first["on"]["cached_tokens"] == first["off"]["cached_tokens"] == 0
    assert second["on"]["cached_tokens"] > 0 and second["off"]["cached_tokens"] == 0
    assert second["on"]["prompt_tokens"] == second["off"]["prompt_tokens"] > first["on"]["prompt_tokens"]
    team = r["team"]
    assert team["routed_cold"]["load_s"] > 0 and team["routed_warm"]["load_s"] == 0   # the model stayed loaded
    assert set(team["experts"]) == {"general", "technical", "coder", "writer", "multilingual"}
    assert team["parallel"]["synthesis_ttft_ms"] > team["parallel"]["ttft_ms"] > 0
    ba = r["before_after"]
    assert all(ba[k]["workload_s"] > 0 for k in ("off", "on"))
    md = (tmp_path / "latency.md").read_text()
    assert "- load average (1, 5, 15 min) at the start" in md
    assert "## Fresh KV slots" in md and "| smollm2-135m-instruct | 4096 | 1 |" in md
    assert f"| 2 | {second['on']['prompt_tokens']} | {second['on']['cached_tokens']} |" in md
    assert "## The default team, as `livemind ask` runs it" in md and "| parallel |" in md
    assert "## Before / after" in md and "| off |" in md and "| on |" in md
    assert (tmp_path / "latency.png").stat().st_size > 10_000   # matplotlib: the bench extra scripts/install installs
