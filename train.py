"""Train a brain: ``python train.py --env neuromotor/Walker2d-Walk-v1``. See ``python train.py --help``."""

import sys

from agents.cli.train import train_main

if __name__ == "__main__":
    sys.exit(train_main())
