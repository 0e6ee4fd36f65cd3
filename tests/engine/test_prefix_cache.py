"""The prefix cache (livemind.engine.prefix): which slot a request takes and how much of its prompt
is already there, then on the real model: a chat's later turns prefill only their new tokens and
answer exactly as without the cache, a running generation's prompt is copied for a second request,
and the kept KV is handed back on demand."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from livemind.engine.model import load_model
from livemind.engine.prefix import MIN_COPY, PrefixCache, common_prefix


def ids(*xs) -> np.ndarray:
    return np.array(xs, np.int32)


# -- the choice of slot (no model) -------------------------------------------------------------

def test_common_prefix():
    assert common_prefix(ids(1, 2, 3), ids(1, 2, 4, 5)) == 2
    assert common_prefix(ids(1, 2), ids(1, 2, 3)) == 2
    assert common_prefix(ids(), ids(1)) == 0
    assert common_prefix(ids(9), ids(1)) == 0


def test_the_free_slot_with_the_longest_match_is_taken():
    c = PrefixCache(3)
    c.hold(0, ids(1, 2, 9))
    c.hold(1, ids(1, 2, 3, 4))
    c.hold(2, ids(7))
    p = c.pick(ids(1, 2, 3, 4, 5), [0, 1, 2], [])
    assert (p.slot, p.reuse, p.source, p.extent) == (1, 4, 1, 4)
    s = c.stats([0, 2])
    assert (s.lookups, s.hits, s.reused_tokens, s.evictions, s.cached_tokens) == (1, 1, 4, 0, 4)


def test_the_prompts_last_token_is_always_computed():
    c = PrefixCache(1)
    c.hold(0, ids(1, 2, 3))
    assert c.pick(ids(1, 2, 3), [0], []).reuse == 2   # its logits start the generation


def test_without_a_match_the_least_recently_used_slot_is_taken_and_what_it_held_counts_as_evicted():
    c = PrefixCache(3)
    for slot in (2, 0, 1):
        c.hold(slot, ids(slot + 10, 5))
    p = c.pick(ids(99, 98), [0, 1, 2], [])
    assert (p.slot, p.reuse, p.extent) == (2, 0, 2)
    assert c.stats([0, 1]).evictions == 1 and c.stats([0, 1]).hits == 0


def test_a_running_sequence_is_copied_from_only_when_it_holds_enough_more():
    c = PrefixCache(2)
    prompt = np.arange(100, dtype=np.int32)
    c.hold(0, prompt[:10])
    short = c.pick(prompt, [0], [(1, prompt[:10 + MIN_COPY - 1])])
    assert (short.slot, short.reuse, short.source) == (0, 10, 0)
    c.hold(0, prompt[:10])
    long = c.pick(prompt, [0], [(1, prompt[:10 + MIN_COPY])])
    assert (long.slot, long.reuse, long.source) == (0, 10 + MIN_COPY, 1)
    assert c.stats([]).copied_tokens == 10 + MIN_COPY


def test_forget_and_oldest():
    c = PrefixCache(3)
    c.hold(1, ids(1))
    c.hold(0, ids(2, 3))
    assert c.oldest([0, 1, 2]) == [1, 0]          # slot 2 holds nothing
    assert c.forget(0) == 2 and c.held(0) == 0
    assert c.stats([0, 1, 2]).evictions == 1


# -- on the real model -------------------------------------------------------------------------

def _split(n: int, first: int, step: int) -> list[int]:
    """Chunk lengths summing to n: ``first``, then ``step`` at a time (the rest last)."""
    out = [min(first, n)]
    while sum(out) < n:
        out.append(min(step, n - sum(out)))
    return out


@pytest.mark.parametrize("model", ["smollm2_path", "gemma3_path"])
@pytest.mark.parametrize("words", [20, 600])
def test_a_tokens_logits_are_the_same_bits_in_a_prefill_chunk_and_in_decode_steps(model, words, request):
    """What makes reuse exact: the step is batch-invariant. 600 words take the sequence past 512
    positions, where a decode step splits its keys between the threads and Gemma-3's sliding
    window (512) starts to slide."""
    with load_model(request.getfixturevalue(model), context=2048) as m:
        text = " ".join(["The quick brown fox jumps over the lazy dog, and then it ran far away into the woods."]
                        * (words // 18 + 1))
        ids = np.array(m.tokenize(text), np.int32)
        n = len(ids)

        def last_logits(chunks):
            pos, out = 0, None
            for c in chunks:
                out = m.forward(ids[pos:pos + c], np.arange(pos, pos + c, dtype=np.int32), np.zeros(c, np.int32))
                pos += c
            m.release_slot(0, n)
            return out[-1]

        whole = last_logits(_split(n, 256, 256))
        decoded_tail = _split(n - 9, 256, 256) + [1] * 9   # the last nine as decode steps
        for chunks in (decoded_tail, _split(n, 5, 256), _split(n, 3, 17), _split(n, 1, 256)):
            assert np.array_equal(last_logits(chunks), whole), chunks[:4]


async def _answer(m, prompt, n=24):
    out, last = [], None
    async for ev in m.generate(prompt, max_tokens=n, temperature=0):
        if ev.token_id is not None:
            out.append(ev.token_id)
        last = ev
    return out, last


def test_a_chats_later_turns_reuse_its_history_and_answer_exactly_as_without(smollm2_path):
    questions = ["Name three colours of the rainbow.", "Which of them is warmest?", "Write a haiku about it."]

    async def chat(m):
        history, answers, cached = [{"role": "system", "content": "You are a helpful assistant."}], [], []
        for q in questions:
            history.append({"role": "user", "content": q})
            out, last = await _answer(m, history)
            answers.append(out)
            cached.append(last.usage.cached_tokens)
            history.append({"role": "assistant", "content": m.detokenize(out)})
        return answers, cached, len(m.prompt_ids(history[:-1]))

    with load_model(smollm2_path, context=2048, prefix_cache=False) as off:
        want, none, _ = asyncio.run(chat(off))
        assert off.prefix_stats() is None
    with load_model(smollm2_path, context=2048) as on:
        got, cached, last_prompt = asyncio.run(chat(on))
        stats = on.prefix_stats()
    assert got == want                       # greedy: the same tokens with and without
    assert none == [0, 0, 0]
    assert cached[0] == 0 and all(c > 20 for c in cached[1:]), cached
    # the last turn prefilled only what the history did not already hold
    assert last_prompt - cached[2] < 40, (last_prompt, cached)
    assert stats.hits == 2 and stats.reused_tokens == sum(cached) and stats.cached_tokens > 0


def test_a_running_generations_prompt_is_copied_for_a_second_request(smollm2_path):
    # plain text, no chat template: the first goes on listing items (no end of turn) while the
    # second, which shares its start, arrives
    document = " ".join(f"Item {i} is a {['red', 'green', 'blue'][i % 3]} box." for i in range(60))
    first, second = document, document + " Of all these, the last item is"

    async def both(m):
        stream = m.generate(first, max_tokens=1000, temperature=0)   # long enough to outlast the second
        await stream.__anext__()             # the first is running: its prompt's K/V are in its slot
        b = await _answer(m, second)
        await stream.aclose()                # cancels it
        return b

    with load_model(smollm2_path, context=2048, prefix_cache=False) as off:
        want, _ = asyncio.run(_answer(off, second))
    with load_model(smollm2_path, context=2048) as on:
        got, last = asyncio.run(both(on))
        stats = on.prefix_stats()
    assert got == want
    assert stats.copied_tokens >= MIN_COPY and last.usage.cached_tokens == stats.copied_tokens


def test_the_kept_kv_is_handed_back_on_demand(smollm2_path):
    with load_model(smollm2_path, context=2048) as m:
        prompt = "The quick brown fox jumps over the lazy dog. " * 8
        asyncio.run(_answer(m, prompt))
        held = m.prefix_stats().cached_tokens
        assert held > 0
        freed = m.trim_prefix_cache(1 << 40)
        assert freed == held * m.kv_bytes_per_position
        assert m.prefix_stats().cached_tokens == 0
        _, last = asyncio.run(_answer(m, prompt))
        assert last.usage.cached_tokens == 0  # nothing left to reuse


@pytest.mark.parametrize("n", [1, 3])
def test_the_same_prompt_again_reuses_all_but_its_last_token(smollm2_path, n):
    with load_model(smollm2_path, context=2048) as m:
        prompt = m.tokenize("Once upon a time, in a small village by the sea,")
        runs = [asyncio.run(_answer(m, prompt, 16)) for _ in range(n + 1)]
    assert all(out == runs[0][0] for out, _ in runs)
    assert [last.usage.cached_tokens for _, last in runs] == [0] + [len(prompt) - 1] * n


def test_a_generation_beside_others_is_the_generation_alone(smollm2_path):
    """Batch invariance as a user sees it: greedy output does not depend on what runs beside it."""
    prompts = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village by the sea,"]

    async def together(m):
        return await asyncio.gather(*[_answer(m, p, 32) for p in prompts])

    with load_model(smollm2_path, context=2048, prefix_cache=False) as m:
        alone = [asyncio.run(_answer(m, p, 32))[0] for p in prompts]
        beside = [out for out, _ in asyncio.run(together(m))]
    assert beside == alone

