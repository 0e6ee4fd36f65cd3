"""``python -m livemind`` is the ``livemind`` command."""

import sys

from livemind.cli import main

sys.exit(main())
