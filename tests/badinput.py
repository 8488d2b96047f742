"""The bad-input harness: a refused input exits 2 with one stderr line, no traceback, and changes no file.

Each ``test_bad_inputs*.py`` holds a table of cases (one row per bad input) and runs every row through
:func:`refuse` (a command line) or :func:`refuse_call` (the Python API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` for a command (``{tmp}`` stands for the test's folder, ``{run}`` for a finished
    tiny run, where a table provides one), and the words its one-line error must hold."""

    name: str
    argv: tuple[str, ...]
    says: tuple[str, ...]

    def args(self, **places: Path) -> list[str]:
        """``argv`` with each ``{place}`` replaced (other braces, as in YAML values, stay)."""
        argv = list(self.argv)
        for place, path in places.items():
            argv = [arg.replace(f"{{{place}}}", str(path)) for arg in argv]
        return argv


def case(name: str, argv: Iterable[str], *says: str) -> Any:
    """A ``pytest.param`` of a :class:`Case`, with its name as the test id."""
    return pytest.param(Case(name, tuple(argv), says), id=name)


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots``: path -> (size, modification time in ns)."""
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        for path in [root, *root.rglob("*")]:
            stat = path.stat()
            seen[str(path)] = (0 if path.is_dir() else stat.st_size, stat.st_mtime_ns)
    return seen


def refuse(
    main: Callable[[list[str]], Any],
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    *,
    says: Iterable[str] = (),
    watch: Iterable[Path] = (),
) -> str:
    """``main(argv)`` must exit 2 with exactly one line on stderr, holding each of ``says``, and leave every file
    under ``watch`` as it was (nothing written, nothing changed); returns the line."""
    watch = list(watch)
    before = snapshot(*watch)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2, (exit_.value.code, err)
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for words in says:
        assert words in err[0], (words, err[0])
    assert snapshot(*watch) == before, "a refused input wrote or changed files"
    return err[0]


def refuse_call(
    function: Callable[..., Any], *args: Any, error: type[Exception] = ValueError, says: Iterable[str] = (), **kwargs
) -> str:
    """``function(*args, **kwargs)`` must raise ``error`` whose message is one line holding each of ``says``."""
    with pytest.raises(error) as raised:
        function(*args, **kwargs)
    message = str(raised.value)
    assert "\n" not in message.strip(), message
    for words in says:
        assert words in message, (words, message)
    return message
