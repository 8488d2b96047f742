"""Where brains are found: bundled brains by name, run directories, model and checkpoint files."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from agents.brains.models import load_algorithm
from agents.config import TrainConfig
from agents.runs import RunError, load_run_config

BRAINS_DIR = Path(__file__).with_name("bundled")
_CHECKPOINT = re.compile(r"^(?P<prefix>.+)_(?P<steps>\d+)_steps\.zip$")


@dataclasses.dataclass
class Brain:
    """A trained model with what is needed to run it: the run's settings and its normalisation statistics."""

    model_path: Path
    config: TrainConfig
    vecnormalize_path: Path | None


def bundled_brains() -> dict[str, Path]:
    """Bundled brains by name (folders of ``agents/brains/bundled`` holding a run layout)."""
    if not BRAINS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(BRAINS_DIR.iterdir()) if (p / "config.yaml").is_file()}


def run_dir_of(path: Path) -> Path:
    """The run directory holding ``path`` (a model or checkpoint): the nearest folder with a ``config.yaml``."""
    for folder in (path.parent, *path.parents):
        if (folder / "config.yaml").is_file():
            return folder
    raise RunError(f"no config.yaml found above {str(path)!r}: cannot tell which env the brain ran in")


def find_brain(target: str | Path) -> Brain:
    """Resolve a run directory, a model or checkpoint ``.zip``, or a bundled brain's name."""
    bundled = bundled_brains()
    path = bundled.get(str(target), Path(target))
    if path.is_dir():
        run_dir, model = path, path / "model.zip"
        if not model.is_file():
            raise RunError(f"{str(path)!r} has no model.zip (an unfinished run? evaluate a checkpoint .zip instead)")
        stats = path / "vecnormalize.pkl"
    elif path.is_file():
        if path.suffix != ".zip":
            raise RunError(f"{str(path)!r} is not a model: expected a .zip, a run directory or a bundled brain")
        run_dir, model = run_dir_of(path), path
        match = _CHECKPOINT.match(path.name)
        stats = (
            path.with_name(f"{match['prefix']}_vecnormalize_{match['steps']}_steps.pkl")
            if match
            else path.with_name("vecnormalize.pkl")
        )
    elif path.suffix == ".zip" or len(path.parts) > 1:
        newest = sorted(path.parent.glob("*.zip"), key=lambda p: p.stat().st_mtime)[-3:] if path.parent.is_dir() else []
        hint = f" (newest .zip files there: {', '.join(p.name for p in newest)})" if newest else ""
        raise RunError(f"{str(target)!r} does not exist{hint}")
    else:
        names = ", ".join(bundled) or "none yet"
        raise RunError(f"{str(target)!r} is not a run directory, a model .zip or a bundled brain (bundled: {names})")
    config = load_run_config(run_dir)
    if config.normalize and not stats.is_file():
        raise RunError(
            f"{str(model)!r} was trained with normalised observations but {stats.name} is missing beside it; "
            "without those statistics the brain would see inputs on the wrong scale"
        )
    return Brain(model, config, stats if config.normalize else None)


def load_model(brain: Brain, device: str = "cpu") -> BaseAlgorithm:
    """The brain's SB3 model, loaded to act (no optimizer: it is not trained further); a missing or corrupt file is
    a ``RunError``."""
    return load_algorithm(brain.model_path, brain.config.algo, device=device, trainable=False)


def check_fits(trained: Any, env: Any, brain: str, env_name: str) -> None:
    """Raise ``RunError`` naming both shapes where ``env``'s observations or actions are shaped otherwise than
    ``trained``'s (a brain's model, or its normalisation statistics, which keep its training env's spaces)."""
    for what in ("observation", "action"):
        own = getattr(trained, f"{what}_space", None)
        theirs = getattr(env, f"{what}_space")
        if own is not None and own.shape != theirs.shape:
            raise RunError(
                f"{brain} was trained on {what}s of shape {own.shape} but {env_name} has {what}s of shape "
                f"{theirs.shape}: a brain acts only in an env shaped like the one it was trained in"
            )
