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

Every setting (a point of the grid times a draw of the search) runs once per seed. The sweep directory holds
``sweep.json`` (the sweep as run), ``trials/<trial>/`` (run directories, each with ``trial.json`` once finished) and
``ray/`` (Ray Tune's own records). Running the same sweep again skips finished trials and resumes unfinished ones
from their last checkpoint.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.config import ALGOS, ConfigError, TrainConfig, load_yaml, resolve_config

SWEEP_KEYS = ("name", "env", "algo", "seeds", "steps", "settings", "grid", "search", "samples", "episodes")
#: Random-search distributions (Ray Tune's sampling domains) by the name used in sweep files.
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
#: Seed of the random-search draws, so that a resumed sweep draws the same settings.
SEARCH_SEED = 0
#: The record, in a sweep directory, of the sweep it runs.
SWEEP_RECORD = "sweep.json"
#: Where a sweep's directory goes when ``--run-dir`` is not given.
SWEEPS_DIR = Path("runs/sweeps")
#: Scalar gait metrics (means over a trial's evaluation episodes) that the report aggregates across seeds.
REPORT_METRICS = (
    "return",
    "fell_fraction",
    "forward_speed",
    "ground_contact_fraction",
    "duty_factor_gap",
    "alternation",
    "flight_phases_per_1000",
    "mean_apex_rise",
    "horizontal_drift",
    "torso_pitch",
)
#: Bytes of shared memory a local Ray keeps for its object store (Ray's minimum is 75 MiB).
LOCAL_OBJECT_STORE = 256 * 1024**2
#: Confidence level of the intervals in reports.
CONFIDENCE = 0.95


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

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        """Each setting's label and its overrides, in order."""
        return {trial.setting: trial.overrides for trial in self.trials}


def _sample(key: str, spec: Any, rng: np.random.Generator) -> Any:
    from ray import tune

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
    return Sweep(name, data["env"], algo, episodes, trials, data)


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
    from agents.training import check_env_config

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


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one trial (resuming its checkpoints), measure its gait, write ``trial.json``; runs in a Ray worker."""
    import torch as th

    from agents import evaluation
    from agents.training import latest_checkpoint, train

    th.set_num_threads(spec.get("threads", 1))
    run_dir = Path(spec["run_dir"])
    (run_dir / "error.txt").unlink(missing_ok=True)
    config = TrainConfig.from_dict(spec["config"])
    if not (run_dir / "summary.json").is_file():
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is not None and checkpoint.steps >= config.total_steps:
            finish_from_checkpoint(config, run_dir, checkpoint)
        else:
            train(config, run_dir, resume=checkpoint is not None, progress=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    brain = evaluation.find_brain(str(run_dir))
    model = evaluation.load_model(brain)
    venv = evaluation.make_env(brain)
    episodes = [evaluation.rollout(model, venv, seed=100_000 + i) for i in range(spec["episodes"])]
    venv.close()
    measured = evaluation.summarize(episodes)["summary"]
    result = {
        "name": spec["name"],
        "setting": spec["setting"],
        "overrides": spec["overrides"],
        "seed": spec["seed"],
        "training": summary,
        "evaluation": measured,
        "metrics": trial_metrics(measured),
    }
    partial = run_dir / "trial.json.partial"
    partial.write_text(json.dumps(result, indent=2, default=float) + "\n")
    os.replace(partial, run_dir / "trial.json")  # a trial is finished only once its whole record is written
    return result


def finish_from_checkpoint(config: TrainConfig, run_dir: Path, checkpoint: Any) -> None:
    """Finish a run that stopped after its last checkpoint (at ``total_steps``) but before saving: that is the model."""
    shutil.copy2(checkpoint.model, run_dir / "model.zip")
    if checkpoint.vecnormalize.is_file():
        shutil.copy2(checkpoint.vecnormalize, run_dir / "vecnormalize.pkl")
    summary = {"env_id": config.env_id, "algo": config.algo, "seed": config.seed, "steps": checkpoint.steps,
               "seconds": None, "finished_from_checkpoint": str(checkpoint.model), "run_dir": str(run_dir)}  # fmt: skip
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def trial_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics a report aggregates, from an evaluation summary (means over its episodes)."""
    metrics: dict[str, float] = {}
    for key in REPORT_METRICS:
        if key == "fell_fraction":
            metrics[key] = summary["fell"] / summary["episodes"]
        elif isinstance(summary.get(key), dict) and "mean" in summary[key]:
            metrics[key] = float(summary[key]["mean"])
    return metrics


def _tune_trial(config: dict[str, Any]) -> None:
    from ray import tune

    result = run_trial(config["trial"])
    tune.report({key: value for key, value in result["metrics"].items() if math.isfinite(value)})


def _reporter(print_line: Callable[[str], None]):
    from ray import tune

    class TrialLines(tune.Callback):
        """One line per finished or failed trial, instead of Ray's status tables."""

        def on_trial_complete(self, iteration, trials, trial, **info):
            name = trial.config["trial"]["name"]
            ret = (trial.last_result or {}).get("return")
            print_line(f"trial {name} finished" + (f": return {ret:.1f}" if ret is not None else ""))

        def on_trial_error(self, iteration, trials, trial, **info):
            print_line(f"trial {trial.config['trial']['name']} FAILED (see its error.txt)")

    return TrialLines()


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    cause = [line for line in text if re.match(r"^\w*(Error|Exception)\b", line.strip())]
    return (cause[-1] if cause else text[-1] if text else type(error).__name__).strip()


def run_sweep(
    sweep: Sweep,
    sweep_dir: Path,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    cpus_per_trial: int = 1,
    print_line: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the unfinished trials of ``sweep`` on Ray (a local instance unless ``address``); returns
    ``{"skipped": [...], "finished": [...], "failed": {name: error}, "unfinished": [...]}``. Failed trials do not
    stop the others."""
    import ray
    from ray import tune

    if not address and cpus_per_trial > len(os.sched_getaffinity(0)):
        cores = len(os.sched_getaffinity(0))
        raise ConfigError(f"--cpus-per-trial {cpus_per_trial} is more than this machine's {cores} cores")
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    saved = sweep_dir / SWEEP_RECORD
    if saved.is_file() and json.loads(saved.read_text()) != sweep.source:
        raise ConfigError(
            f"{sweep_dir} holds a different sweep (its {SWEEP_RECORD} differs); give another --run-dir or delete it"
        )
    # JSON, not YAML: it reads back exactly as written (a quoted '1e-4' stays a string).
    saved.write_text(json.dumps(sweep.source, indent=2) + "\n")
    skipped = [t.name for t in sweep.trials if finished(sweep_dir, t)]
    pending = [t for t in sweep.trials if not finished(sweep_dir, t)]
    for name in skipped:
        print_line(f"trial {name} already finished: skipped")
    failed: dict[str, str] = {}
    if pending:
        specs = [
            {**dataclasses.asdict(t), "run_dir": str(trial_dir(sweep_dir, t)), "episodes": sweep.episodes,
             "threads": cpus_per_trial}
            for t in pending
        ]  # fmt: skip
        started_here = not ray.is_initialized()
        if started_here:
            env_vars = {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONWARNINGS": "ignore"}
            kwargs: dict[str, Any] = {"address": address}
            if not address:
                cores = len(os.sched_getaffinity(0))
                # Sized to this machine's cores; trials pass only small results, so a small object store will do.
                kwargs = {"num_cpus": cores, "object_store_memory": LOCAL_OBJECT_STORE}
                # Local workers import `module:EnvId` plug-ins from where the driver runs, as the driver does.
                paths = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
                paths = [os.path.abspath(path) for path in paths]
                env_vars["PYTHONPATH"] = os.pathsep.join(paths)
            try:
                ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                         runtime_env={"env_vars": env_vars})  # fmt: skip
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f" at {address!r}" if address else ""
                raise ConfigError(f"cannot start or reach Ray{where}: {_error_line(exc)}") from None
        try:
            tuner = tune.Tuner(
                tune.with_resources(_tune_trial, {"cpu": cpus_per_trial}),
                param_space={"trial": tune.grid_search(specs)},
                tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
                run_config=tune.RunConfig(
                    name=sweep.name,
                    storage_path=str(sweep_dir / "ray"),
                    failure_config=tune.FailureConfig(max_failures=0),
                    verbose=0,
                    callbacks=[_reporter(print_line)],
                ),
            )
            grid = tuner.fit()
        finally:
            if started_here:
                ray.shutdown()
        for result in grid:
            spec = (result.config or {}).get("trial")
            if result.error is not None and spec is not None:
                failed[spec["name"]] = _error_line(result.error)
                folder = Path(spec["run_dir"])
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "error.txt").write_text(f"{result.error}\n")
    done = [t.name for t in pending if finished(sweep_dir, t)]
    for name, error in failed.items():
        print_line(f"trial {name} failed: {error}")
    # Stopped (Ctrl-C) or lost (a dead worker, a node without the shared sweep directory): neither done nor failed.
    unfinished = [t.name for t in pending if t.name not in done and t.name not in failed]
    for name in unfinished:
        print_line(f"trial {name} did not finish")
    return {"skipped": skipped, "finished": done, "failed": failed, "unfinished": unfinished}


def is_sweep_dir(path: Path) -> bool:
    return (Path(path) / SWEEP_RECORD).is_file() and (Path(path) / "trials").is_dir()


def load_record(sweep_dir: Path) -> Sweep:
    """The sweep a sweep directory ran, from its ``sweep.json``."""
    record = Path(sweep_dir) / SWEEP_RECORD
    return parse_sweep(json.loads(record.read_text()), str(record))


def interval(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean (NaN half-width for one value)."""
    from scipy import stats

    data = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    if data.size == 1:
        return float(data[0]), math.nan
    sem = float(np.std(data, ddof=1)) / math.sqrt(data.size)
    return float(data.mean()), float(stats.t.ppf(0.5 + confidence / 2, data.size - 1) * sem)


def _cell(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.3g}" if math.isnan(half) else f"{mean:.3g} ± {half:.2g}"


def aggregate(sweep_dir: Path, sweep: Sweep | None = None) -> dict[str, Any]:
    """Per setting, mean and 95% CI across seeds of the return and gait metrics; failed or unfinished trials are
    listed, not counted. ``sweep`` is the directory's record, read from it when not given."""
    sweep_dir = Path(sweep_dir)
    if not is_sweep_dir(sweep_dir):
        raise ConfigError(f"{str(sweep_dir)!r} is not a sweep directory (no {SWEEP_RECORD} and trials/)")
    sweep = sweep or load_record(sweep_dir)
    settings: dict[str, dict[str, Any]] = {}
    for label, overrides in sweep.settings.items():
        trials = [t for t in sweep.trials if t.setting == label]
        results = [json.loads((trial_dir(sweep_dir, t) / "trial.json").read_text()) for t in trials
                   if finished(sweep_dir, t)]  # fmt: skip
        missing = [t.name for t in trials if not finished(sweep_dir, t)]
        failed = [name for name in missing if (sweep_dir / "trials" / name / "error.txt").is_file()]
        stats = {key: interval([r["metrics"].get(key, math.nan) for r in results]) for key in REPORT_METRICS}
        gaits: dict[str, int] = {}
        for r in results:
            gaits[r["evaluation"]["gait"]] = gaits.get(r["evaluation"]["gait"], 0) + 1
        settings[label] = {
            "overrides": overrides,
            "seeds": [r["seed"] for r in results],
            "missing": missing,
            "failed": failed,
            "metrics": {key: {"mean": m, "ci95": h} for key, (m, h) in stats.items()},
            "gaits": gaits,
        }
    scored = [(label, s["metrics"]["return"]["mean"]) for label, s in settings.items() if s["seeds"]]
    best = max(scored, key=lambda item: item[1])[0] if scored else None
    fixed = dict(sweep.source.get("settings") or {}) | (
        {"total_steps": sweep.source["steps"]} if "steps" in sweep.source else {}
    )
    return {"name": sweep.name, "env_id": sweep.env_id, "algo": sweep.algo, "fixed": fixed, "settings": settings,
            "best": best}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table: one row per setting, mean ± 95% CI half-width across seeds."""
    rows = report["settings"].values()
    shown = [k for k in REPORT_METRICS if any(not math.isnan(s["metrics"][k]["mean"]) for s in rows)]
    lines = [
        f"Sweep `{report['name']}`: {report['env_id']}, {report['algo']}; mean ± {CONFIDENCE:.0%} CI across seeds.",
        "",
        "| setting | seeds | " + " | ".join(shown) + " | gait |",
        "|---|---|" + "---|" * len(shown) + "---|",
    ]
    for label, s in report["settings"].items():
        cells = [_cell(s["metrics"][k]["mean"], s["metrics"][k]["ci95"]) for k in shown]
        gaits = ", ".join(f"{g} {n}" for g, n in sorted(s["gaits"].items())) or "-"
        failed, unfinished = len(s["failed"]), len(s["missing"]) - len(s["failed"])
        notes = [f"{failed} failed"] * bool(failed) + [f"{unfinished} unfinished"] * bool(unfinished)
        seeds = f"{len(s['seeds'])}" + (f" ({', '.join(notes)})" if notes else "")
        mark = " **(best)**" if label == report["best"] else ""
        lines.append(f"| `{label}`{mark} | {seeds} | " + " | ".join(cells) + f" | {gaits} |")
    return "\n".join(lines) + "\n"


def learning_curves(sweep: Sweep, sweep_dir: Path, report: dict[str, Any], out: Path) -> Path | None:
    """Mean evaluation return against env steps per setting, shaded by the 95% CI across seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for label in report["settings"]:
        curves = []
        for trial in (t for t in sweep.trials if t.setting == label):
            log = trial_dir(sweep_dir, trial) / "eval" / "evaluations.npz"
            if finished(sweep_dir, trial) and log.is_file():
                with np.load(log) as data:
                    curves.append((data["timesteps"], data["results"].mean(axis=1)))
        if not curves:
            continue
        # Only the evaluation steps every seed has (a resumed run may have evaluated at other steps).
        steps = curves[0][0]
        for other, _ in curves[1:]:
            steps = np.intersect1d(steps, other)
        if not len(steps):
            continue
        at = [dict(zip(c[0].tolist(), c[1].tolist(), strict=True)) for c in curves]
        stats = [interval([float(values[step]) for values in at]) for step in steps.tolist()]
        mean = np.array([m for m, _ in stats])
        half = np.nan_to_num(np.array([h for _, h in stats]))
        ax.plot(steps, mean, label=f"{label} (n={len(curves)})")
        ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{report['name']}: mean and {CONFIDENCE:.0%} CI across seeds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_report(sweep_dir: Path) -> dict[str, Any]:
    """Write ``report.md``, ``report.json`` and ``curves.png`` into the sweep directory; returns the report."""
    sweep_dir = Path(sweep_dir)
    sweep = load_record(sweep_dir) if is_sweep_dir(sweep_dir) else None
    report = aggregate(sweep_dir, sweep)
    (sweep_dir / "report.md").write_text(markdown(report))
    (sweep_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    curves = learning_curves(sweep, sweep_dir, report, sweep_dir / "curves.png")
    report["files"] = [str(sweep_dir / "report.md"), str(sweep_dir / "report.json")] + ([str(curves)] if curves else [])
    return report


def preset_block(report: dict[str, Any]) -> str:
    """The best setting as a presets.yaml entry for the sweep's env id and algo."""
    if report["best"] is None:
        raise ConfigError(f"sweep {report['name']!r} has no finished trial to take a best setting from")
    best = report["settings"][report["best"]]
    nested: dict[str, Any] = {}
    for key, value in best["overrides"].items():
        head, _, tail = key.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    ret = best["metrics"]["return"]
    body = yaml.safe_dump({report["env_id"]: {report["algo"]: nested}}, sort_keys=False, default_flow_style=False)
    fixed = f"; the sweep also fixed {json.dumps(report['fixed'])}" if report.get("fixed") else ""
    return (
        f"\n# Best setting of sweep {report['name']} (return {_cell(ret['mean'], ret['ci95'])} over "
        f"{len(best['seeds'])} seeds{fixed}).\n{body}"
    )


def write_preset(report: dict[str, Any], presets: Path) -> str:
    """Append the best setting to ``presets`` as an entry for the sweep's exact env id (later entries win)."""
    from agents.config import load_presets

    if report["env_id"] in load_presets(presets):
        raise ConfigError(
            f"{presets} already has an entry for {report['env_id']!r}; merge the best setting by hand: "
            + json.dumps(report["settings"][report["best"]]["overrides"] if report["best"] else {})
        )
    block = preset_block(report)
    with open(presets, "a") as f:
        f.write(block)
    return block
