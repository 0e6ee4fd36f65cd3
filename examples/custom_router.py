"""A custom router: any function (messages) -> expert name routes requests.

    python examples/custom_router.py
"""

import asyncio

import livemind as lm


def by_keyword(messages):
    text = messages[-1]["content"].lower()
    if any(w in text for w in ("def ", "python", "code", "bug", "function")):
        return "coder"
    if any(w in text for w in ("poem", "story", "haiku", "once upon")):
        return "writer"
    return "general"


async def main():
    pool = lm.ExpertPool(lm.default_team())
    async with lm.LiveMind(pool, router=by_keyword) as mind:
        for q in ["Fix this Python function: def add(a, b): return a - b", "What is the boiling point of water?"]:
            result = await mind.ask(q, max_tokens=60, temperature=0)
            print(f"[{result.experts[0]} · {result.route.reason}] {result.text.strip()}\n")


if __name__ == "__main__":
    asyncio.run(main())
