"""The random-weight GGUF writer the architecture tests use lives in the package now
(:mod:`livemind.bench.synthetic`, shared with ``livemind bench engine --synthetic``)."""

from livemind.bench.synthetic import BOS, COMMON, LAYOUTS, N_ORDINARY, quantized, write  # noqa: F401
