"""A mixed pool: one expert on LiveMind's own engine in this process, another served by an
OpenAI-compatible server (here a second LiveMind, started by this program on 127.0.0.1; point
BASE_URL at vLLM, llama.cpp's server or Ollama instead), answering one consensus together.

    python examples/mixed_pool.py "Why do leaves change colour in autumn?"
    BASE_URL=http://127.0.0.1:8000/v1 MODEL=general python examples/mixed_pool.py "..."
"""

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


async def main(question: str, base_url: str, model: str):
    experts = [
        lm.Expert("local", model="smollm2-135m-instruct", description="answers on this machine",
                  system_prompt="You are a helpful assistant."),
        lm.Expert("remote", backend=lm.OpenAIBackend(base_url, model), description="answers on a server"),
    ]
    pool = lm.ExpertPool(experts, context=1024)
    async with lm.LiveMind(pool) as mind:
        async for ev in mind.stream(question, strategy=lm.Parallel(["local", "remote"], synthesizer="local"),
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


if __name__ == "__main__":
    question = " ".join(sys.argv[1:]) or "Why do leaves change colour in autumn?"
    base_url, server = os.environ.get("BASE_URL"), None
    if not base_url:
        server, base_url = start_local_server()
    try:
        asyncio.run(main(question, base_url, os.environ.get("MODEL", "general")))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
