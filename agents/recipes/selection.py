"""Model selection: choose among a run's checkpoints on validation seeds, never the test seeds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.config import ConfigError
from agents.constants import VALIDATION_SEED
from agents.evaluation.criteria import criteria_met
from agents.evaluation.rollout import Episode, evaluate_brain
from agents.recipes.book import recipe_tests, select_rules
from agents.runs import RunError, checkpoint_paths, checkpoint_steps, copy_file, load_run_config, write_json


def run_episodes(
    target: str, env_kwargs: dict[str, Any] | None, first_seed: int, count: int
) -> tuple[list[Episode], int]:
    """``count`` deterministic episodes of ``target`` from seed ``first_seed`` on, and the model's env steps."""
    evaluation = evaluate_brain(target, episodes=count, seed=first_seed, env_kwargs=env_kwargs)
    return evaluation.episodes, int(evaluation.model.num_timesteps)


def _candidates(steps: list[int], start: int, every: int) -> list[int]:
    """Checkpoints from ``start`` on, at least ``every`` steps apart (a resumed run's checkpoints are off-grid)."""
    chosen: list[int] = []
    for n in sorted(steps):
        if n >= start and (not chosen or n - chosen[-1] >= every):
            chosen.append(n)
    return chosen


def select_checkpoint(recipe: dict[str, Any], run_dir: Path, *, log: Callable[[str], None] = print) -> Path:
    """Choose among ``run_dir``'s checkpoints on validation seeds (never the test seeds) by the recipe's ``select``.

    Checkpoints from ``from`` steps on, at least ``every`` steps apart, each run ``screen`` validation episodes
    (seeds from :data:`VALIDATION_SEED`); the best ``finalists`` run ``confirm`` more; the one whose episodes most often
    meet the criteria each on its own wins, then the one meeting most criteria per episode (which ranks checkpoints
    of which no episode passes), then the later one. Copies it to ``run_dir/selected/`` with
    ``selection.json`` (every score) and returns its model path. A PPO run's reward is not its definition: a jumping
    brain's falls come and go between checkpoints.
    """
    rules = select_rules(recipe)
    config = load_run_config(run_dir)
    if config.env_id != recipe["env_id"]:
        raise ConfigError(f"{str(run_dir)!r} was trained on {config.env_id}; the recipe is {recipe['env_id']}")
    folder = run_dir / "checkpoints"
    steps = checkpoint_steps(run_dir)
    if not steps:
        raise RunError(f"{str(run_dir)!r} has no checkpoints (trained with checkpoint_freq 0?)")
    if config.normalize:
        missing = [n for n in steps if not checkpoint_paths(folder, n).vecnormalize.is_file()]
        for n in missing:
            log(f"select: skipping the checkpoint of {n} steps: its normalisation statistics are missing")
        steps = [n for n in steps if n not in missing]
    candidates = _candidates(steps, rules["from"], rules["every"])
    if not candidates:
        raise RunError(f"{str(run_dir)!r} has no usable checkpoint from {rules['from']} steps on")
    tests = recipe_tests(recipe)
    passed: dict[int, int] = {}  # validation episodes that pass, per checkpoint
    met: dict[int, int] = {}  # criteria met, summed over the validation episodes, per checkpoint
    seen: dict[int, int] = {}  # validation episodes run, per checkpoint

    def score(n: int, count: int) -> None:
        first = VALIDATION_SEED + seen.get(n, 0)
        # Over every test of the recipe: episodes passing counts the test passed least often.
        scores = [criteria_met(run_episodes(str(checkpoint_paths(folder, n).model), env_kwargs, first, count)[0],
                               criteria) for env_kwargs, criteria in tests]  # fmt: skip
        passed[n] = passed.get(n, 0) + min(episodes_passed for episodes_passed, _ in scores)
        met[n] = met.get(n, 0) + sum(criteria_passed for _, criteria_passed in scores)
        seen[n] = seen.get(n, 0) + count
        log(
            f"select: {n} steps: {passed[n]} of {seen[n]} validation episodes pass, "
            f"{met[n] / seen[n]:.2f} criteria met per episode"
        )

    def rank(n: int) -> tuple[float, float, int]:
        return passed[n] / seen[n], met[n] / seen[n], n

    for n in candidates:
        score(n, rules["screen"])
    finalists = sorted(candidates, key=rank, reverse=True)[: rules["finalists"]]
    for n in finalists if rules["confirm"] else ():
        score(n, rules["confirm"])
    chosen = max(finalists, key=rank)
    checkpoint = checkpoint_paths(folder, chosen)
    selected = run_dir / "selected"
    shutil.rmtree(selected, ignore_errors=True)  # nothing of an earlier selection (its metrics.json) survives
    selected.mkdir()
    copy_file(checkpoint.model, selected / "model.zip")
    if config.normalize:
        copy_file(checkpoint.vecnormalize, selected / "vecnormalize.pkl")
    record = {
        "rules": rules,
        "seed": VALIDATION_SEED,
        "chosen": chosen,
        "scores": [
            {"steps": n, "passed": passed[n], "criteria_met": met[n], "episodes": seen[n]} for n in sorted(seen)
        ],
    }
    write_json(selected / "selection.json", record)
    log(f"select: chose the checkpoint of {chosen} steps ({passed[chosen]} of {seen[chosen]} pass)")
    return selected / "model.zip"
