"""``livemind pull`` and hub ids as models, against a local HTTP server that speaks the part of the
Hugging Face hub's API that huggingface_hub downloads through (there is no hub on these
machines): the repository tree (``/api/models/REPO/tree/REV``) and files
(``/REPO/resolve/REV/FILE``, HEAD for the metadata, GET with byte ranges). The file served is the
real SmolLM2 GGUF; every command runs in a subprocess with its own ``HF_HOME`` and
``HF_ENDPOINT``, as a user's shell would."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves ``repos`` ({repo: {file: path}}). ``stall_first_get``: the first download of a file
    sends that many bytes, then sets ``stalled`` and hangs until ``release`` (so that a test can
    kill the client mid-download); ``bad_sha``: advertise a wrong sha256."""

    def __init__(self, repos: dict[str, dict[str, Path]], *, stall_first_get: int | None = None, bad_sha=False):
        self.repos, self.stall, self.bad_sha = repos, stall_first_get, bad_sha
        self.stalled, self.release = threading.Event(), threading.Event()
        self.ranges: list[str] = []
        self._sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for files in repos.values() for p in files.values()}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._file(body=False)

            def do_GET(self):
                if self.path.startswith("/api/models/"):
                    return self._tree()
                self._file(body=True)

            def _tree(self):
                repo = self.path[len("/api/models/"):].split("/tree/")[0]
                files = hub.repos.get(repo)
                if files is None:
                    return self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                entries = [{"type": "file", "path": name, "size": p.stat().st_size, "oid": "0" * 40,
                            "lfs": {"size": p.stat().st_size, "oid": hub._sha[p], "pointerSize": 134}}
                           for name, p in files.items()]
                self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

            def _file(self, body: bool):
                parts = self.path.split("?")[0].lstrip("/").split("/")
                repo, name = "/".join(parts[:2]), "/".join(parts[4:])
                path = hub.repos.get(repo, {}).get(name) if parts[2:3] == ["resolve"] else None
                if path is None:
                    return self._send(404, b"", {"X-Error-Code": "EntryNotFound"})
                data = path.read_bytes()
                sha = "f" * 64 if hub.bad_sha else hub._sha[path]
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                           "X-Linked-Size": str(len(data)), "Accept-Ranges": "bytes"}
                start = 0
                if body and self.headers.get("Range"):
                    hub.ranges.append(self.headers["Range"])
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                if not body:
                    return self._send(200, b"", {**headers, "Content-Length": str(len(data))}, head=True)
                chunk = data[start:]
                self.send_response(206 if start else 200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(chunk)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if hub.stall is not None:
                    cut, hub.stall = hub.stall, None
                    self.wfile.write(chunk[:cut])
                    self.wfile.flush()
                    hub.stalled.set()
                    hub.release.wait(60)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

            def _send(self, code, payload, headers, head=False):
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub_env(tmp_path):
    def make(hub: FakeHub | None, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_HOME=str(tmp_path / "hf"), LIVEMIND_CACHE=str(tmp_path / "lm"), HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_DISABLE_XET="1", **extra)
        if hub is not None:
            env["HF_ENDPOINT"] = hub.url
        return env
    return make


def _run(env: dict, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "livemind", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


ASK = """
import asyncio, sys
from livemind.models import resolve_model
from livemind.engine import load_model
path = resolve_model(sys.argv[1] if len(sys.argv) > 1 else {spec!r})
with load_model(path, context=256) as m:
    async def go():
        return "".join([ev.text async for ev in m.generate("The capital of France is", max_tokens=4, temperature=0)])
    print(path); print(asyncio.run(go()))
"""


def test_pull_downloads_verifies_and_the_hub_id_becomes_a_model(smollm2_path, hub_env, tmp_path):
    hub = FakeHub({"someone/smollm2-gguf": {"SmolLM2-135M-Instruct.Q4_1.gguf": smollm2_path}})
    try:
        env = hub_env(hub)
        spec = "someone/smollm2-gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
        got = _run(env, "pull", spec)
        assert got.returncode == 0, got.stderr
        path = Path(got.stdout.strip().splitlines()[-1])
        assert path.read_bytes() == smollm2_path.read_bytes() and path.is_relative_to(tmp_path / "lm")
        # the id resolves from the cache with the hub gone and offline: a real model answers; a second pull downloads nothing
        hub.close()
        hub = None
        asked = _run(hub_env(None, HF_HUB_OFFLINE="1"), code=ASK.format(spec=spec))
        assert asked.returncode == 0, asked.stderr
        assert Path(asked.stdout.splitlines()[0]) == path and "Paris" in asked.stdout
        listed = _run(hub_env(None, HF_HUB_OFFLINE="1"), "models")
        assert listed.returncode == 0, listed.stderr
        assert "someone/smollm2-gguf:SmolLM2-135M-Instruct.Q4_1.gguf" in listed.stdout and "llama, Q4_1" in listed.stdout
        # pulling again offline returns the cached file (and the repo-only id finds the same one);
        # a file not in the cache is refused, naming the offline setting
        for again in (spec, "someone/smollm2-gguf"):
            repull = _run(hub_env(None, HF_HUB_OFFLINE="1"), "pull", again)
            assert repull.returncode == 0 and Path(repull.stdout.strip().splitlines()[-1]) == path, repull.stderr
        missing = _run(hub_env(None, HF_HUB_OFFLINE="1"), "pull", "someone/other:x.gguf")
        assert missing.returncode == 1 and "HF_HUB_OFFLINE is set and the file is not in the cache" in missing.stderr
    finally:
        if hub is not None:
            hub.close()


def test_an_interrupted_pull_resumes_where_it_stopped(smollm2_path, hub_env):
    hub = FakeHub({"someone/m": {"m.gguf": smollm2_path}}, stall_first_get=25_000_000)   # past its 10 MB write chunks
    try:
        env = hub_env(hub)
        first = subprocess.Popen([sys.executable, "-m", "livemind", "pull", "someone/m"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert hub.stalled.wait(120), "the download never started"
        time.sleep(1.0)                                         # the client writes what it received
        first.kill()                                            # as a user's Ctrl-C or a lost shell would
        first.communicate()
        hub.release.set()
        got = _run(env, "pull", "someone/m")                    # the one GGUF file of the repository
        assert got.returncode == 0, got.stderr
        assert Path(got.stdout.strip().splitlines()[-1]).read_bytes() == smollm2_path.read_bytes()
        assert hub.ranges and int(hub.ranges[-1].split("=")[1].split("-")[0]) > 0, hub.ranges
    finally:
        hub.release.set()
        hub.close()


def test_a_checksum_mismatch_is_an_error_and_leaves_no_file(smollm2_path, hub_env, tmp_path):
    hub = FakeHub({"someone/m": {"m.gguf": smollm2_path}}, bad_sha=True)
    try:
        got = _run(hub_env(hub), "pull", "someone/m:m.gguf")
        assert got.returncode == 1 and "checksum mismatch" in got.stderr, got.stderr
        assert not list((tmp_path / "lm").rglob("m.gguf*"))
    finally:
        hub.close()


def test_ambiguous_missing_and_malformed_ids_say_what_to_do(smollm2_path, hub_env, tmp_path):
    hub = FakeHub({"someone/two": {"a.gguf": smollm2_path, "b.gguf": smollm2_path}})
    try:
        env = hub_env(hub)
        got = _run(env, "pull", "someone/two")
        assert got.returncode == 1 and "2 GGUF files; name one as someone/two:FILE (a.gguf, b.gguf)" in got.stderr
        got = _run(env, "pull", "someone/two:c.gguf")
        assert got.returncode == 1 and "download failed" in got.stderr
        got = _run(env, "pull", "someone/two:../../etc/passwd.gguf")
        assert got.returncode == 1 and "not a hub id" in got.stderr
        # not downloaded: resolving says which pull brings it, and touches no network
        got = _run(hub_env(None, HF_HUB_OFFLINE="1"), code=ASK.format(spec="someone/two:a.gguf"))
        assert got.returncode == 1 and "livemind pull someone/two:a.gguf" in got.stderr
    finally:
        hub.close()
