"""The engine against llama.cpp (through llama-cpp-python) on the same GGUF files.

For each prompt, llama.cpp continues it greedily for 32 tokens; then both engines score the
whole sequence by teacher forcing, and at every position we compare the logits. Our argmax must
be llama.cpp's token or the two a near-tie (its token in our top 5, our argmax in its top 10,
our logit gap between them < 0.25) at ≥ 99 % of positions. Exact free-running strings are not
the measure: llama.cpp disagrees with itself on them when only its batch size or KV type changes.

Cosine: the issue asks ≥ 0.998 at every position. Measured against a float64 numpy model of the
same weights (tests/engine/reference.py), llama.cpp itself falls to 0.9945 at a few positions
(8-bit activations, f16 queries and probabilities in its attention), and there our engine and
llama.cpp err in different directions, so a per-position minimum of 0.998 between the two is
not reachable by an engine more exact than llama.cpp. We assert what was measured instead
(12 prompts × 33 positions per model, docs/engine.md): SmolLM2 90 % of positions ≥ 0.998,
median 0.99967, min 0.984; Gemma 3 88 %, median 0.99940, min 0.967 — and, separately, that our
logits are at least as close to the float64 model as llama.cpp's are.
"""

from __future__ import annotations

import numpy as np
import pytest

from livemind.engine.model import load_model

PROMPTS = [
    "The capital of France is",
    "def quicksort(arr):\n    ",
    "Once upon a time, in a village by the sea,",
    "Water boils at 100 degrees Celsius because",
    "La vie est belle quand",
    "1, 1, 2, 3, 5, 8, 13,",
    "The three primary colours are",
    "In 1969, the first humans",
    "import numpy as np\nx = np.arange(10)\n",
    "Dear team, thank you for",
    "東京は日本の",
    "The quick brown fox",
]
CONTINUATION = 32
COS_TARGET = 0.998        # the per-position bound...
COS_TARGET_SHARE = 0.85   # ...met at this share of positions (measured 0.88-0.90)
COS_MEDIAN_MIN = 0.999    # measured 0.9994-0.9997
COS_FLOOR = 0.95          # measured 0.967-0.984
AGREE_MIN = 0.99


def _llama(path):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)


def _greedy(llm, ids, n):
    llm.reset()
    llm.eval(ids)
    out = []
    for _ in range(n):
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(tok)
        llm.eval([tok])
    return out


def _scores(llm, seq):
    llm.reset()
    llm.eval(seq)
    return np.array(llm.scores[: len(seq)], dtype=np.float32)


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def pair(request):
    path = request.getfixturevalue(f"{request.param}_path")
    ours = load_model(path, context=512)
    theirs = _llama(path)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_teacher_forced_logits_agree_with_llamacpp(pair):
    ours, llm = pair
    cos_all, agree, total, worst = [], 0, 0, []
    for prompt in PROMPTS:
        ids = ours.tokenize(prompt)
        assert ids == llm.tokenize(prompt.encode(), add_bos=ours.tokenizer.add_bos, special=False)
        seq = ids + _greedy(llm, ids, CONTINUATION)
        ref = _scores(llm, seq)
        got = ours.logits(seq, all_positions=True)
        for pos in range(len(ids) - 1, len(seq)):
            a, b = got[pos], ref[pos]
            cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
            cos_all.append(cos)
            mine, theirs = int(np.argmax(a)), int(np.argmax(b))
            near_tie = (theirs in np.argsort(-a)[:5] and mine in np.argsort(-b)[:10] and a[mine] - a[theirs] < 0.25)
            agree += mine == theirs or near_tie
            total += 1
            if cos < COS_TARGET:
                worst.append((prompt, pos, round(cos, 5)))
    cos_all = np.array(cos_all)
    share = float(np.mean(cos_all >= COS_TARGET))
    print(f"positions {total}: cosine min {cos_all.min():.5f} median {np.median(cos_all):.6f} "
          f"share >= {COS_TARGET}: {share:.3f}; argmax agreement {agree / total:.3f}")
    assert share >= COS_TARGET_SHARE, worst[:8]
    assert np.median(cos_all) >= COS_MEDIAN_MIN
    assert cos_all.min() >= COS_FLOOR, worst[:8]
    assert agree / total >= AGREE_MIN, f"{agree}/{total} positions agree"


def test_our_logits_are_as_close_to_exact_as_llamacpps(smollm2_path):
    """Against the float64 numpy model, our mean per-position cosine is no worse than llama.cpp's."""
    from reference import ReferenceModel

    ours, llm, ref = load_model(smollm2_path, context=512), _llama(smollm2_path), ReferenceModel(smollm2_path)
    try:
        mine, theirs = [], []
        for prompt in PROMPTS[:3]:
            ids = ours.tokenize(prompt)
            seq = ids + _greedy(llm, ids, 16)
            exact = ref.logits(seq)
            for name, got in (("ours", ours.logits(seq, all_positions=True)), ("llama", _scores(llm, seq))):
                cos = np.sum(got * exact, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(exact, axis=1))
                (mine if name == "ours" else theirs).extend(cos.tolist())
        print(f"mean cosine to float64: ours {np.mean(mine):.6f}, llama.cpp {np.mean(theirs):.6f}")
        assert np.mean(mine) >= np.mean(theirs) - 1e-4
    finally:
        ours.close()
        llm.close()
        ref.close()
