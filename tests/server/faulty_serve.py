"""``python faulty_serve.py serve ...``: the ``livemind`` command with fault-injection hooks for
tests/server/test_faults.py. They live only in this test script, never in ``livemind serve``, so no
request can set one off. Each hook is a trigger file named by an environment variable read at
start; a test arms it by creating the file (holding part of a model's file name, or nothing for
any model), and the next engine step of that model removes it and fails:

- ``LIVEMIND_TEST_KILL_ENGINE``: the step raises what the scheduler does not catch (as a crash in
  the engine itself would), so that model's engine thread dies in the middle of its generations;
  the model's reload then works.
- ``LIVEMIND_TEST_FAIL_STEP``: the model's forward step raises an ordinary exception, as a failing
  kernel call would: the requests in that step end, the engine thread goes on serving.

One more hook is no trigger file but a pace: ``LIVEMIND_TEST_STEP_DELAY`` (seconds) makes every
forward step of every model take at least that long, so a test of a timeout does not depend on how
fast the machine generates (a fast one finished 400 tokens inside a 2 s timeout).

Write the file elsewhere and rename it into place (:func:`arm`), so that a hook never reads it
half written. Nothing else is changed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from livemind.cli import main
from livemind.engine import model, scheduler

KILL_ENGINE, FAIL_STEP, STEP_DELAY = "LIVEMIND_TEST_KILL_ENGINE", "LIVEMIND_TEST_FAIL_STEP", "LIVEMIND_TEST_STEP_DELAY"


class EngineCrash(BaseException):
    """Not an Exception: the scheduler's per-step isolation does not catch it, its thread dies."""


def arm(trigger: Path, model_name: str = "") -> None:
    """Arms the hook whose trigger file is ``trigger`` for the model whose file name contains
    ``model_name`` (every model: "")."""
    ready = trigger.with_name(trigger.name + ".new")
    ready.write_text(model_name)
    ready.rename(trigger)


def _fires(trigger: Path, model_name: str) -> bool:
    """Whether the armed ``trigger`` is for ``model_name``; if so it is disarmed (removed)."""
    try:
        if trigger.read_text() not in model_name:
            return False
        trigger.unlink()
    except FileNotFoundError:   # not armed, or another model's engine thread took it first
        return False
    return True


def _hook(env: str, cls: type, method: str, fault) -> None:
    """Wraps ``cls.method`` so that it raises ``fault()`` when the trigger of ``env`` fires."""
    if env not in os.environ:
        return
    trigger, real = Path(os.environ[env]), getattr(cls, method)

    def wrapped(self, *args):
        name = (self.model if cls is scheduler.Scheduler else self).name
        if _fires(trigger, name):
            raise fault()
        return real(self, *args)

    setattr(cls, method, wrapped)


def _pace(env: str) -> None:
    """Makes every ``Model.forward`` take at least the seconds that ``env`` names."""
    if env not in os.environ:
        return
    delay, real = float(os.environ[env]), model.Model.forward

    def paced(self, *args, **kwargs):
        time.sleep(delay)
        return real(self, *args, **kwargs)

    model.Model.forward = paced


if __name__ == "__main__":   # armed only here: a test that imports arm() changes nothing
    _hook(KILL_ENGINE, scheduler.Scheduler, "_step", lambda: EngineCrash("injected by tests/server/faulty_serve.py"))
    _hook(FAIL_STEP, model.Model, "forward", lambda: RuntimeError("injected by tests/server/faulty_serve.py"))
    _pace(STEP_DELAY)
    sys.exit(main())
