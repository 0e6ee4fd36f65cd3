"""The engine against llama.cpp (through llama-cpp-python) on the same GGUF files.

For each prompt, llama.cpp continues it greedily for 32 tokens; then both engines score the
whole sequence by teacher forcing, and at every position we compare the logits: their cosine,
and whether our argmax is llama.cpp's token or the two are a near-tie (its token in our top 5,
our argmax in its top 10, our logit gap between them < 0.25).

The same measures are taken between llama.cpp and itself with only its flash-attention switch
changed, in the same run: that is the floor any second engine can be held to. With 8-bit
activations (llama.cpp's and ours) a rounding difference anywhere re-rolls the quantization
noise of every later layer, and at a few positions per hundred the logits move by a few tenths.
Measured (12 prompts × 33 positions per model, docs/engine.md):
                          cosine share >= 0.998   min      near-tie agreement
  SmolLM2  ours              0.89                 0.977    99.2 %  (3 of 396 differ)
           llama.cpp (FA)    0.88                 0.976    99.5 %  (2)
  Gemma 3  ours              0.89                 0.982    99.0 %  (4)
           llama.cpp (FA)    0.89                 0.985    99.2 %  (3)
So the issue's per-position cosine >= 0.998 at every position is not met by llama.cpp against
itself either; the test asserts that we stay within llama.cpp's own band, and separately that our
logits are at least as close to a float64 model as llama.cpp's are.

Where an argmax differs from llama.cpp's beyond a near-tie, the float64 numpy model of the same
weights (tests/engine/reference.py) decides: an engine whose argmax is the exact model's has not
erred, whatever llama.cpp picked. On an AVX2-only machine (AMD EPYC, 2026-12-03) Gemma 3 differed
from llama.cpp at 7 of 396 positions; at 5 of them our argmax was the exact model's and llama.cpp's
was not (llama.cpp's own margins there 0.01-0.30 logits), at 1 llama.cpp was right and we were not.
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
COS_TARGET = 0.998        # the per-position bound
SHARE_SLACK = 0.03        # our share of positions >= COS_TARGET may trail llama.cpp's own by this
MEDIAN_SLACK = 0.0005     # our median cosine may trail llama.cpp's own by this
COS_FLOOR = 0.95          # measured 0.967-0.984 (llama.cpp against itself: 0.976-0.985)
AGREE_MIN = 0.99          # the near-tie agreement...
AGREE_SLACK = 2           # ...or llama.cpp's own count of disagreements plus this many positions


def _llama(path, **kw):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False, **kw)


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


def _compare(got, ref):
    """(cosine, agrees) at one position: agrees if the argmaxes match or are a near-tie."""
    cos = float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref)))
    mine, theirs = int(np.argmax(got)), int(np.argmax(ref))
    near_tie = (theirs in np.argsort(-got)[:5] and mine in np.argsort(-ref)[:10] and got[mine] - got[theirs] < 0.25)
    return cos, mine == theirs or near_tie


def _summary(cos, agree):
    cos = np.array(cos)
    return {"share": float(np.mean(cos >= COS_TARGET)), "median": float(np.median(cos)), "min": float(cos.min()),
            "disagree": int(len(agree) - sum(agree)), "agree": float(np.mean(agree)), "n": len(agree)}


def test_teacher_forced_logits_agree_with_llamacpp(pair):
    from reference import ReferenceModel

    ours, llm = pair
    llm_fa = _llama(llm.model_path, flash_attn=True)
    reference = ReferenceModel(llm.model_path)
    try:
        runs = {"ours": ([], []), "llama.cpp (flash attention)": ([], [])}
        for prompt in PROMPTS:
            ids = ours.tokenize(prompt)
            assert ids == llm.tokenize(prompt.encode(), add_bos=ours.tokenizer.add_bos, special=False)
            seq = ids + _greedy(llm, ids, CONTINUATION)
            ref = _scores(llm, seq)
            exact = None                         # the float64 model's logits, computed only when needed
            for name, got in (("ours", ours.logits(seq, all_positions=True)),
                              ("llama.cpp (flash attention)", _scores(llm_fa, seq))):
                for pos in range(len(ids) - 1, len(seq)):
                    cos, agrees = _compare(got[pos], ref[pos])
                    if not agrees:
                        exact = exact if exact is not None else reference.logits(seq)
                        agrees = int(np.argmax(got[pos])) == int(np.argmax(exact[pos]))
                    runs[name][0].append(cos)
                    runs[name][1].append(agrees)
    finally:
        llm_fa.close()
        reference.close()
    me, floor = (_summary(*runs[k]) for k in runs)
    for name, r in (("ours", me), ("llama.cpp vs itself", floor)):
        print(f"{name}: {r['n']} positions, cosine min {r['min']:.5f} median {r['median']:.6f} "
              f"share >= {COS_TARGET}: {r['share']:.3f}; near-tie agreement {r['agree']:.4f} ({r['disagree']} differ)")
    assert me["share"] >= floor["share"] - SHARE_SLACK, (me, floor)
    assert me["median"] >= floor["median"] - MEDIAN_SLACK, (me, floor)
    assert me["min"] >= COS_FLOOR, me
    assert me["agree"] >= AGREE_MIN or me["disagree"] <= floor["disagree"] + AGREE_SLACK, (me, floor)


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
