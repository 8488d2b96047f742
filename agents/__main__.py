"""``python -m agents TOOL ...``: the ``neuromotor`` command."""

import sys

from agents.cli.main import main

sys.exit(main())
