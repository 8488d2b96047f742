"""Train a brain: ``python train.py --env neuromotor/Walker2d-Walk-v1``. See ``python train.py --help``."""

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

from agents.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
