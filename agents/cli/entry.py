"""The entry points of ``train.py``, ``evaluate.py``, ``python -m agents`` and the console scripts.

Each imports its command only when called: the imports (torch, Gymnasium, MuJoCo) take seconds, and Ctrl-C during
them, or before the command's own handling begins, ends in exit code 130 without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator

#: The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def neuromotor() -> int:
    """``neuromotor TOOL ...`` (also ``python -m agents``)."""
    with _stop_at_once():
        from agents.cli.main import main  # heavy: imported here, see the module docstring
    return _run(main)


def train() -> int:
    """``train.py`` / ``neuromotor-train``."""
    with _stop_at_once():
        from agents.cli.train import train_main  # heavy: imported here, see the module docstring
    return _run(train_main)


def evaluate() -> int:
    """``evaluate.py`` / ``neuromotor-evaluate``."""
    with _stop_at_once():
        from agents.cli.evaluate import evaluate_main  # heavy: imported here, see the module docstring
    return _run(evaluate_main)


@contextlib.contextmanager
def _stop_at_once() -> Iterator[None]:
    """Ctrl-C in the block exits 130 at once: nothing is under way yet, and a ``KeyboardInterrupt`` raised inside a
    library's import could be swallowed by its ``except:`` and the command run on. Afterwards Ctrl-C raises
    ``KeyboardInterrupt`` again."""
    signal.signal(signal.SIGINT, lambda *_: os._exit(INTERRUPTED))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(command: Callable[[], int]) -> int:
    try:
        return command()
    except KeyboardInterrupt:  # before the command's own handling (run_command) began
        return INTERRUPTED
