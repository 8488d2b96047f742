"""Measure, film and diagram a brain's gait: ``python evaluate.py RUN_DIR --video``. See ``--help``."""

import sys

from agents.cli.entry import evaluate

if __name__ == "__main__":
    sys.exit(evaluate())
