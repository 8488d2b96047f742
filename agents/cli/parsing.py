"""The one argument parser and the one error-to-exit wrapper of every command."""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
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


def non_negative(parser: OneLineParser, args: argparse.Namespace, *flags: str) -> None:
    """Refuse ``--flag`` values below 0 (``None``, not given, passes)."""
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and value < 0:
            parser.error(f"--{flag.replace('_', '-')} must be >= 0, got {value}")


def in_range(
    flag: str, values: Iterable[float], low: float = -math.inf, high: float = math.inf, what: str = "numbers"
) -> None:
    """Raise ``ValueError`` unless each of ``values`` (given as ``flag``) is a finite number in ``[low, high]``."""
    for value in values:
        if not (math.isfinite(value) and low <= value <= high):
            if math.isinf(low) and math.isinf(high):
                valid = f"finite {what}"
            elif math.isinf(high):
                valid = f"finite {what} >= {low:g}"
            else:
                valid = f"{what} in [{low:g}, {high:g}]"
            raise ValueError(f"{flag} takes {valid}, got {value:g}")


def check_output(
    flag: str, path: Path, suffixes: tuple[str, ...] = (), what: str = "", *, folder: bool = False
) -> None:
    """Raise ``ValueError`` now, before any work, if ``flag``'s output ``path`` lacks one of ``suffixes`` (writing
    ``what``) or cannot be written: a folder where a file goes (or a file where a ``folder`` goes), or no writable
    folder above it. Writes nothing: missing folders are made when the output is written."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        valid = ", ".join(suffixes[:-1]) + " or " * (len(suffixes) > 1) + suffixes[-1]
        raise ValueError(f"{flag} writes {what}: give a path ending in {valid}, got {str(path)!r}")
    if path.exists() and path.is_dir() != folder:
        raise ValueError(f"{flag} {str(path)!r} is a {'file' if folder else 'folder'}; give a "
                         f"{'folder' if folder else 'file'} path")  # fmt: skip
    start = path if folder else path.parent
    above = next(p for p in (start.absolute(), *start.absolute().parents) if p.exists())
    if not above.is_dir():
        raise ValueError(f"cannot use {str(path)!r} for {flag}: {str(above)!r} is a file, not a folder")
    try:
        _probe(above)
    except OSError as exc:
        raise ValueError(f"cannot use {str(path)!r} for {flag}: cannot write in {str(above)!r} "
                         f"({exc.strerror or exc})") from None  # fmt: skip


def _probe(folder: Path) -> None:
    """Create a file in ``folder`` and drop it: an unnamed one where the system allows (Linux's ``O_TMPFILE``), so
    the folder does not change at all."""
    unnamed = getattr(os, "O_TMPFILE", 0)
    if unnamed:
        try:
            os.close(os.open(folder, unnamed | os.O_WRONLY, 0o600))
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR):  # EISDIR: a kernel without O_TMPFILE
                raise
    # A file system without unnamed files (procfs, some network mounts): a named one, removed at once.
    fd, name = tempfile.mkstemp(dir=folder, prefix=".probe.")
    os.close(fd)
    os.unlink(name)


def given_flags(args: argparse.Namespace, flags: tuple[str, ...]) -> list[str]:
    """The command-line spellings of ``flags`` (and ``--set``) that were given."""
    given = [f"--{flag.replace('_', '-')}" for flag in flags if getattr(args, flag) is not None]
    return given + ["--set"] * bool(getattr(args, "set", None))
