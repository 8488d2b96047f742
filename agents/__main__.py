"""``python -m agents TOOL ...``: the ``neuromotor`` command."""

import sys

from agents.cli.entry import neuromotor

sys.exit(neuromotor())
