"""Tokenizer speed: building each packaged model's tokenizer and encoding a 2,000-word text,
LiveMind's pure-Python tokenizers beside llama.cpp's (llama-cpp-python, ``vocab_only``) in the
same run. The GGUF file is opened once outside the timed build (reading Gemma's 262k-string
vocabulary is the GGUF reader's cost, not the tokenizer's).

Encode is timed cold (a fresh tokenizer: no word cached; a third of the words are made up) and warm (the same text again, as a chat
that re-encodes its history is).

    python -m livemind.bench.tokenizer
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path

from livemind.bench._timing import machine_facts, median_seconds
from livemind.engine import GGUFFile, Tokenizer
from livemind.models import gemma3_gguf, smollm2_gguf

# prose, code, numbers and a little of other scripts
_SAMPLE = (
    "The capital of France is Paris, a city of 2,102,650 people on the Seine. "
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    "Grüße aus München; 東京は大きい都市です. It's 3.14159 and we're done!\n"
)
_SYLLABLES = ("ka", "lo", "mi", "ne", "tor", "ven", "sul", "dra", "qui", "ex", "ba", "ri")


def sample_text(words: int = 2000) -> str:
    """``words`` words: the sample above, one word in three replaced by a made-up word, so that
    most words are new to a cold tokenizer (as a user's text is), the same text on every run."""
    rng = random.Random(0)
    base = _SAMPLE.split(" ")
    out = []
    for i in range(words):
        word = base[i % len(base)]
        if i % 3 == 0:
            word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4)))
        out.append(word)
    return " ".join(out)


def run(words: int = 2000) -> dict:
    text = sample_text(words)
    rows = []
    for name, finder in (("smollm2", smollm2_gguf), ("gemma3", gemma3_gguf)):
        path = finder()
        with GGUFFile(path) as f:
            build = median_seconds(lambda: Tokenizer.from_gguf(f), repeats=3, min_time=0)
            colds = []
            for _ in range(3):                     # a fresh tokenizer each time: nothing cached
                tok = Tokenizer.from_gguf(f)
                t0 = time.perf_counter()
                tok.encode(text)
                colds.append(time.perf_counter() - t0)
            cold = statistics.median(colds)
        warm = median_seconds(lambda: tok.encode(text), repeats=3, min_time=0)
        row = {"model": name, "words": words, "tokens": len(tok.encode(text)),
               "build_s": build, "encode_cold_s": cold, "encode_warm_s": warm}
        try:
            import llama_cpp

            llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
            raw = text.encode()
            row["llama_cpp_encode_s"] = median_seconds(lambda: llm.tokenize(raw), repeats=3, min_time=0)
        except ImportError:
            row["llama_cpp_encode_s"] = None
        rows.append(row)
    return {"machine": machine_facts(), "rows": rows}


def main(out: str | None = "docs/benchmarks") -> int:
    result = run()
    print(f"{'model':8} {'tokens':>7} {'build':>8} {'encode cold':>12} {'encode warm':>12} {'llama.cpp':>10}")
    for r in result["rows"]:
        ref = f"{r['llama_cpp_encode_s'] * 1e3:8.1f}ms" if r["llama_cpp_encode_s"] else "       n/a"
        print(f"{r['model']:8} {r['tokens']:7d} {r['build_s'] * 1e3:6.0f}ms {r['encode_cold_s'] * 1e3:10.1f}ms "
              f"{r['encode_warm_s'] * 1e3:10.1f}ms {ref}")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, "tokenizer.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
