"""Sweeps: many seeds and settings at once, each trial a normal run directory, scheduled by Ray Tune.

A sweep file names the env, the algo, the seeds, fixed settings and a grid and/or a random search over setting
keys (the keys of ``--set``)::

    name: walk-lr                       # optional; the sweep directory is runs/sweeps/<name>
    env: neuromotor/Walker2d-Walk-v1
    algo: rppo                          # optional, rppo by default
    seeds: [0, 1, 2]
    steps: 300000                       # total_steps of every trial (optional: the preset's)
    settings: {eval_freq: 50000}        # the same for every trial (optional)
    grid:                               # every combination (optional)
      learning_rate: [1.0e-4, 3.0e-4]
    search:                             # `samples` random draws, each a setting of its own (optional)
      policy.lstm_hidden_size: {choice: [64, 128]}
      ent_coef: {loguniform: [1.0e-4, 1.0e-2]}
    samples: 4
    episodes: 5                         # deterministic evaluation episodes per trial for the gait metrics
    tests:                              # optional: criteria each trial is judged on (as a recipe's), each on
      - {eval_env_kwargs: {}, criteria: {fell: {max: 0}}}   # `episodes` test episodes in its env kwargs
    first_pass: 3                       # optional: the first checkpoint whose `first_pass` validation episodes
                                        # all pass every test (0: not searched)

Every setting (a point of the grid times a draw of the search) runs once per seed. The sweep directory holds
``sweep.json`` (the sweep as run), ``trials/<trial>/`` (run directories, each with ``trial.json`` once finished) and
``ray/`` (Ray Tune's own records). Running the same sweep again skips finished trials and resumes unfinished ones
from their last checkpoint.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.config import ALGOS, ConfigError, TrainConfig, load_yaml, resolve_config
from agents.training.trainer import check_env_config

SWEEP_KEYS = ("name", "env", "algo", "seeds", "steps", "settings", "grid", "search", "samples", "episodes", "tests",
              "first_pass")  # fmt: skip
#: Random-search distributions (Ray Tune's sampling domains) by the name used in sweep files.
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
#: Seed of the random-search draws, so that a resumed sweep draws the same settings.
SEARCH_SEED = 0
#: The record, in a sweep directory, of the sweep it runs.
SWEEP_RECORD = "sweep.json"
#: Where a sweep's directory goes when ``--run-dir`` is not given.
SWEEPS_DIR = Path("runs/sweeps")


def ray_tune() -> Any:
    """Ray Tune, or a one-line :class:`ConfigError` naming the extra that installs it."""
    try:
        from ray import tune  # an optional extra: only sweeps need it
    except ImportError:
        raise ConfigError('sweeps need Ray Tune, which is not installed: pip install "neuromotor[sweeps]"') from None
    return tune


@dataclasses.dataclass
class Trial:
    """One run of a sweep: a setting (shared by its seeds) and a seed."""

    name: str
    setting: str
    overrides: dict[str, Any]
    seed: int
    config: dict[str, Any]


@dataclasses.dataclass
class Sweep:
    """A parsed, validated sweep file with every trial's full training config."""

    name: str
    env_id: str
    algo: str
    episodes: int
    trials: list[Trial]
    source: dict[str, Any]
    tests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    first_pass: int = 0

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        """Each setting's label and its overrides, in order."""
        return {trial.setting: trial.overrides for trial in self.trials}


def _sample(key: str, spec: Any, rng: np.random.Generator) -> Any:
    tune = ray_tune()
    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS):
        raise ConfigError(
            f"search.{key} must be one of {{{'|'.join(DISTRIBUTIONS)}: ...}}, e.g. {{loguniform: [1.0e-4, 1.0e-3]}}; "
            f"got {spec!r}"
        )
    kind, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise ConfigError(f"search.{key}.{kind} takes a list, e.g. [low, high]; got {args!r}")
    try:
        domain = tune.choice(args) if kind == "choice" else getattr(tune, kind)(*args)
        value = domain.sample(random_state=rng)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"search.{key}.{kind}{args}: {exc}") from None
    return value.item() if isinstance(value, np.generic) else value


def _label(overrides: dict[str, Any]) -> str:
    def short(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    return ",".join(f"{key}={short(value)}" for key, value in overrides.items()) or "preset"


def _is_test(test: Any) -> bool:
    """Whether ``test`` is ``{eval_env_kwargs: {...}, criteria: {METRIC: {...}}}``."""
    return (isinstance(test, dict) and set(test) == {"eval_env_kwargs", "criteria"}
            and isinstance(test["eval_env_kwargs"], dict) and isinstance(test["criteria"], dict)
            and all(isinstance(rule, dict) for rule in test["criteria"].values()))  # fmt: skip


def parse_sweep(data: Any, source: str = "sweep") -> Sweep:
    """Validate a sweep mapping and expand it into trials; :class:`ConfigError` names the first bad entry."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with keys {', '.join(SWEEP_KEYS)}")
    unknown = set(data) - set(SWEEP_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}; valid: {', '.join(SWEEP_KEYS)}")
    if not isinstance(data.get("env"), str) or not data["env"]:
        raise ConfigError(f"{source}: `env` (an env id such as neuromotor/Walker2d-Walk-v1) is required")
    algo = data.get("algo", "rppo")
    if algo not in ALGOS:
        raise ConfigError(f"{source}: algo={algo!r} is not valid; choose from: {', '.join(ALGOS)}")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(f"{source}: `seeds` must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{source}: `seeds` repeats a seed: {seeds!r}")
    episodes = data.get("episodes", 5)
    if not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"{source}: `episodes` must be an integer >= 1, got {episodes!r}")
    tests = data.get("tests", [])
    if not (isinstance(tests, list) and all(_is_test(t) for t in tests)):
        raise ConfigError(f"{source}: `tests` must be a list of {{eval_env_kwargs, criteria}} mappings, got {tests!r}")
    first_pass = data.get("first_pass", 0)
    if isinstance(first_pass, bool) or not isinstance(first_pass, int) or first_pass < 0:
        raise ConfigError(f"{source}: `first_pass` must be a whole number of episodes >= 0, got {first_pass!r}")
    if first_pass and not tests:
        raise ConfigError(f"{source}: `first_pass` finds the first checkpoint that passes `tests`, which are missing")
    for key in ("settings", "grid", "search"):
        if not isinstance(data.get(key) or {}, dict):
            raise ConfigError(f"{source}: `{key}` must be a mapping of setting keys, got {data[key]!r}")
    fixed = dict(data.get("settings") or {})
    if "steps" in data:
        fixed["total_steps"] = data["steps"]
    if "seed" in fixed:
        raise ConfigError(f"{source}: set seeds with `seeds: [...]`, not settings.seed")
    grid = dict(data.get("grid") or {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: grid.{key} must be a non-empty list of values, got {values!r}")
    search = dict(data.get("search") or {})
    samples = data.get("samples", 1)
    if not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"{source}: `samples` (random draws of `search`) must be an integer >= 1, got {samples!r}")
    if "samples" in data and not search:
        raise ConfigError(f"{source}: `samples` is for `search`, which is missing")
    clash = (set(grid) & set(search)) | ((set(grid) | set(search)) & set(fixed))
    if clash:
        raise ConfigError(f"{source}: {sorted(clash)[0]!r} is set in more than one of settings, grid and search")

    rng = np.random.default_rng(SEARCH_SEED)
    draws = [{key: _sample(key, spec, rng) for key, spec in search.items()} for _ in range(samples if search else 1)]
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    settings: list[dict[str, Any]] = []
    for overrides in ({**point, **draw} for point in points for draw in draws):
        if overrides not in settings:  # a search that draws a setting twice runs it once
            settings.append(overrides)
    trials = []
    labels: set[str] = set()
    for index, overrides in enumerate(settings):
        label = _label(overrides)
        if label in labels:  # distinct values that print alike
            label = f"{label} [{index}]"
        labels.add(label)
        for seed in seeds:
            config = resolve_config(data["env"], algo, {**fixed, **overrides, "seed": seed})
            trials.append(Trial(f"set{index:02d}-s{seed}", label, overrides, seed, config.to_dict()))
    name = str(data.get("name") or "sweep")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{source}: name {name!r} must use only letters, digits, '_', '.' and '-'")
    return Sweep(name, data["env"], algo, episodes, trials, data, tests, first_pass)


def load_sweep(path: Path) -> Sweep:
    """Read and validate a sweep YAML file (its name defaults to the file's stem)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    return parse_sweep(data, str(path))


def check_envs(sweep: Sweep) -> None:
    """Build each distinct env of the sweep once, so that a bad env setting fails before any trial starts."""
    seen = set()
    for trial in sweep.trials:
        key = json.dumps(trial.config["env_kwargs"], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            check_env_config(TrainConfig.from_dict(trial.config))


def trial_dir(sweep_dir: Path, trial: Trial) -> Path:
    return Path(sweep_dir).resolve() / "trials" / trial.name


def finished(sweep_dir: Path, trial: Trial) -> bool:
    return (trial_dir(sweep_dir, trial) / "trial.json").is_file()
