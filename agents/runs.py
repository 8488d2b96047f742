"""Run directories: the files a run writes and reads back, each written atomically, and who owns them.

A run directory holds ``config.yaml`` (the resolved settings), ``command.txt``, ``checkpoints/``, ``time.json``,
and once finished ``model.zip``, ``vecnormalize.pkl`` and ``summary.json``. Every file is written to a temporary
name beside its final one and renamed into place, so a kill mid-write leaves the previous version (or nothing),
never a truncated file under the final name. One process at a time writes a run: it holds an advisory lock on
``.lock`` (which names its pid), and SIGTERM stops it as Ctrl-C does, with a checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import pickle
import re
import shlex
import shutil
import signal
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from agents.config import ConfigError, TrainConfig, load_yaml

CHECKPOINT_PREFIX = "ckpt"
_CHECKPOINT = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)_steps\.zip$")
#: Members every SB3 model archive holds.
_MODEL_MEMBERS = ("data", "policy.pth")
#: The advisory lock of a run directory; it holds the pid of the process that owns the run.
LOCK_FILE = ".lock"
#: What a temporary file of :func:`atomic_open` or :func:`atomic_path` is called.
_PARTIAL = ".*.partial*"
#: Folders of a run whose files are the run's own (not another run's, as a chain's ``chain-N/`` are).
_RUN_FOLDERS = (".", "checkpoints", "best", "eval")
#: What a training run leaves before its first checkpoint; starting it again from step 0 clears them.
_EARLY_OUTPUTS = ("curriculum.json", "time.json", "eval", "best", "tb")


class RunError(ValueError):
    """A run directory or model file that cannot be used (missing, incomplete, corrupt, already finished)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, Slurm, Ray, systemd, a closed terminal), raised where it lands so that a run stops as
    on Ctrl-C: with a checkpoint."""


def _raise_terminated(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the checkpoint being saved
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``); outside the main thread,
    where Python cannot take signals, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Run directories this process owns, and how many nested owners each has.
_OWNED: dict[Path, int] = {}


@contextlib.contextmanager
def own_run(run_dir: Path) -> Iterator[None]:
    """Own ``run_dir`` (creating it) for the block: a second process is refused with a ``RunError`` naming this
    one's pid. Re-entrant within a process. Once owned, temporary files left by a killed writer are removed."""
    run_dir = Path(run_dir)
    key = run_dir.resolve()
    if key in _OWNED:
        _OWNED[key] += 1
        try:
            yield
        finally:
            _OWNED[key] -= 1
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunError(
            f"{str(run_dir)!r} is being written by another process (pid {holder}); wait for it to end or stop it"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        for folder in _RUN_FOLDERS:
            for stale in (run_dir / folder).glob(_PARTIAL):
                stale.unlink(missing_ok=True)
        _OWNED[key] = 1
        yield
    finally:
        _OWNED.pop(key, None)
        os.close(fd)  # closing the descriptor releases the lock


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds trained weights (a checkpoint or a final model), which a new run must not mix
    with; a folder with only a config (a run stopped before it trained) may be started again."""
    run_dir = Path(run_dir)
    return (run_dir / "model.zip").exists() or bool(checkpoint_steps(run_dir))


def clear_early_outputs(run_dir: Path) -> None:
    """Remove what a run that never reached a checkpoint left (its time, evaluations, logs), before it starts
    again from step 0."""
    for name in _EARLY_OUTPUTS:
        path = Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``, on an error it is removed."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` with the same suffix (for writers that pick a format by it), renamed to
    ``path`` on a clean exit and removed on an error."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def copy_file(source: Path, target: Path) -> Path:
    """``shutil.copy2`` of ``source`` onto ``target``, atomically."""
    with atomic_path(target) as partial:
        shutil.copy2(source, partial)
    return Path(target)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (NumPy scalars as floats)."""
    return write_text(path, json.dumps(data, indent=2, default=float) + "\n")


def save_model(model: BaseAlgorithm, path: Path) -> Path:
    """``model.save`` to ``path``, atomically."""
    with atomic_open(path, "wb") as f:
        model.save(f)
    return Path(path)


def save_vecnormalize(env: VecNormalize, path: Path) -> Path:
    """``env.save`` (its statistics and settings, without the envs) to ``path``, atomically."""
    with atomic_open(path, "wb") as f:
        pickle.dump(env, f)
    return Path(path)


def read_vecnormalize(path: Path) -> VecNormalize:
    """The normalisation statistics saved in ``path``; a missing, truncated or foreign file is a ``RunError``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            stats = pickle.load(f)
    except FileNotFoundError:
        raise RunError(f"{str(path)!r} does not exist") from None
    except Exception as exc:  # unpickling garbage can raise almost anything
        raise RunError(f"{str(path)!r} is not a readable vecnormalize file ({type(exc).__name__}: {exc})") from None
    if not isinstance(stats, VecNormalize):
        raise RunError(f"{str(path)!r} holds a {type(stats).__name__}, not VecNormalize statistics")
    return stats


def load_vecnormalize(path: Path, venv: VecEnv) -> VecNormalize:
    """``VecNormalize.load`` with one-line errors: the statistics of ``path`` around ``venv``."""
    stats = read_vecnormalize(path)
    stats.set_venv(venv)
    return stats


def model_problem(path: Path) -> str | None:
    """Why ``path`` is not a loadable SB3 model archive (truncated, not a zip, members missing), or ``None``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in _MODEL_MEMBERS if m not in names]
            if missing:
                return f"is damaged or not a model archive (it lacks {', '.join(missing)})"
            bad = archive.testzip()
            return None if bad is None else f"is damaged ({bad} is corrupt)"
    except FileNotFoundError:
        return "does not exist"
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"is damaged or not a model archive ({exc})"


def default_run_dir(config: TrainConfig, root: Path = Path("runs")) -> Path:
    """``runs/<env>__<algo>__s<seed>__<YYYYmmdd-HHMMSS>``: sortable, and safe as a folder name."""
    env = re.sub(r"[^A-Za-z0-9_.-]+", "-", config.env_id)
    return root / f"{env}__{config.algo}__s{config.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def save_run_config(config: TrainConfig, run_dir: Path) -> None:
    """Write the resolved settings into ``run_dir/config.yaml`` (creating the folder)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))


def load_run_config(run_dir: Path) -> TrainConfig:
    """The resolved settings saved in a run directory."""
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if run_dir.is_file():
        folder = str(run_dir.parent)
        raise RunError(f"{str(run_dir)!r} is a file, not a run directory; give the run's folder (such as {folder!r})")
    if not run_dir.is_dir():
        raise RunError(f"run directory {str(run_dir)!r} does not exist")
    if not path.is_file():
        raise RunError(f"{str(run_dir)!r} is not a run directory: it has no config.yaml")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise RunError(f"{path} is not valid YAML{where} ({problem}); restore it or start a new run") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} does not hold a mapping of settings")
    try:
        return TrainConfig.from_dict(data, source=str(path))
    except ConfigError as exc:
        raise RunError(str(exc)) from None


def append_command(run_dir: Path, command: list[str]) -> None:
    """Add a command line to the run's ``command.txt`` (every start and resume, in order)."""
    path = run_dir / "command.txt"
    before = path.read_text() if path.is_file() else ""
    write_text(path, before + shlex.join(command) + "\n")


def _read_time(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "time.json"
    if not path.is_file():
        return {"training_seconds": 0.0}
    try:
        data = json.loads(path.read_text())
        seconds = data["training_seconds"]
        marks = {int(steps): float(at) for steps, at in data.get("at_steps", {}).items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    for name, value in [("training_seconds", seconds), *((f"at_steps[{k}]", v) for k, v in marks.items())]:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
            raise RunError(f"{path} is damaged ({name} is {value!r}, not a number of seconds)")
    return {"training_seconds": float(seconds), "at_steps": marks}


def training_seconds(run_dir: Path) -> float:
    """The run's training time so far (``time.json``; 0 before any); a damaged file is a ``RunError`` naming it."""
    return _read_time(run_dir)["training_seconds"]


def seconds_at(run_dir: Path, steps: int) -> float:
    """The run's training time when it reached ``steps``: the time recorded with that checkpoint, so that a resume
    after a kill does not count the lost work since (0 at step 0; the total where nothing was recorded there)."""
    if steps == 0:
        return 0.0
    data = _read_time(run_dir)
    return data.get("at_steps", {}).get(steps, data["training_seconds"])


def checkpoint_seconds(run_dir: Path, steps: int) -> float | None:
    """The training time recorded with the checkpoint of ``steps`` (``None`` where none was, or time.json is
    unreadable)."""
    try:
        return _read_time(run_dir).get("at_steps", {}).get(steps)
    except RunError:
        return None


def record_seconds(run_dir: Path, seconds: float, steps: int | None = None) -> None:
    """Write the run's training time so far to ``time.json``; with ``steps``, also as the time of the checkpoint of
    that step count (forgetting marks past it, which belonged to work a resume discarded)."""
    marks = _read_time(run_dir).get("at_steps", {})
    if steps is not None:
        marks = {at: value for at, value in marks.items() if at < steps}
        marks[steps] = seconds
    write_json(
        Path(run_dir) / "time.json",
        {"training_seconds": round(seconds, 1), "at_steps": {str(at): round(v, 1) for at, v in sorted(marks.items())}},
    )


def set_aside_damaged_time(run_dir: Path, log: Callable[[str], None] = print) -> None:
    """Before a run trains on: a damaged ``time.json`` is moved to ``time.damaged.json`` with a line through
    ``log``, and the count starts again, so it cannot fail the run once trained."""
    try:
        training_seconds(run_dir)
    except RunError as exc:
        path = Path(run_dir) / "time.json"
        path.replace(path.with_name("time.damaged.json"))
        log(f"resume: {exc}; moved to time.damaged.json, training time counts from now")


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The run's ``summary.json`` (empty for an unfinished run)."""
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclasses.dataclass
class Checkpoint:
    """A model and its normalisation statistics, saved at ``steps`` env steps."""

    steps: int
    model: Path
    vecnormalize: Path

    def problem(self, normalize: bool) -> str | None:
        """Why this checkpoint cannot be resumed from (the model or, with ``normalize``, its statistics), or
        ``None``."""
        problem = model_problem(self.model)
        if problem is not None:
            return f"{self.model.name} {problem}"
        if normalize:
            try:
                read_vecnormalize(self.vecnormalize)
            except RunError:
                return f"{self.vecnormalize.name} is missing or unreadable"
        return None


def checkpoint_paths(folder: Path, steps: int) -> Checkpoint:
    """Where the checkpoint of ``steps`` lives in ``folder``."""
    return Checkpoint(
        steps,
        folder / f"{CHECKPOINT_PREFIX}_{steps}_steps.zip",
        folder / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl",
    )


def checkpoint_steps(run_dir: Path) -> list[int]:
    """The env steps of every checkpoint saved in ``run_dir``, ascending."""
    return sorted(int(m.group(1)) for p in (run_dir / "checkpoints").glob("*.zip") if (m := _CHECKPOINT.match(p.name)))


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    steps = checkpoint_steps(run_dir)
    return checkpoint_paths(run_dir / "checkpoints", steps[-1]) if steps else None


def save_checkpoint(model: BaseAlgorithm, folder: Path) -> Checkpoint:
    """Save ``model`` (and its normalisation statistics) as the checkpoint of its step count, atomically: the
    statistics first, so that a checkpoint's model never stands without them."""
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_paths(folder, model.num_timesteps)
    env = model.get_vec_normalize_env()
    if env is not None:
        save_vecnormalize(env, checkpoint.vecnormalize)
    save_model(model, checkpoint.model)
    return checkpoint


def final_model(run_dir: Path) -> Checkpoint | None:
    """A finished run's ``model.zip`` (and ``vecnormalize.pkl``) as a checkpoint of its summary's steps."""
    steps = read_summary(run_dir).get("steps")
    if not isinstance(steps, int) or not (run_dir / "model.zip").is_file():
        return None
    return Checkpoint(steps, run_dir / "model.zip", run_dir / "vecnormalize.pkl")


def resume_point(run_dir: Path, normalize: bool, log: Callable[[str], None] = print) -> Checkpoint | None:
    """The most advanced intact place to resume ``run_dir`` from: its newest readable checkpoint, or its final
    model when that is further on (a finished run trained longer). Damaged checkpoints (a kill mid-write by an
    older version, a truncated copy) are skipped, each named through ``log``."""
    candidates = [checkpoint_paths(run_dir / "checkpoints", n) for n in checkpoint_steps(run_dir)]
    final = final_model(run_dir)
    if final is not None:
        candidates.append(final)
    for candidate in sorted(candidates, key=lambda c: c.steps, reverse=True):
        problem = candidate.problem(normalize)
        if problem is None:
            return candidate
        log(f"resume: skipping the checkpoint of {candidate.steps} steps: {problem}")
    return None
