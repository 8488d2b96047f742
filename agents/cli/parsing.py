"""The one argument parser and the one error-to-exit wrapper of every command."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from typing import NoReturn

from agents.config import ConfigError
from agents.runs import RunError, Terminated


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors on one line (``prog: error: ...``) and exit code 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(message: str) -> str:
    """``message`` with its lines joined: a user's error is one line."""
    return "; ".join(line.strip() for line in str(message).strip().splitlines() if line.strip())


def os_error(exc: OSError) -> str:
    """A file-system error as ``cannot use PATH: reason``."""
    if exc.filename is None:
        return str(exc)
    return f"cannot use {str(exc.filename)!r}: {exc.strerror or exc}"


def run_command(parser: OneLineParser, body: Callable[[], int]) -> int:
    """Run a command's ``body``: a bad setting, run, file or value ends in one line on stderr and exit code 2,
    Ctrl-C in exit code 130 and SIGTERM in 143 (a trainer has saved a checkpoint by then)."""
    # Ctrl-C must reach us as KeyboardInterrupt even if a parent shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return body()
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        parser.error(os_error(exc))
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))


def positive(parser: OneLineParser, args: argparse.Namespace, *flags: str) -> None:
    """Refuse ``--flag`` values below 1 (``None``, not given, passes)."""
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {value}")


def given_flags(args: argparse.Namespace, flags: tuple[str, ...]) -> list[str]:
    """The command-line spellings of ``flags`` (and ``--set``) that were given."""
    given = [f"--{flag.replace('_', '-')}" for flag in flags if getattr(args, flag) is not None]
    return given + ["--set"] * bool(getattr(args, "set", None))
