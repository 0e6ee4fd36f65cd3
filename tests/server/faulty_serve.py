"""``python faulty_serve.py serve ...``: the ``livemind`` command with one fault armed, for
tests/server/test_faults.py. While the file named by ``LIVEMIND_TEST_KILL_ENGINE`` exists, the
next engine step of a model raises an exception the scheduler does not catch (as a crash in the
engine itself would), so that model's engine thread dies in the middle of its generations. The
file is removed as it fires: the model's reload then works. Nothing else is changed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from livemind.cli import main
from livemind.engine import scheduler


class EngineCrash(BaseException):
    """Not an Exception: the scheduler's per-step isolation does not catch it, its thread dies."""


TRIGGER = Path(os.environ["LIVEMIND_TEST_KILL_ENGINE"])
_real_step = scheduler.Scheduler._step


def _step(self) -> None:
    try:
        TRIGGER.unlink()
    except FileNotFoundError:
        return _real_step(self)
    raise EngineCrash("injected by tests/server/faulty_serve.py")


scheduler.Scheduler._step = _step

if __name__ == "__main__":
    sys.exit(main())
