"""The memory account is exact and memory is flat over a run, on the real models.

Each case runs in a fresh process, so that its resident set starts from a quiet baseline: load a
model, fill every KV slot (the concurrent generations and the one ``logits()`` uses) to nearly the
full context, holding their pages, and compare the process's peak growth (VmHWM after resetting
it) with the plan the governor budgets. Before that, more generations than there are slots run several times over: the resident set
after each round must not grow, since a finished generation hands its KV pages back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

TOLERANCE = 0.10          # the bound: estimate within 10 % of the measured growth
PROBE = textwrap.dedent('''
    import asyncio, gc, json, sys
    import numpy as np
    from livemind.engine import memory
    from livemind.engine.model import Model

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    path, kv, ctx, n_seq = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    gc.collect()
    base = status("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")          # VmHWM := VmRSS
    m = Model(path, context=ctx, kv_dtype=kv, n_seq=n_seq, threads=1)
    ids = [int(x) for x in np.random.default_rng(0).integers(100, 1000, ctx - 2)]

    async def one(prompt, n):
        async for _ in m.generate(prompt, max_tokens=n, temperature=0):
            pass

    async def fill():
        await asyncio.gather(*[one(ids, 1) for _ in range(n_seq)])

    async def round_():                                       # more generations than slots
        await asyncio.gather(*[one(ids[: 20 + 9 * i], 4) for i in range(2 * n_seq)])

    rounds = []
    for r in range(3):
        asyncio.run(round_())
        m.logits(ids[:50])
        gc.collect()
        rounds.append(status("VmRSS") - base)
    memory.KVCache.release = lambda *a: None                  # now hold every slot's pages: the most there is
    asyncio.run(fill())
    m.logits(ids)
    peak = status("VmHWM") - base
    print(json.dumps({"peak": peak, "plan": m.memory(), "rounds": rounds}))
''')


@pytest.fixture(scope="module")
def paths(smollm2_path, gemma3_path):
    return {"smollm2": smollm2_path, "gemma3": gemma3_path}


@pytest.mark.parametrize("kv", ["f16", "fp8", "f32"])
@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_the_plan_is_the_measured_peak_and_memory_stays_flat(paths, name, kv):
    out = subprocess.run([sys.executable, "-c", PROBE, str(paths[name]), kv, "256", "2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 1 << 20
    total = sum(r["plan"].values())
    print(f"{name} {kv}: plan {total / mib:.1f} MiB {({k: round(v / mib, 1) for k, v in r['plan'].items()})}, "
          f"measured peak {r['peak'] / mib:.1f} MiB, after rounds {[round(x / mib, 1) for x in r['rounds']]} MiB")
    assert abs(total - r["peak"]) <= TOLERANCE * r["peak"]
    # a finished generation's KV pages are back: each round ends where the first did, and well
    # below the full-KV peak
    assert max(r["rounds"]) - r["rounds"][0] <= 4 * mib
    assert r["rounds"][-1] <= r["peak"] - 0.5 * r["plan"]["kv"]
