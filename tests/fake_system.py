"""FakeSystem: a fake ``/proc`` and ``/sys/fs/cgroup`` under a temporary folder, for the
MemoryGovernor's ``root``. It writes what the kernel would: meminfo in kB, statm in pages,
cgroup v1 or v2 files (or none), and rewrites them when a test changes a figure."""

from __future__ import annotations

import os
from pathlib import Path

GIB, MIB = 1 << 30, 1 << 20
UNLIMITED_V1 = 9223372036854771712          # what cgroup v1 reports for "no limit"


class FakeSystem:
    """``version`` is "v1", "v2" or None (no cgroup controller); ``limit`` None means the cgroup
    has no memory limit ("max", or v1's huge number); ``cpu`` is (quota_us, period_us) or None."""

    def __init__(self, root: Path, *, version: str | None = None, mem_total: int = 64 * GIB,
                 mem_available: int | None = None, limit: int | None = None, usage: int = 0,
                 cpu: tuple[int, int] | None = None, rss: int = 100 * MIB, path: str = "/app"):
        self.root = Path(root)
        self.version, self.mem_total, self.limit, self.usage, self.cpu, self.rss, self.path = \
            version, mem_total, limit, usage, cpu, rss, path
        self.mem_available = mem_total if mem_available is None else mem_available
        self.write()

    def set(self, **figures) -> None:
        """Changes figures (mem_available=, usage=, limit=, rss=, cpu=) and rewrites the files."""
        for name, value in figures.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            setattr(self, name, value)
        self.write()

    def _put(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def write(self) -> None:
        kb = 1024
        self._put("proc/meminfo", f"MemTotal:       {self.mem_total // kb} kB\n"
                                  f"MemFree:        {self.mem_available // kb} kB\n"
                                  f"MemAvailable:   {self.mem_available // kb} kB\n"
                                  "Buffers:               0 kB\n")
        page = os.sysconf("SC_PAGE_SIZE")
        self._put("proc/self/statm", f"{2 * self.rss // page} {self.rss // page} 1000 100 0 5000 0\n")
        cg = self.path.strip("/")
        if self.version == "v2":
            self._put("proc/self/cgroup", f"0::{self.path}\n")
            self._put("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
            self._put(f"sys/fs/cgroup/{cg}/memory.max", "max\n" if self.limit is None else f"{self.limit}\n")
            self._put(f"sys/fs/cgroup/{cg}/memory.current", f"{self.usage}\n")
            quota = "max 100000" if self.cpu is None else f"{self.cpu[0]} {self.cpu[1]}"
            self._put(f"sys/fs/cgroup/{cg}/cpu.max", quota + "\n")
        elif self.version == "v1":
            self._put("proc/self/cgroup", f"4:memory:{self.path}\n2:cpu,cpuacct:{self.path}\n1:name=systemd:/\n")
            limit = UNLIMITED_V1 if self.limit is None else self.limit
            self._put(f"sys/fs/cgroup/memory/{cg}/memory.limit_in_bytes", f"{limit}\n")
            self._put(f"sys/fs/cgroup/memory/{cg}/memory.usage_in_bytes", f"{self.usage}\n")
            quota, period = (-1, 100000) if self.cpu is None else self.cpu
            self._put(f"sys/fs/cgroup/cpu,cpuacct/{cg}/cpu.cfs_quota_us", f"{quota}\n")
            self._put(f"sys/fs/cgroup/cpu,cpuacct/{cg}/cpu.cfs_period_us", f"{period}\n")
        else:
            self._put("proc/self/cgroup", "0::/\n")
            self._put("sys/fs/cgroup/cgroup.controllers", "")
