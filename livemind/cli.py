"""The ``livemind`` command line. Sub-commands grow with the layers they drive; today:

    livemind bench kernels [--quick] [--threads N] [--repeats N] [--out DIR]
    livemind bench attention-memory
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

    sub.add_parser("info", help="CPU features, the ISA in use, threads")
    return p


def _rerun_without_blas_pins(args: argparse.Namespace, argv: list[str]) -> None:
    env = dict(os.environ)
    pinned = [k for k in _BLAS_PINS if k in env]
    threads = str(args.threads) if getattr(args, "threads", None) else None
    if (not pinned or args.keep_blas_env) and (threads is None or env.get("OPENBLAS_NUM_THREADS") == threads):
        return
    if not args.keep_blas_env:
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
        return 0
    if args.command == "bench" and args.suite == "kernels":
        _rerun_without_blas_pins(args, argv)
        from livemind.bench import kernels

        out = args.out if args.out is not None else (None if args.quick else "docs/benchmarks")
        return kernels.main(quick=args.quick, threads=args.threads, out=out, repeats=args.repeats)
    if args.command == "bench" and args.suite == "attention-memory":
        from livemind.bench import attention_memory

        return attention_memory.main() or 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
