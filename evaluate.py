"""Measure, film and diagram a brain's gait: ``python evaluate.py RUN_DIR --video``. See ``--help``."""

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

from agents.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
