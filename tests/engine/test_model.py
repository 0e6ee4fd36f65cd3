"""The native engine on the real packaged models: the model step against the float64 numpy
reference, generation, batching, cancellation and the context limit."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from livemind import ContextLengthError, ModelLoadError
from livemind import kernels as K
from livemind.engine.model import load_model

from reference import ReferenceModel

PROMPTS = ["The capital of France is", "def fibonacci(n):\n    ", "Les fleurs du printemps",
           "1, 2, 3, 4, 5,", "日本の首都は"]
# Per-position logits against the float64 reference. 8-bit activations (as llama.cpp uses) pass
# rounding noise through every layer; llama.cpp itself falls to 0.9945 against the same reference
# at some positions (tests/engine/test_vs_llamacpp.py). Ours over all positions of all prompts on
# Gemma-3 (2026-12-04): min / mean 0.9918 / 0.99908 with the x16 layouts (AVX-512 VNNI), 0.9950 /
# 0.99926 in the file's layout, 0.9956 / 0.99912 on AVX2 and 0.9914 / 0.99916 on the scalar
# reference path: the worst single position moves by ±0.004 when only the float summation order
# changes (the integer sums are the same in every layout), so the floor sits below that spread and
# the mean, taken over every position, is the sharper test.
COS_MIN = 0.990
COS_MEAN_MIN = 0.999
# FP8 (E4M3, 3 mantissa bits) KV against f16 KV, per position. Over all positions of these prompts
# the mean is the measure of FP8's cost (measured 0.9975-0.9984 on scalar, AVX2 and AVX-512); the
# worst single position depends on the ISA's rounding (AVX-512 0.9904, AVX2 0.9782, scalar 0.9784),
# because 8-bit activations amplify any perturbation at a few positions — our own f32 KV against
# f16 KV (2^-11 apart) falls to 0.992 there (docs/engine.md, "How it is checked"). A broken FP8 path
# (a wrong scale or code) gives cosines far below these floors.
FP8_COS_MEAN_MIN = 0.997
FP8_COS_SHARE = (0.99, 0.90)       # at least 90 % of the positions >= 0.99 (measured 95.5-97.7 %)
FP8_COS_FLOOR = 0.97

def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def model(request):
    path = request.getfixturevalue(f"{request.param}_path")
    m = load_model(path, context=1024)
    yield m
    m.close()


@pytest.fixture(scope="module")
def reference(model):
    ref = ReferenceModel(model.file.path)
    yield ref
    ref.close()


def test_logits_match_the_float64_reference(model, reference):
    every = []
    for prompt in PROMPTS:
        ids = model.tokenize(prompt)
        ours = model.logits(ids, all_positions=True)
        ref = reference.logits(ids)
        assert ours.shape == ref.shape == (len(ids), model.config.n_vocab)
        cos = [cosine(a, b) for a, b in zip(ours, ref)]
        assert min(cos) >= COS_MIN, (prompt, cos)
        every += cos
        np.testing.assert_array_equal(model.logits(ids), ours[-1])   # last-position form agrees
    assert np.mean(every) >= COS_MEAN_MIN, every


def test_repacked_weights_give_the_file_layouts_logits(model):
    """On a CPU with an x16 kernel the engine repacks projections at load; the integer sums are
    the same as the file layout's, only the float summation order differs."""
    with load_model(model.file.path, context=256, repack=False) as plain:
        formats = {t.type.name.lower() for t in model.file.tensors.values()}
        if any(K.x16_pays(f) for f in formats if f in K.QUANT_FORMATS):
            assert model._repacked, "a format with a fast x16 kernel was not repacked"
        assert model.memory()["weights"] >= plain.memory()["weights"]
        ids = model.tokenize(PROMPTS[1])
        a, b = model.logits(ids, all_positions=True), plain.logits(ids, all_positions=True)
        assert min(cosine(x, y) for x, y in zip(a, b)) >= 0.999


def test_fp8_kv_halves_memory_and_keeps_logits(model):
    with load_model(model.file.path, context=1024, kv_dtype="fp8") as m8:
        assert m8.memory()["kv"] * 2 == model.memory()["kv"]
        cos = []
        for prompt in PROMPTS:
            ids = model.tokenize(prompt)
            a, b = model.logits(ids, all_positions=True), m8.logits(ids, all_positions=True)
            cos += [cosine(x, y) for x, y in zip(a, b)]
    cos = np.array(cos)
    print(f"fp8 vs f16 ({K.isa()}): {len(cos)} positions, mean {cos.mean():.5f}, min {cos.min():.4f}, "
          f"share >= {FP8_COS_SHARE[0]}: {np.mean(cos >= FP8_COS_SHARE[0]):.3f}")
    assert cos.mean() >= FP8_COS_MEAN_MIN
    assert np.mean(cos >= FP8_COS_SHARE[0]) >= FP8_COS_SHARE[1]
    assert cos.min() >= FP8_COS_FLOOR

def run(coro):
    return asyncio.run(coro)


async def collect(model, prompt, **kw):
    text, events = "", []
    async for ev in model.generate(prompt, **kw):
        text += ev.text
        events.append(ev)
    return text, events


def test_greedy_is_deterministic_and_reports_usage(model):
    text1, ev1 = run(collect(model, PROMPTS[0], max_tokens=12, temperature=0))
    text2, _ = run(collect(model, PROMPTS[0], max_tokens=12, temperature=0))
    assert text1 == text2 and text1.strip()
    last = ev1[-1]
    assert last.finish_reason in ("length", "stop")
    assert last.usage.prompt_tokens == len(model.tokenize(PROMPTS[0]))
    assert last.usage.completion_tokens == len([e for e in ev1 if e.token_id is not None])
    assert last.timings.ttft_s > 0
    # greedy follows the argmax of the logits
    first = next(e.token_id for e in ev1 if e.token_id is not None)
    assert first == int(np.argmax(model.logits(model.tokenize(PROMPTS[0]))))


def test_seed_reproduces_a_sampled_run(model):
    a, _ = run(collect(model, PROMPTS[2], max_tokens=16, temperature=1.0, seed=7))
    b, _ = run(collect(model, PROMPTS[2], max_tokens=16, temperature=1.0, seed=7))
    assert a == b


def test_stop_string_ends_the_text_before_it(model):
    text, _ = run(collect(model, PROMPTS[3], max_tokens=24, temperature=0))
    assert len(text) > 3
    stop = text[2:4]
    cut, events = run(collect(model, PROMPTS[3], max_tokens=24, temperature=0, stop=[stop]))
    assert events[-1].finish_reason == "stop"
    assert cut == text[:text.index(stop)]


def test_concurrent_generations_share_steps_and_match_solo_runs(model):
    solo = [run(collect(model, p, max_tokens=10, temperature=0))[0] for p in PROMPTS[:4]]

    async def together():
        return await asyncio.gather(*[collect(model, p, max_tokens=10, temperature=0) for p in PROMPTS[:4]])

    steps_before = model._scheduler.steps
    results = run(together())
    steps = model._scheduler.steps - steps_before
    assert steps < 4 * 10          # batched: four streams of 10 tokens in fewer than 40 steps
    for (text, _), alone in zip(results, solo):
        # batching changes accumulation order slightly; the first tokens must agree
        assert text[:8] == alone[:8]


def test_breaking_out_frees_the_slot(model):
    async def partial():
        async for _ in model.generate(PROMPTS[1], max_tokens=200, temperature=0):
            break
        for _ in range(100):
            if model.in_flight() == 0:
                return True
            await asyncio.sleep(0.02)
        return False

    assert run(partial())


def test_prompt_longer_than_the_context_fails_before_work(model):
    with load_model(model.file.path, context=16) as small:
        with pytest.raises(ContextLengthError) as err:
            run(collect(small, list(range(20)), max_tokens=4))
        assert err.value.n_ctx == 16
        assert small.in_flight() == 0


def test_bad_arguments_are_typed_errors(model, tmp_path):
    with pytest.raises(ValueError, match="max_tokens"):
        run(collect(model, "hi", max_tokens=0))
    with pytest.raises(ValueError, match="kv_dtype"):
        load_model(model.file.path, kv_dtype="int3")
    with pytest.raises(ValueError, match="token ids"):
        model.logits([model.config.n_vocab])
    with pytest.raises(ModelLoadError):
        load_model(tmp_path / "missing.gguf")
