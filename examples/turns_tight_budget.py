"""Turns under a tight budget: with room for one model at a time, the experts answer one after
another — each sees the answers so far — and the pool swaps models between turns.

    python examples/turns_tight_budget.py "Explain recursion to a child."
"""

import asyncio
import sys

import livemind as lm


async def main(question):
    pool = lm.ExpertPool(lm.default_team(), max_loaded=1, governor=lm.MemoryGovernor(max_ram_fraction=0.9))
    async with lm.LiveMind(pool) as mind:
        async for ev in mind.stream(question, strategy=lm.Turns(["general", "writer"]), max_tokens=60, temperature=0):
            if isinstance(ev, (lm.ModelLoaded, lm.ModelUnloaded)):
                print(f"\n[{type(ev).__name__}: {ev.model}]")
            elif isinstance(ev, lm.ExpertDone):
                print(f"\n[{ev.answer.expert} done]")
            print(ev.text, end="", flush=True)
        print("\n\nresident at the end:", pool.resident())


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Explain recursion to a child."))
