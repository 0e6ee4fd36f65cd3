"""The synthetic engine benchmark's report (livemind/bench/engine.py): the memory ceiling it measures
is real, and the table it writes carries each row's ratios, its decode GB/s and that ceiling."""

from __future__ import annotations

import json
import math

from livemind.bench import engine


def test_the_memory_ceiling_is_a_measured_bandwidth():
    gb_s = engine.memory_ceiling(1, mib=32, runs=2)
    assert math.isfinite(gb_s) and 0.1 < gb_s < 10_000


def test_the_report_has_each_rows_ratios_its_bandwidth_and_the_ceiling(tmp_path):
    row = {"family": "llama", "type": "Q4_K_M", "threads": 2, "step_bytes": 80_000_000,
           "livemind": {"prefill_tok_s": 3000.0, "decode_tok_s": 500.0, "ttft_ms": 1.0, "peak_rss_mib": 1.0},
           "llama.cpp": {"prefill_tok_s": 1500.0, "decode_tok_s": 400.0, "ttft_ms": 1.0, "peak_rss_mib": 1.0},
           "ratios": {"prefill_tok_s": 2.0, "decode_tok_s": 1.25}}
    failed = {"family": "qwen2", "type": "Q4_K_M", "threads": 2, "livemind": {"error": "boom"},
              "llama.cpp": {"prefill_tok_s": 1.0, "decode_tok_s": 1.0, "ttft_ms": 1.0, "peak_rss_mib": 1.0}}
    facts = {"cpu": "test CPU", "cpus_usable": 2, "isas": ["scalar"], "date": "today", "rounds": 2,
             "repeats": 3, "shape": engine.SHAPE, "load": (0.0, 0.0, 0.0), "memory_gb_s": [41.0, 39.5]}
    engine.write_synthetic({"facts": facts, "rows": [row, failed]}, tmp_path)
    md = (tmp_path / "engine-synthetic.md").read_text()
    assert "| llama | Q4_K_M | 2 | 500.0 / 400.0 | 1.25× | 40.0 / 32.0 | 3000 / 1500 | 2.00× |" in md
    assert "| qwen2 | Q4_K_M | 2 | error: boom |" in md
    assert "41.0 and 39.5 GB/s" in md
    assert json.loads((tmp_path / "engine-synthetic.json").read_text())["facts"]["memory_gb_s"] == [41.0, 39.5]


def test_a_rows_ratio_is_the_median_of_its_rounds_ratios(tmp_path):
    row = {"family": "llama", "type": "Q4_0", "threads": 2,
           "livemind": {"prefill_tok_s": 3000.0, "decode_tok_s": 500.0},
           "llama.cpp": {"prefill_tok_s": 1500.0, "decode_tok_s": 400.0},
           "ratios": {"prefill_tok_s": 1.9, "decode_tok_s": 1.55}}
    assert engine._synthetic_line(row) == "llama Q4_0: decode 500.0 / 400.0 tok/s (1.55x), prefill 3000 / 1500 (1.90x)"


def test_llama_bench_output_is_read_and_its_absence_is_said(tmp_path, monkeypatch):
    """A fake llama-bench (named as such: a script printing what llama-bench -o json prints) is
    read for pp512 and tg128; with none built, the row says how to build it."""
    fake = tmp_path / "llama-bench"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n"
                    '[{"build_commit": "abc", "n_prompt": 512, "n_gen": 0, "avg_ts": 1500.5},'
                    ' {"build_commit": "abc", "n_prompt": 0, "n_gen": 128, "avg_ts": 99.5}]\nEOF\n')
    fake.chmod(0o755)
    monkeypatch.setenv("LIVEMIND_LLAMA_BENCH", str(fake))
    got = engine._llama_bench("model.gguf", 2, 3)
    assert (got["prefill_tok_s"], got["decode_tok_s"], got["build"]) == (1500.5, 99.5, "abc")
    assert got["command"] == "-m MODEL -t THREADS -p 512 -n 128 -r 3 -o json"
    monkeypatch.delenv("LIVEMIND_LLAMA_BENCH")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    assert engine._llama_bench("model.gguf", 2, 3) == {"error": "llama-bench is not built (scripts/build-llamacpp-tools)"}


def test_rounds_rotate_the_engines_and_rate_each_peer(monkeypatch):
    order = []
    speed = {"livemind": 300.0, "llama.cpp": 150.0, "llama-bench": 100.0}

    def fake_child(engine, path, threads, repeats, batched=True):
        order.append(engine)
        return {"prefill_tok_s": 2 * speed[engine], "decode_tok_s": speed[engine], "ttft_ms": 1.0, "peak_rss_mib": 1.0}

    monkeypatch.setattr(engine, "_child", fake_child)
    monkeypatch.setattr(engine, "_llama_bench", lambda path, t, r: fake_child("llama-bench", path, t, r))
    out = engine._rounds("m.gguf", 2, 3, 1)
    assert order == ["livemind", "llama.cpp", "llama-bench", "llama.cpp", "llama-bench", "livemind",
                     "llama-bench", "livemind", "llama.cpp"]
    assert out["llama.cpp"]["ratios"] == {"prefill_tok_s": 2.0, "decode_tok_s": 2.0}
    assert out["llama-bench"]["ratios"]["decode_tok_s"] == 3.0 and "ratios" not in out["livemind"]


def test_the_packaged_model_report_has_both_peers_and_says_what_was_not_measured(tmp_path):
    ours = {"prefill_tok_s": 5000.0, "decode_tok_s": 290.0, "ttft_ms": 100.0, "peak_rss_mib": 200.0,
            "batched": {"1": 290.0, "4": 800.0, "8": 1000.0}}
    cpp = {"prefill_tok_s": 1000.0, "decode_tok_s": 100.0, "ttft_ms": 500.0, "peak_rss_mib": 300.0,
           "ratios": {"prefill_tok_s": 5.0, "decode_tok_s": 2.9}}
    bench = {"prefill_tok_s": 1200.0, "decode_tok_s": 116.0, "command": "-m x -t 2", "build": "abc",
             "ratios": {"prefill_tok_s": 4.2, "decode_tok_s": 2.5}}
    facts = {"cpu": "test CPU", "cpus_usable": 2, "isas": ["scalar"], "date": "today", "rounds": 3, "repeats": 3,
             "load": (0.1, 0.2, 0.3)}
    rows = [{"model": "m", "threads": 2, "livemind": ours, "llama.cpp": cpp, "llama-bench": bench},
            {"model": "m", "threads": 1, "livemind": ours, "llama.cpp": cpp, "llama-bench": {"error": "not built"}}]
    engine.write({"facts": facts, "rows": rows}, tmp_path)
    md = (tmp_path / "engine.md").read_text()
    assert ("| m | 2 | 290.0 / 100.0 / 116.0 | 2.90×, 2.50× | 5000 / 1000 / 1200 | 5.00×, 4.20× | 100 / 500 | "
            "200 / 300 | 800 (2.8×) / 1000 (3.4×) |") in md
    assert "| m | 1 | 290.0 / 100.0 / – | 2.90×, – |" in md
    assert "- not measured — llama-bench: not built" in md and "`llama-bench -m x -t 2` (build abc)" in md
