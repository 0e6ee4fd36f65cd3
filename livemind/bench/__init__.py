"""LiveMind's benchmarks. Each prints its numbers beside a peer measured in the same run and
records them with the method and machine in ``docs/benchmarks/``. Run them through the command
line: ``livemind bench kernels``, ``livemind bench attention-memory``."""
