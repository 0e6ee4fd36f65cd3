"""The ``livemind`` sub-commands that drive the team: ask, chat, models, pull, serve, stats (parsed in
:mod:`livemind.cli`). Answers go to stdout; notes — which expert answered and why, model loads,
each consensus expert's answer, usage — go to stderr, so ``livemind ask ... > answer.txt`` keeps
only the answer."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shlex
import subprocess
import sys
import time

from livemind.config import API_KEY_ENV, LiveMindConfig
from livemind.errors import LiveMindError
from livemind.events import (
    Done,
    ExpertDone,
    ExpertFailed,
    ModelLoaded,
    ModelLoading,
    ModelUnloaded,
    RouteChosen,
    SynthesisStarted,
    Token,
)


def _note(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"· {text}", file=sys.stderr, flush=True)


def _config(args) -> LiveMindConfig:
    config = LiveMindConfig.load(args.config)
    if config.pool.warm is None:   # a one-off question loads only the model it needs
        config.pool.warm = []
    return config


def _sampling(args) -> dict:
    out = {"max_tokens": args.max_tokens}
    if args.temperature is not None:
        out["temperature"] = args.temperature
    if args.seed is not None:
        out["seed"] = args.seed
    return out


async def _answer(args, mind, messages, strategy) -> str:
    """Streams one answer to stdout with notes on stderr; returns its text."""
    streamed, consensus = False, strategy is not None
    async for ev in mind.stream(messages, strategy=strategy, expert=args.expert, **_sampling(args)):
        if isinstance(ev, RouteChosen):
            _note(args, f"expert: {ev.decision.expert} — {ev.decision.reason}")
        elif isinstance(ev, ModelLoading):
            _note(args, f"loading {ev.model.split(':')[1].rsplit('/', 1)[-1] if ':' in ev.model else ev.model} …")
        elif isinstance(ev, ModelLoaded):
            _note(args, f"loaded in {ev.seconds:.1f} s ({ev.bytes / (1 << 20):.0f} MiB)")
        elif isinstance(ev, ModelUnloaded):
            _note(args, f"unloaded a model ({ev.reason})")
        elif isinstance(ev, Token) and (ev.stage == "synthesis" or not consensus):
            print(ev.delta, end="", flush=True)
            streamed = True
        elif isinstance(ev, ExpertDone) and consensus:
            a = ev.answer
            _note(args, f"[{a.expert}, {a.usage.completion_tokens} tokens, {a.seconds:.1f} s]\n{a.text.strip()}\n")
        elif isinstance(ev, ExpertFailed):
            _note(args, f"[{ev.expert} failed] {ev.error}")
        elif isinstance(ev, SynthesisStarted):
            _note(args, f"{ev.synthesizer} writes one answer from {', '.join(ev.experts)}:")
        elif isinstance(ev, Done):
            r = ev.result
            if not streamed:
                print(r.text, end="")
            print(flush=True)
            who = ", ".join(r.experts)
            _note(args, f"{r.strategy} · {who} · {r.usage.prompt_tokens} prompt + {r.usage.completion_tokens} "
                        f"completion tokens · {r.seconds:.1f} s")
            return r.text
    return ""


def _run_team(args, body) -> int:
    try:
        config = _config(args)
        mind = config.build()
        strategy = config.strategy(args.strategy) if getattr(args, "strategy", None) else None

        async def go():
            async with mind:
                return await body(mind, strategy)
        return asyncio.run(go()) or 0
    except (LiveMindError, ValueError, OSError) as exc:
        print(f"livemind {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def ask(args) -> int:
    """``livemind ask "question"``: routed to one expert, or a consensus with ``--strategy``."""
    async def body(mind, strategy):
        await _answer(args, mind, args.question, strategy)
    return _run_team(args, body)


def chat(args) -> int:
    """``livemind chat``: one message a line from stdin; ``/reset`` forgets, ``/exit`` ends."""
    async def body(mind, strategy):
        history: list[dict] = []
        interactive = sys.stdin.isatty()
        while True:
            if interactive:
                print("you> ", end="", file=sys.stderr, flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip() in ("/exit", "/quit"):
                return
            if line.strip() == "/reset":
                history.clear()
                _note(args, "conversation forgotten")
                continue
            if not line.strip():
                continue
            history.append({"role": "user", "content": line.rstrip("\n")})
            try:
                text = await _answer(args, mind, history, strategy)
            except LiveMindError as exc:
                history.pop()
                print(f"livemind chat: {exc}", file=sys.stderr)
                continue
            history.append({"role": "assistant", "content": text})
    return _run_team(args, body)


def models(args) -> int:
    """``livemind models``: the known models and where their files are; ``install NAME`` runs the
    model's pip install."""
    from livemind.models import KNOWN_MODELS

    if getattr(args, "action", None) == "install":
        known = KNOWN_MODELS.get(args.name)
        if known is None:
            print(f"livemind models: no known model {args.name!r} (known: {', '.join(KNOWN_MODELS)})", file=sys.stderr)
            return 1
        cmd = shlex.split(known.install)
        assert cmd[:2] == ["pip", "install"], known.install
        print(f"installing {known.name}: {known.install}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", "pip", "install", "--progress-bar", "on", *cmd[2:]])
        if rc != 0:
            print(f"livemind models: pip failed (exit {rc})", file=sys.stderr)
            return rc
        print("locating the model file (a chunked model is assembled now) …", file=sys.stderr, flush=True)
        try:
            path = known.locate()
        except (ImportError, FileNotFoundError, OSError) as exc:
            print(f"livemind models: installed, but the file is missing: {exc}", file=sys.stderr)
            return 1
        print(f"{known.name}: {path} ({time.perf_counter() - t0:.0f} s)")
        return 0
    from livemind.models import pulled, resolve_model

    cfg = LiveMindConfig.load(args.config)
    context, kv = cfg.pool.context, cfg.pool.kv_dtype
    print(f"packaged (livemind models install NAME); budget: what the governor reserves at context {context}, "
          f"{kv} KV")
    for m in KNOWN_MODELS.values():
        try:
            print(f"  {m.name:<28} {_describe_file(m.locate(), context, kv)}")
        except (ImportError, FileNotFoundError, OSError):
            print(f"  {m.name:<28} not installed — livemind models install {m.name}")
    files = pulled()
    print("pulled (livemind pull REPO[:FILE], in the Hugging Face cache)" + ("" if files else ": none"))
    for repo, name, path in files:
        print(f"  {repo}:{name}\n  {'':<28} {_describe_file(path, context, kv)}")
    print(f"configured ({args.config or 'the default team'})")
    for e in cfg.team():
        if e.backend is not None or e.model is None:
            print(f"  {e.name:<28} {e.backend or 'no model'}")
            continue
        try:
            print(f"  {e.name:<28} {e.model}: {_describe_file(resolve_model(e.model), context, kv)}")
        except LiveMindError as exc:
            print(f"  {e.name:<28} {e.model}: {exc}")
    print("an expert's model may be a packaged name, a GGUF path, or a hub id (owner/repo:file.gguf)")
    return 0


@functools.lru_cache(maxsize=None)
def _describe_file(path, context: int, kv_dtype: str) -> str:
    """Architecture, weight types (most bytes first), size and governor budget of a GGUF file."""
    from livemind.backends import NativeBackend
    from livemind.engine.gguf import GGUFFile

    try:
        backend = NativeBackend(path, context=context, kv_dtype=kv_dtype)
        with GGUFFile(path) as f:
            by_type: dict[str, int] = {}
            for t in f.tensors.values():
                by_type[t.type.name] = by_type.get(t.type.name, 0) + t.nbytes
            arch = f.architecture
            backend._header(f)          # the budget below, from this one read of the header
        types = ", ".join(sorted(by_type, key=by_type.get, reverse=True)[:3])
        size = sum(by_type.values()) / 2**20
        budget = backend.memory_estimate().total / 2**20
        return f"{arch}, {types}, {size:.0f} MiB, budget {budget:.0f} MiB — {path}"
    except LiveMindError as exc:
        return f"cannot be read: {exc} — {path}"


def pull(args) -> int:
    """``livemind pull REPO[:FILE]``: downloads a GGUF file from the hub into its cache."""
    from livemind.models import pull as pull_file

    try:
        path = pull_file(args.spec, revision=args.revision)
    except LiveMindError as exc:
        print(f"livemind pull: {exc}", file=sys.stderr)
        return 1
    print(path)
    print(f"use it as an expert's model: {args.spec if ':' in args.spec else path}", file=sys.stderr)
    return 0


def serve(args) -> int:
    """``livemind serve``: the OpenAI-compatible server on the configured team."""
    try:
        from livemind.server import serve as run
    except ImportError as exc:
        print(f"livemind serve: the server needs its extra ({exc}): pip install 'livemind[server]'", file=sys.stderr)
        return 1
    try:
        config = LiveMindConfig.load(args.config)
    except (ValueError, OSError) as exc:
        print(f"livemind serve: {exc}", file=sys.stderr)
        return 1
    s = config.server
    for field in ("host", "port", "api_key", "log_level"):
        if getattr(args, field) is not None:
            setattr(s, field, getattr(args, field))
    if s.host not in ("127.0.0.1", "localhost", "::1") and s.key() is None:
        print(f"warning: listening on {s.host} with no API key: anyone who can reach it may use it", file=sys.stderr)
    run(config)
    return 0


def stats(args) -> int:
    """``livemind stats``: a running server's figures."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(args.url.rstrip("/") + "/stats")
    key = args.api_key or os.environ.get(API_KEY_ENV)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"livemind stats: cannot read {args.url}/stats: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    srv, pool, gov = data["server"], data["pool"], data["pool"]["governor"]
    mib = 1 << 20
    print(f"requests: {srv['requests']} ({', '.join(f'{k}: {v}' for k, v in srv['requests_by_status'].items()) or 'none'}), "
          f"in flight {srv['in_flight']}, tokens {srv['prompt_tokens']} prompt + {srv['completion_tokens']} completion")
    print(f"models: {pool['loaded']} loaded of at most {pool['max_loaded']}; loads {pool['counters']['loads']}, "
          f"hits {pool['counters']['hits']}, misses {pool['counters']['misses']}, refusals {pool['counters']['refusals']}")
    for key, m in pool["models"].items():
        size = f"{m['estimate_bytes'] / mib:.0f} MiB" if m["estimate_bytes"] else "size unknown"
        print(f"  {m['state']:<9} {', '.join(m['experts']):<34} {size:>10}  in flight {m['in_flight']}")
    print(f"memory: {gov['usage'] / mib:.0f} MiB used of {gov['limit'] / mib:.0f} MiB ({gov['source']}); "
          f"model budget {gov['budget'] / mib:.0f} MiB")
    routes = data["router"]["routes"]
    print(f"router: {data['router']['kind']}; " + (", ".join(f"{e} {n}" for e, n in routes.items()) or "no requests routed"))
    return 0
