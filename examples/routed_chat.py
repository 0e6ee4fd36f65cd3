"""Routed chat: each question goes to the expert whose description and examples fit it best.

    python examples/routed_chat.py "Write a haiku about the sea" "def fib(n):" "¿Qué hora es en Tokio?"
"""

import asyncio
import sys

import livemind as lm


async def main(questions):
    pool = lm.ExpertPool(lm.default_team(), max_loaded=5, idle_ttl=300)
    async with lm.LiveMind(pool, router=lm.Router(pool)) as mind:
        for q in questions:
            print(f"\n>>> {q}")
            async for ev in mind.stream(q, max_tokens=80, temperature=0):
                if isinstance(ev, lm.RouteChosen):
                    d = ev.decision
                    print(f"[{d.expert}: {d.reason}]")
                elif isinstance(ev, lm.ModelLoaded):
                    print(f"[loaded {ev.model} in {ev.seconds:.1f} s]")
                print(ev.text, end="", flush=True)
            print()
        print("\n", pool.stats())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["What is the capital of France?", "Write a Python function that reverses a string.",
                                      "Once upon a time, in a kingdom by the sea,"]))
