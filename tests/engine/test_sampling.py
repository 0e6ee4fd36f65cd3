"""The sampler: greedy, the filter chain and seeds (pure numpy, no model)."""

import numpy as np
import pytest

from livemind.engine.sampling import Sampler, SamplingParams


@pytest.fixture
def logits():
    return np.random.default_rng(1).standard_normal(1000).astype(np.float32) * 3


def test_greedy_and_top_k_1_pick_the_argmax(logits):
    assert Sampler(SamplingParams(temperature=0))(logits, []) == int(np.argmax(logits))
    assert Sampler(SamplingParams(temperature=1.0, top_k=1, seed=3))(logits, []) == int(np.argmax(logits))


def test_a_seed_reproduces_and_draws_stay_inside_the_filters(logits):
    p = SamplingParams(temperature=1.0, top_k=20, top_p=0.9, min_p=0.05, seed=42)
    a = [Sampler(p)(logits, []) for _ in range(3)]
    s = Sampler(p)
    draws = [s(logits, []) for _ in range(200)]
    assert a == [draws[0]] * 3
    top20 = set(np.argsort(-logits)[:20].tolist())
    assert set(draws) <= top20 and len(set(draws)) > 1


def test_repetition_penalty_moves_greedy_off_a_seen_token(logits):
    best = int(np.argmax(logits))
    gap = float(np.sort(logits)[-1] - np.sort(logits)[-2])
    penalised = Sampler(SamplingParams(temperature=0, repetition_penalty=1.0 + 2 * gap / abs(logits[best])))
    assert penalised(logits, [best]) != best


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(min_p=1), dict(top_k=-1),
                                 dict(repetition_penalty=0), dict(stop=("",))])
def test_bad_parameters_are_value_errors(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)
