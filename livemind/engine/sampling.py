"""Choosing the next token from logits: greedy at temperature 0, otherwise the usual chain
(repetition penalty → top-k → temperature → top-p → min-p) and a draw from a seeded generator,
so a fixed seed reproduces a run.

Every parameter is checked to be one the sampler can compute with: finite, in range, and a
temperature of either 0 (greedy) or at least :data:`MIN_TEMPERATURE`; logits that are not finite
(a broken model) raise instead of drawing from NaN probabilities."""

from __future__ import annotations

import math
from numbers import Integral, Real

from dataclasses import dataclass, field

import numpy as np
import numpy.random  # noqa: F401 -- numpy imports it on first use: 7 ms in some request's time to first token


MIN_TEMPERATURE = 1e-3     # smallest temperature above 0; anything below samples as greedy would
SEED_RANGE = (-(1 << 63), 1 << 64)   # int64 (OpenAI's seeds) and uint64 both accepted


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. Defaults follow llama.cpp's: temperature 0.8, top-k 40, top-p 0.95,
    min-p 0.05, no repetition penalty.

    >>> SamplingParams(temperature=0).greedy
    True
    """

    temperature: float = 0.8
    top_k: int = 40                  # 0: no limit
    top_p: float = 0.95              # 1.0: no limit
    min_p: float = 0.05              # 0.0: no limit
    repetition_penalty: float = 1.0  # 1.0: off; > 1 discourages tokens seen in the last window
    repetition_window: int = 64
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        numbers = {"temperature": self.temperature, "top_p": self.top_p, "min_p": self.min_p,
                   "repetition_penalty": self.repetition_penalty}
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        for name in ("top_k", "repetition_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise ValueError(f"{name} must be an integer")
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)
                                 or not SEED_RANGE[0] <= seed < SEED_RANGE[1]):
            raise ValueError("seed must be an integer in the int64 or uint64 range")
        checks = [
            (self.temperature == 0 or self.temperature >= MIN_TEMPERATURE,
             f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE}"),
            (self.top_k >= 0, "top_k must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (0 <= self.min_p < 1, "min_p must be in [0, 1)"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0"),
            (self.repetition_window >= 0, "repetition_window must be >= 0"),
            (all(isinstance(s, str) and s for s in self.stop), "stop must be non-empty strings"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class Sampler:
    """Per-sequence sampling state: the generator (seeded) and the recent tokens."""

    def __init__(self, params: SamplingParams):
        self.params = params
        # a negative int64 seed names the same generator as its two's-complement uint64
        self.rng = np.random.default_rng(None if params.seed is None else int(params.seed) % (1 << 64))

    def __call__(self, logits: np.ndarray, recent: list[int]) -> int:
        p = self.params
        penalise = p.repetition_penalty != 1.0 and recent and p.repetition_window
        if p.greedy and not penalise:
            best = int(np.argmax(logits))                                  # no copy of the vocabulary
            return _finite(best, logits[best])
        x = logits.astype(np.float64, copy=True)                           # (vocab,)
        if penalise:
            seen = np.unique(np.asarray(recent[-p.repetition_window:]))
            vals = x[seen]
            x[seen] = np.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if p.greedy:
            best = int(np.argmax(x))
            return _finite(best, x[best])
        if 0 < p.top_k < len(x):
            keep = np.argpartition(-x, p.top_k - 1)[:p.top_k]
        else:
            keep = np.arange(len(x))
        z = x[keep] / p.temperature
        if not np.isfinite(z).all():
            raise FloatingPointError("the model's logits are not finite (NaN or inf)")
        order = np.argsort(-z, kind="stable")
        keep, z = keep[order], z[order]
        probs = np.exp(z - z[0])
        probs /= probs.sum()
        n = len(probs)
        if p.top_p < 1.0:
            n = min(n, int(np.searchsorted(np.cumsum(probs), p.top_p) + 1))
        if p.min_p > 0.0:
            n = min(n, max(1, int(np.count_nonzero(probs >= p.min_p * probs[0]))))
        probs = probs[:n] / probs[:n].sum()
        return int(keep[self.rng.choice(n, p=probs)])


def _finite(token: int, value) -> int:
    """``token`` if its logit is finite: the argmax of logits with a NaN or inf in them is one."""
    if not math.isfinite(value):
        raise FloatingPointError("the model's logits are not finite (NaN or inf)")
    return token
