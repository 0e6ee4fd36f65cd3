"""Parallel consensus: three experts answer at once, then one synthesizes their answers.
Prints each expert's tokens as they stream, the synthesis, and the wall time beside the sum of
the experts' own times.

    python examples/parallel_consensus.py "Why is the sky blue?"
"""

import asyncio
import sys

import livemind as lm


async def main(question):
    pool = lm.ExpertPool(lm.default_team())
    strategy = lm.Parallel(["general", "technical", "coder"], synthesizer="general")
    async with lm.LiveMind(pool) as mind:
        streams = {}
        async for ev in mind.stream(question, strategy=strategy, max_tokens=60, temperature=0):
            if isinstance(ev, lm.Token) and ev.stage == "answer":
                streams[ev.expert] = streams.get(ev.expert, "") + ev.text
            elif isinstance(ev, lm.ExpertDone):
                print(f"\n[{ev.answer.expert}, {ev.answer.seconds:.1f} s] {ev.answer.text.strip()}")
            elif isinstance(ev, lm.ExpertFailed):
                print(f"\n[{ev.expert} failed: {ev.error}]")
            elif isinstance(ev, lm.SynthesisStarted):
                print(f"\n[synthesis by {ev.synthesizer}] ", end="")
            elif isinstance(ev, lm.Token):
                print(ev.text, end="", flush=True)
            elif isinstance(ev, lm.Done):
                r = ev.result
                print(f"\n\nwall {r.seconds:.1f} s; the experts' own times add up to {r.expert_seconds:.1f} s")


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Why is the sky blue?"))
