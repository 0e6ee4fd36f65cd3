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
