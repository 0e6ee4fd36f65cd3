"""The prefix cache: KV that earlier generations computed is taken up by later ones.

When a generation ends, its KV slot keeps what it holds — the K/V of its prompt and of the tokens
it generated, at positions 0..n — and the cache remembers those token ids. A new request takes
the free slot whose ids share the longest prefix with its prompt and prefills only the rest: turn
k of a chat re-sends turns 1..k-1, whose KV is still there. When a running generation holds a
longer match than any free slot (two requests on one long document), its first positions are
copied into the new request's slot, which costs a memory copy instead of a forward pass. This is
llama.cpp's slot prompt cache, matched on token ids across every slot as vLLM's automatic prefix
caching matches blocks; with the engine's one contiguous region per slot, a match is a prefix of
a slot, never a set of blocks.

A slot with no match is taken least recently used first, so what is evicted is what has waited
longest. The slots' memory is counted in the model's estimate already (every slot at the full
context, :mod:`livemind.engine.memory`), so keeping it never exceeds what the governor allowed;
under memory pressure the pool hands the pages of cached slots back before it unloads a model
(:meth:`Model.trim_prefix_cache`).

Reuse is exact: K and V of a position depend only on the tokens up to it, and the engine computes
a row the same way whatever batch it sits in, so greedy output with and without the cache is the
same (tests/engine/test_prefix_cache.py).

The engine thread alone calls :meth:`PrefixCache.pick`, :meth:`hold` and :meth:`forget`, under
the scheduler's lock; :meth:`stats` may be read from anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# a running generation's KV is copied only for a match at least this long: below it, computing
# the tokens costs about what copying them does
MIN_COPY = 32


@dataclass(frozen=True)
class PrefixStats:
    """Counters since the model loaded. ``lookups``: requests that looked for a prefix; ``hits``:
    those that found one; ``reused_tokens``: prompt tokens they did not prefill (``copied_tokens``
    of them copied from a running generation); ``evictions``: cached prefixes dropped (a slot
    taken for an unrelated prompt, or handed back under memory pressure); ``cached_tokens``:
    tokens held in free slots now."""

    lookups: int = 0
    hits: int = 0
    reused_tokens: int = 0
    copied_tokens: int = 0
    evictions: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True)
class Pick:
    """Where a request goes: ``slot`` to run in, ``reuse`` prompt tokens whose KV is ready there
    once ``source``'s first ``reuse`` positions are copied into it (``source == slot``: nothing to
    copy)."""

    slot: int
    reuse: int
    source: int
    extent: int        # positions the slot held before (written once: its pages may be resident)


_EMPTY = np.zeros(0, np.int32)


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else n


class PrefixCache:
    """What each of ``n_slots`` KV slots holds while it is free, and the choice of slot for a new
    request."""

    def __init__(self, n_slots: int):
        self._held = [_EMPTY] * n_slots      # ids whose K/V fill positions 0..len of each free slot
        self._used = [0] * n_slots           # when each was last held (a counter), for LRU
        self._clock = 0
        self._counts = dict(lookups=0, hits=0, reused_tokens=0, copied_tokens=0, evictions=0)

    def pick(self, prompt: np.ndarray, free: list[int], running: list[tuple[int, np.ndarray]]) -> Pick:
        """The free slot for ``prompt`` (``free`` non-empty) and how much of it is reused: the free
        slot with the longest match, else the least recently used one; a running sequence
        (``running``: its slot and the ids its KV holds) is copied from when it matches at least
        MIN_COPY tokens more. At least the prompt's last token is always left to compute (its
        logits start the generation)."""
        limit = len(prompt) - 1
        best, match = min(free, key=lambda s: self._used[s]), 0
        for s in free:
            n = min(common_prefix(self._held[s], prompt), limit)
            if n > match:
                best, match = s, n
        source = best
        for s, ids in running:
            n = min(common_prefix(ids, prompt), limit)
            if n >= match + MIN_COPY:
                source, match = s, n
        self._counts["lookups"] += 1
        if match:
            self._counts["hits"] += 1
            self._counts["reused_tokens"] += match
            if source != best:
                self._counts["copied_tokens"] += match
        extent = len(self._held[best])
        if extent > match:
            self._counts["evictions"] += 1
        self._held[best] = _EMPTY            # in use: what it holds is the request's now
        return Pick(best, match, source, extent)

    def hold(self, slot: int, ids: np.ndarray) -> None:
        """``slot`` is free again and holds the K/V of ``ids`` at positions 0..len(ids)."""
        self._clock += 1
        self._held[slot], self._used[slot] = np.asarray(ids, np.int32), self._clock

    def forget(self, slot: int) -> int:
        """``slot`` holds nothing reusable (its generation failed, or its pages are handed back);
        returns how many positions it held."""
        n = len(self._held[slot])
        if n:
            self._counts["evictions"] += 1
        self._held[slot] = _EMPTY
        return n

    def oldest(self, free: list[int]) -> list[int]:
        """The free slots that hold something, least recently used first."""
        return sorted((s for s in free if len(self._held[s])), key=lambda s: self._used[s])

    def held(self, slot: int) -> int:
        return len(self._held[slot])

    def stats(self, free: list[int]) -> PrefixStats:
        return PrefixStats(**self._counts, cached_tokens=sum(len(self._held[s]) for s in free))
