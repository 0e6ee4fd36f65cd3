"""The backend tests reuse the server tests' real ``livemind serve`` process (tests/server/serverproc.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
