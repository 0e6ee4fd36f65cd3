"""The TOML configuration, and the `livemind` sub-commands on the packaged models: ask (routed and
consensus), chat, models, stats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from serverproc import API_KEY

from livemind.config import LiveMindConfig

EXAMPLE = Path(__file__).parents[2] / "examples" / "livemind.toml"
SMALL = "[pool]\ncontext = 512\n"


def livemind(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livemind", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def test_example_config_parses_and_builds_its_team():
    cfg = LiveMindConfig.load(EXAMPLE)
    mind = cfg.build()
    assert mind.pool.experts == ("general", "coder", "writer")
    assert mind.pool.warm == ("general",) and cfg.server.host == "127.0.0.1"
    assert cfg.strategy("parallel").experts == ["general", "coder"]


def test_defaults_are_the_default_team_on_localhost():
    cfg = LiveMindConfig()
    mind = cfg.build()
    assert mind.pool.experts == ("general", "technical", "coder", "writer", "multilingual")
    assert mind.pool.warm == ("general", "writer")
    assert (cfg.server.host, cfg.server.port, cfg.server.api_key) == ("127.0.0.1", 8000, None)


@pytest.mark.parametrize("text, words", [
    ("[pool]\nmax_loadd = 2\n", "max_loadd"),
    ("[pool]\nwarm = ['nobody']\n", "nobody"),
    ("[server.limits]\nmax_n = 0\n", "max_n"),
    ("[consensus]\nexperts = ['general', 'ghost']\n", "ghost"),
])
def test_bad_config_is_an_error_naming_the_field(text, words):
    with pytest.raises(ValueError, match=words):
        LiveMindConfig.from_toml_text(text)


def test_ask_streams_the_answer_and_says_which_expert_and_why(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL)
    out = livemind("ask", "What is the capital of France?", "--config", str(cfg), "--max-tokens", "12",
                   "--temperature", "0")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert "expert: general" in out.stderr and "closest to" in out.stderr
    assert "completion tokens" in out.stderr


def test_ask_with_a_consensus_shows_each_experts_answer(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL + '[consensus]\nexperts = ["general", "technical"]\nsynthesizer = "general"\n')
    out = livemind("ask", "What is 2 + 2?", "--strategy", "parallel", "--config", str(cfg), "--max-tokens", "8",
                   "--temperature", "0", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert "[general," in out.stderr and "[technical," in out.stderr
    assert "writes one answer from" in out.stderr
    assert out.stdout.strip()


def test_ask_an_unknown_expert_fails_cleanly():
    out = livemind("ask", "hi", "--expert", "ghost")
    assert out.returncode == 1 and "ghost" in out.stderr and "Traceback" not in out.stderr


def test_chat_keeps_the_conversation_until_exit(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(SMALL)
    out = livemind("chat", "--config", str(cfg), "--expert", "general", "--max-tokens", "8", "--temperature", "0",
                   "--quiet", stdin="Hi\nWhat is the capital of France?\n/exit\nnever read\n")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout and len(out.stdout.strip().splitlines()) >= 2


def test_models_lists_packaged_and_configured_models():
    out = livemind("models")
    assert out.returncode == 0
    assert "smollm2-135m-instruct" in out.stdout and "gemma3-270m" in out.stdout
    # each file read for its architecture, types, size and governor budget; the configured team too
    assert "llama, Q4_1" in out.stdout and "gemma3, " in out.stdout and "budget" in out.stdout
    assert "configured (the default team)" in out.stdout and "  coder " in out.stdout
    bad = livemind("models", "install", "no-such-model")
    assert bad.returncode == 1 and "smollm2-135m-instruct" in bad.stderr


def test_stats_reads_a_running_server(server):
    out = livemind("stats", "--url", server.url, "--api-key", API_KEY)
    assert out.returncode == 0, out.stderr
    assert "requests:" in out.stdout and "memory:" in out.stdout and "router: Router" in out.stdout
    denied = livemind("stats", "--url", server.url)
    assert denied.returncode == 1 and "401" in denied.stderr
