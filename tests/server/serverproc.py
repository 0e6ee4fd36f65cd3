"""A real ``livemind serve`` process for the server tests (used by conftest.py): the default team with a 512-token
context, nothing warm, an API key, and a two-expert consensus (general, technical), on a free
port of 127.0.0.1. Tests drive it with the official ``openai`` client and raw ``httpx``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

API_KEY = "sk-livemind-test"

TEST_CONFIG = """
[pool]
context = 512
warm = []

[consensus]
experts = ["general", "technical"]
synthesizer = "general"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChildServer:
    """A server child process on 127.0.0.1, its output in a log file; ``url`` is its base URL."""

    grace = 10.0   # seconds between terminate and kill

    def _start(self, cmd: list[str], log: Path, env: dict, timeout: float, what: str,
               preexec_fn: Callable[[], None] | None = None) -> None:
        """Starts ``cmd`` in a process group of its own (so that what it leaves behind can be
        found) and returns once its /health answers (fails the test if it never does).
        ``preexec_fn`` runs in the child before it executes ``cmd``."""
        self.log = log
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
                                     process_group=0, preexec_fn=preexec_fn)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{what} exited with {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{what} did not start in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(self.grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


class Server(ChildServer):
    """A ``python -m livemind serve`` child process."""

    def __init__(self, tmp: Path, config: str, *args: str, launcher: list[str] = ("-m", "livemind"),
                 env: dict | None = None, preexec_fn: Callable[[], None] | None = None):
        """``launcher``: what runs the ``livemind`` command (a test script that arms a fault
        first, say); ``env``: more environment variables; ``preexec_fn``: run in the child first
        (to enter a cgroup, say)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = tmp / "livemind.toml"
        path.write_text(config)
        env = {**{k: v for k, v in os.environ.items() if k != "LIVEMIND_API_KEY"}, **(env or {})}
        self._start([sys.executable, *launcher, "serve", "--config", str(path), "--port", str(self.port),
                     "--log-level", "warning", *args], tmp / "server.log", env, 60, "the server", preexec_fn)

    def stats(self, key: str | None = API_KEY) -> dict:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx.get(self.url + "/stats", headers=headers, timeout=10)
        r.raise_for_status()
        return r.json()


def wait_idle(server: Server, timeout: float = 10.0) -> dict:
    """/stats once nothing is in flight (the server's requests, the pool's leases and every
    model's generations, its KV slots and queue)."""
    deadline = time.monotonic() + timeout
    while True:
        s = server.stats()
        busy = s["server"]["in_flight"] + sum(m["in_flight"] + m["generating"] for m in s["pool"]["models"].values())
        if busy == 0 or time.monotonic() > deadline:
            return s
        time.sleep(0.05)
