"""Train a brain: ``python train.py --env neuromotor/Walker2d-Walk-v1``. See ``python train.py --help``."""

import sys

from agents.cli.entry import train

if __name__ == "__main__":
    sys.exit(train())
