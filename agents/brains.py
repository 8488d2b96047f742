"""Bundled brains: train one from scratch, measure it against its gait's definition, and ship it.

python -m agents.brains list                    # the recipes and which are bundled
python -m agents.brains train walker2d-walk     # train, evaluate, check; bundle into agents/brains/<name>/ if it passes
python -m agents.brains check walker2d-walk     # re-measure a bundled brain against its criteria
python -m agents.brains bundle walker2d-jump RUN  # measure a run (or RUN/best/model.zip); bundle it if it passes
python -m agents.brains select walker2d-jump RUN  # choose the run's checkpoint on validation seeds; measure, bundle
python -m agents.brains preview walker2d-walk   # (re)write its README GIF, agents/brains/<name>/preview.gif
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import inspect
import json
import math
import platform
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch as th

from agents import distill, evaluation
from agents.cli import OneLineParser
from agents.config import ConfigError, load_yaml, resolve_config
from agents.training import RunError, check_env_config, checkpoint_paths, checkpoint_steps, load_run_config, train

RECIPES_FILE = Path(__file__).with_name("brains.yaml")
#: Evaluation of a bundled brain: deterministic episodes from a seed no training run uses.
EVAL_EPISODES, EVAL_SEED = 10, 100_000
#: First seed of the episodes that choose among a run's checkpoints (model selection), apart from the test seeds.
SELECT_SEED = 200_000
#: A recipe's ``select`` (see :func:`select_checkpoint`): ``from`` and ``every`` in env steps, ``screen`` and
#: ``confirm`` in validation episodes, ``finalists`` in checkpoints.
SELECT_DEFAULTS = {"from": 0, "every": 100_000, "screen": 10, "confirm": 30, "finalists": 3}
#: Length (simulated seconds) of the README preview GIF, filmed from the first evaluation seed.
PREVIEW_SECONDS = 3.0


def load_recipes(path: Path = RECIPES_FILE) -> dict[str, dict[str, Any]]:
    recipes = load_yaml(Path(path).read_text()) or {}
    for name, recipe in recipes.items():
        missing = {"env_id", "algo", "criteria"} - set(recipe)
        if missing:
            raise ConfigError(f"{path}: brain {name!r} lacks {', '.join(sorted(missing))}")
        try:
            select_rules(recipe)
        except ConfigError as exc:
            raise ConfigError(f"{path}: brain {name!r}: {exc}") from None
        rules = recipe.get("distill")
        if "distill" in recipe and not (isinstance(rules, dict) and isinstance(rules.get("teachers"), dict)
                                        and rules["teachers"]):  # fmt: skip
            raise ConfigError(f"{path}: brain {name!r}: distill needs teachers: {{GAIT: BRAIN, ...}}")
        unknown = set(rules or {}) - {"teachers", *DISTILL_KEYS}
        if unknown:
            raise ConfigError(f"{path}: brain {name!r}: unknown distill keys {', '.join(sorted(unknown))}; valid: "
                              f"teachers, {', '.join(DISTILL_KEYS)}")  # fmt: skip
    return recipes


#: Keys of a recipe's ``distill`` besides ``teachers``: the keyword arguments of :func:`agents.distill.distill`.
DISTILL_KEYS = tuple(k for k, p in inspect.signature(distill.distill).parameters.items() if p.kind == p.KEYWORD_ONLY
                     and k != "log")  # fmt: skip

#: Which statistic over the episodes a criterion judges (``of:``); the mean unless it says otherwise.
STATISTICS = ("mean", "min", "max")


def _value(summary: dict[str, Any], metric: str, of: str = "mean") -> Any:
    if metric not in summary:
        raise ConfigError(f"unknown metric {metric!r} in criteria; valid: {', '.join(summary)}")
    if of not in STATISTICS:
        raise ConfigError(f"criterion on {metric!r}: of={of!r} is not valid; choose from: {', '.join(STATISTICS)}")
    value = summary[metric]
    if isinstance(value, dict) and "mean" in value:
        return value[of]
    if isinstance(value, dict):
        return {foot: stats[of] for foot, stats in value.items()}
    return value


def check_criteria(summary: dict[str, Any], criteria: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per criterion (per foot for per-foot metrics): metric, value, rule, passed."""
    rows = []
    for metric, rule in criteria.items():
        value = _value(summary, metric, rule.get("of", "mean"))
        values = value if isinstance(value, dict) else {None: value}
        for foot, v in values.items():
            ok = True
            if "equals" in rule:
                ok = v == rule["equals"]
            if "min" in rule:
                ok = ok and isinstance(v, (int, float)) and not math.isnan(v) and v >= rule["min"]
            if "max" in rule:
                ok = ok and isinstance(v, (int, float)) and not math.isnan(v) and v <= rule["max"]
            name = metric if foot is None else f"{metric} ({foot})"
            rows.append({"metric": name, "value": v, "rule": rule, "passed": bool(ok)})
    return rows


def run_episodes(
    target: str, env_kwargs: dict[str, Any] | None, first_seed: int, count: int
) -> tuple[list[evaluation.Episode], int]:
    """``count`` deterministic episodes of ``target`` from seed ``first_seed`` on, and the model's env steps."""
    brain = evaluation.find_brain(target)
    model = evaluation.load_model(brain)
    venv = evaluation.make_env(brain, env_kwargs)
    episodes = [evaluation.rollout(model, venv, seed=first_seed + i) for i in range(count)]
    venv.close()
    return episodes, int(model.num_timesteps)


def measure(
    target: str, criteria: dict[str, dict[str, Any]], env_kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Evaluate ``target`` over the standard episodes (in its env, with ``env_kwargs`` overridden) and check it."""
    episodes, model_steps = run_episodes(target, env_kwargs, EVAL_SEED, EVAL_EPISODES)
    result = evaluation.summarize(episodes)
    checks = check_criteria(result["summary"], criteria)
    return {
        "evaluation": {
            "episodes": EVAL_EPISODES,
            "seed": EVAL_SEED,
            "deterministic": True,
            "env_kwargs": env_kwargs or {},
            **result,
        },
        "criteria": checks,
        "passed": all(row["passed"] for row in checks),
        "model_env_steps": model_steps,
    }


def print_checks(name: str, checks: list[dict[str, Any]]) -> None:
    for row in checks:
        value = row["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name}: {'PASS' if row['passed'] else 'FAIL'} {row['metric']} = {shown} (want {row['rule']})")


def criteria_met(episodes: list[evaluation.Episode], criteria: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """How many of ``episodes`` meet ``criteria`` each on its own (stricter than a mean over episodes), and how many
    criteria they meet in all (each episode judged on its own)."""
    rows = [check_criteria(evaluation.summarize([e])["summary"], criteria) for e in episodes]
    return sum(all(r["passed"] for r in ep) for ep in rows), sum(r["passed"] for ep in rows for r in ep)


def select_rules(recipe: dict[str, Any], total_steps: int | None = None) -> dict[str, int]:
    """The recipe's ``select`` over :data:`SELECT_DEFAULTS`, checked (before any training)."""
    given = recipe.get("select") or {}
    if not isinstance(given, dict):
        raise ConfigError(f"select must be a mapping of {', '.join(SELECT_DEFAULTS)}, got {given!r}")
    unknown = set(given) - set(SELECT_DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown select key(s) {', '.join(sorted(unknown))}; valid: {', '.join(SELECT_DEFAULTS)}")
    rules = {**SELECT_DEFAULTS, **given}
    least = {"from": 0, "every": 1, "screen": 1, "confirm": 0, "finalists": 1}
    for key, low in least.items():
        value = rules[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"select {key} must be a whole number >= {low}, got {value!r}")
    if total_steps is not None and rules["from"] > total_steps:
        raise ConfigError(f"select from {rules['from']} is beyond the run's {total_steps} training steps")
    return rules


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
    (seeds from :data:`SELECT_SEED`); the best ``finalists`` run ``confirm`` more; the one whose episodes most often
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
    env_kwargs, criteria = recipe.get("eval_env_kwargs"), recipe["criteria"]
    passed: dict[int, int] = {}  # validation episodes that pass, per checkpoint
    met: dict[int, int] = {}  # criteria met, summed over the validation episodes, per checkpoint
    seen: dict[int, int] = {}  # validation episodes run, per checkpoint

    def score(n: int, count: int) -> None:
        first = SELECT_SEED + seen.get(n, 0)
        episodes, _ = run_episodes(str(checkpoint_paths(folder, n).model), env_kwargs, first, count)
        episodes_passed, criteria_passed = criteria_met(episodes, criteria)
        passed[n] = passed.get(n, 0) + episodes_passed
        met[n] = met.get(n, 0) + criteria_passed
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
    shutil.copy2(checkpoint.model, selected / "model.zip")
    if config.normalize:
        shutil.copy2(checkpoint.vecnormalize, selected / "vecnormalize.pkl")
    record = {
        "rules": rules,
        "seed": SELECT_SEED,
        "chosen": chosen,
        "scores": [
            {"steps": n, "passed": passed[n], "criteria_met": met[n], "episodes": seen[n]} for n in sorted(seen)
        ],
    }
    (selected / "selection.json").write_text(json.dumps(record, indent=2) + "\n")
    log(f"select: chose the checkpoint of {chosen} steps ({passed[chosen]} of {seen[chosen]} pass)")
    return selected / "model.zip"


def train_brain(name: str, recipe: dict[str, Any], steps: int | None, runs: Path) -> dict[str, Any]:
    settings = dict(recipe.get("settings") or {})
    settings["seed"] = recipe.get("seed", 0)
    if steps is not None:
        settings["total_steps"] = steps
    config = resolve_config(recipe["env_id"], recipe["algo"], settings)
    check_env_config(config)
    if "select" in recipe:
        select_rules(recipe, config.total_steps)
    run_dir = runs / f"{name}__{time.strftime('%Y%m%d-%H%M%S')}"
    if "distill" in recipe:
        # First a student learns the teachers' gaits (agents.distill); reinforcement learning starts from it.
        rules = dict(recipe["distill"])
        teachers = rules.pop("teachers")
        student = distill.distill(config, teachers, run_dir / "student", **rules)
        config = resolve_config(recipe["env_id"], recipe["algo"], {**settings, "init_from": str(student)})
    train(config, run_dir, command=[sys.executable, "-m", "agents.brains", "train", name])
    target = select_checkpoint(recipe, run_dir) if "select" in recipe else run_dir
    return measure_run(name, recipe, str(target))


def measure_run(name: str, recipe: dict[str, Any], target: str) -> dict[str, Any]:
    """Measure a trained run (or one model of it, such as ``RUN/best/model.zip``) against ``name``'s criteria,
    write ``metrics.json`` beside the model, and bundle it if it passes."""
    brain = evaluation.find_brain(target)
    if brain.config.env_id != recipe["env_id"]:
        raise ConfigError(f"{target!r} was trained on {brain.config.env_id}; {name} is {recipe['env_id']}")
    run_dir = evaluation.run_dir_of(brain.model_path)
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else {}
    report = measure(target, recipe["criteria"], recipe.get("eval_env_kwargs"))
    selection = brain.model_path.parent / "selection.json"
    if selection.is_file():
        report["selection"] = json.loads(selection.read_text())
    report.update(
        name=name,
        env_id=brain.config.env_id,
        run_dir=str(run_dir),
        training={
            "env_steps": summary.get("steps"),
            "model": str(brain.model_path.relative_to(run_dir)),
            "model_env_steps": report.pop("model_env_steps"),
            "wall_clock_seconds": summary.get("seconds_total", summary.get("seconds", _training_seconds(run_dir))),
            "machine": f"{platform.machine()}, {th.get_num_threads()} torch threads, {_cpus()} CPUs",
        },
    )
    (brain.model_path.parent / "metrics.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    if report["passed"]:
        bundle(name, brain)
    return report


def _training_seconds(run_dir: Path) -> float | None:
    """Training wall-clock time of a run that has no summary yet (stopped, or selected from mid-way)."""
    path = run_dir / "time.json"
    return json.loads(path.read_text()).get("training_seconds") if path.is_file() else None


def bundle(name: str, brain: evaluation.Brain) -> Path:
    """Copy a measured brain (its ``metrics.json`` beside the model) into ``agents/brains/<name>/`` and film it."""
    target = evaluation.BRAINS_DIR / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(brain.model_path, target / "model.zip")
    if brain.vecnormalize_path is not None:
        shutil.copy2(brain.vecnormalize_path, target / "vecnormalize.pkl")
    shutil.copy2(evaluation.run_dir_of(brain.model_path) / "config.yaml", target / "config.yaml")
    shutil.copy2(brain.model_path.parent / "metrics.json", target / "metrics.json")
    write_preview(name)
    return target


def write_preview(name: str, seconds: float = PREVIEW_SECONDS) -> Path:
    """Film the bundled brain ``name`` for ``seconds`` of simulated time into ``agents/brains/<name>/preview.gif``."""
    from agents import video

    brain = evaluation.find_brain(name)
    size = {"width": video.FRAME_WIDTH, "height": video.FRAME_HEIGHT}
    probe = evaluation.make_env(brain)
    steps = round(seconds / evaluation.single_env(probe).unwrapped.dt)  # Walker2d: 375 steps; the Ant: 60
    probe.close()
    venv = evaluation.make_env(brain, size, render_mode="rgb_array", max_episode_steps=steps)
    video.use_tracking_camera(evaluation.single_env(venv))
    episode = evaluation.rollout(evaluation.load_model(brain), venv, seed=EVAL_SEED, render=True)
    venv.close()
    frames = video.compose(episode.frames, episode.foot_contacts)
    return video.write_gif(evaluation.BRAINS_DIR / name / "preview.gif", frames, 1.0 / episode.dt)


#: Columns of the metrics table: (header, summary metric, per-foot?).
TABLE_COLUMNS = (
    ("falls", "fell"),
    ("speed m/s", "forward_speed"),
    ("drift m", "horizontal_drift"),
    ("pitch rad", "torso_pitch"),
    ("foot down", "ground_contact_fraction"),
    ("duty factors", "duty_factor"),
    ("alternation", "alternation"),
    ("flights/1000", "flight_phases_per_1000"),
    ("apex rise m", "mean_apex_rise"),
    ("gait", "gait"),
)
README_START, README_END = "<!-- brains:start -->", "<!-- brains:end -->"


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "mean" in value:
        return "n/a" if math.isnan(value["mean"]) else f"{value['mean']:.2f}"
    if isinstance(value, dict):
        return " / ".join(_cell(v) for v in value.values())
    return str(value)


def metrics_table() -> str:
    """Markdown table of every bundled brain's metrics.json (training cost, checks, gait metrics)."""
    header = ["brain", "env steps", "train min", "criteria", *(h for h, _ in TABLE_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, path in evaluation.bundled_brains().items():
        report = json.loads((path / "metrics.json").read_text())
        summary = report["evaluation"]["summary"]
        passed = sum(row["passed"] for row in report["criteria"])
        steps, seconds = report["training"]["env_steps"], report["training"]["wall_clock_seconds"]
        cells = [
            f"`{name}`",
            "n/a" if steps is None else f"{steps:,}",
            "n/a" if seconds is None else f"{seconds / 60:.1f}",
            f"{passed}/{len(report['criteria'])}" + (" pass" if report["passed"] else " **fail**"),
            *(_cell(summary.get(metric, "n/a")) for _, metric in TABLE_COLUMNS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme_table(readme: Path = Path("README.md")) -> None:
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ConfigError(f"{readme} has no {README_START} ... {README_END} section")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    previews = [
        f'<img src="{(path / "preview.gif").relative_to(readme.resolve().parent)}" width="320" alt="{name}">'
        for name, path in evaluation.bundled_brains().items()
        if (path / "preview.gif").is_file()
    ]
    gallery = "\n\n" + " ".join(previews) if previews else ""
    readme.write_text(f"{head}{README_START}\n{metrics_table()}{gallery}\n{README_END}{tail}")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m agents.brains", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("command", choices=["list", "train", "check", "bundle", "select", "table", "preview"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("target", nargs="?", help="bundle: a run directory or model .zip; select: a run")
    parser.add_argument("--steps", type=int, help="override the recipe's training steps")
    parser.add_argument("--runs", type=Path, default=Path("runs/brains"), help="where training runs go")
    parser.add_argument("--readme", action="store_true", help="with table: write it into README.md")
    args = parser.parse_args(argv)
    # Ctrl-C saves a checkpoint in the training run, even if a parent shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        recipes = load_recipes()
        if args.command == "list":
            bundled = evaluation.bundled_brains()
            for name, recipe in recipes.items():
                print(f"{name}\t{recipe['env_id']}\t{'bundled' if name in bundled else 'not bundled'}")
            return 0
        if args.command == "table":
            if args.readme:
                write_readme_table()
            print(metrics_table())
            return 0
        if args.name not in recipes:
            parser.error(f"unknown brain {args.name!r}; valid: {', '.join(recipes)}")
        recipe = recipes[args.name]
        if args.command == "preview":
            if args.name not in evaluation.bundled_brains():
                parser.error(f"{args.name!r} is not bundled yet; train it first: python -m agents.brains train NAME")
            print(f"wrote {write_preview(args.name)}")
            return 0
        if args.command == "train":
            report = train_brain(args.name, recipe, args.steps, args.runs)
            seconds = report["training"]["wall_clock_seconds"]
            print(f"{args.name}: trained {report['training']['env_steps']} steps in {seconds:.0f} s")
            if not report["passed"]:
                print(f"{args.name}: not bundled (criteria failed); the run and its metrics.json are in "
                      f"{report['run_dir']}")  # fmt: skip
        elif args.command in ("bundle", "select"):
            if args.target is None:
                what = "a run directory or model .zip" if args.command == "bundle" else "a run directory"
                parser.error(f"{args.command} needs {what}: python -m agents.brains {args.command} NAME RUN")
            target = args.target
            if args.command == "select":
                if not (Path(target) / "config.yaml").is_file():
                    parser.error(f"{target!r} is not a run directory (no config.yaml)")
                target = str(select_checkpoint(recipe, Path(target)))
            report = measure_run(args.name, recipe, target)
            if not report["passed"]:
                print(f"{args.name}: not bundled (criteria failed)")
        else:
            report = measure(args.name, recipe["criteria"], recipe.get("eval_env_kwargs"))
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 130
    print_checks(args.name, report["criteria"])
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
