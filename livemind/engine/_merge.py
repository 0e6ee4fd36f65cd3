"""The merge loop shared by byte-level BPE and SentencePiece: join adjacent symbols, best pair first.

Both of llama.cpp's tokenizers keep a priority queue of adjacent pairs that form a known token,
pop the best, merge it, and queue the pairs the merge creates; a popped pair whose sides changed
since it was queued is skipped. The best pair has the lowest rank (BPE: the merge's line in the
file; SentencePiece: minus the merged token's score), ties going to the leftmost pair. That is the
same as "merge the best current pair, one at a time" — not GPT-2's "merge every occurrence of the
best pair at once", which differs when a merge creates a pair ranked better than its own.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heapify, heappop, heappush


def merge_pairs(symbols: list[str], rank: Callable[[str, str], float | None]) -> list[str]:
    """Merges adjacent ``symbols`` in priority order; ``rank(left, right)`` is the pair's rank
    (lower merges first) or None when the two do not merge. Returns the merged symbols in order.

    >>> merge_pairs(list("abc"), lambda l, r: {("a", "b"): 0, ("ab", "c"): 1}.get((l, r)))
    ['abc']
    """
    n = len(symbols)
    if n < 2:
        return symbols
    text = list(symbols)                 # (n,) current text of symbol i; "" once merged into its left
    nxt = list(range(1, n + 1))          # (n,) index of the next live symbol, n at the end
    nxt[-1] = -1
    prv = list(range(-1, n - 1))         # (n,) index of the previous live symbol, -1 at the start
    heap = []                            # (rank, left, right, merged length)
    for i in range(n - 1):
        r = rank(text[i], text[i + 1])
        if r is not None:
            heap.append((r, i, i + 1, len(text[i]) + len(text[i + 1])))
    heapify(heap)
    while heap:
        _, left, right, size = heappop(heap)
        lt, rt = text[left], text[right]
        # symbols only grow, so equal lengths mean neither side changed since the pair was queued
        if not lt or not rt or len(lt) + len(rt) != size:
            continue
        text[left], text[right] = lt + rt, ""
        after = nxt[right]
        nxt[left] = after
        if after >= 0:
            prv[after] = left
        before = prv[left]
        if before >= 0:
            r = rank(text[before], text[left])
            if r is not None:
                heappush(heap, (r, before, left, len(text[before]) + len(text[left])))
        if after >= 0:
            r = rank(text[left], text[after])
            if r is not None:
                heappush(heap, (r, left, after, len(text[left]) + len(text[after])))
    return [t for t in text if t]
