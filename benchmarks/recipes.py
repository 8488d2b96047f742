"""A recipe over several seeds: how often it meets its definition, and what each seed cost.

Trains a recipe template on a body (or a bundled recipe by name) once per seed through the Ray sweep engine (a
local Ray by default, one trial at a time on a small machine; a cluster with ``--ray-address``), judges each final
model on the recipe's tests (its 10 test episodes), finds the first checkpoint that passes on validation episodes,
and prints a table: seed, definition met, training minutes and steps, steps to the first pass, stage advances.
Finished seeds are skipped when the same command runs again, unfinished ones resume from their checkpoints.

    python benchmarks/recipes.py walk --body Walker2d --seeds 0 1 2
    python benchmarks/recipes.py walker2d-jump --seeds 0 1 2 --ray-address auto --max-concurrent 3
    python benchmarks/recipes.py walk --body Walker2d --seeds 0 --steps 20000 --out table.md   # a quick look
    python benchmarks/recipes.py walk --body Walker2d --seeds 0 1 2 --report      # the table of the seeds done so far
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
import sys
from pathlib import Path

from agents.cli.parsing import OneLineParser, non_negative, positive, run_command
from agents.config import ConfigError, parse_override
from agents.constants import TEST_EPISODES, TEST_SEED
from agents.recipes.book import load_recipes, recipe_tests
from agents.recipes.templates import TEMPLATES, for_body
from agents.runs import checkpoint_paths, checkpoint_seconds, load_run_config, write_json, write_text
from agents.sweeps.runner import judge, run_sweep
from agents.sweeps.spec import parse_sweep, trial_dir
from agents.training.curriculum import stage_began
from agents.training.stopping import read_record, replay


def recipe_of(name: str, body: str | None) -> tuple[str, dict]:
    """The recipe to run: a template on ``body``, or a bundled recipe by name."""
    if name in TEMPLATES:
        if body is None:
            raise ConfigError(f"template {name!r} needs --body")
        return f"{name}-{body.rpartition(':')[2].lower()}", for_body(name, body)[1]
    recipes = load_recipes()
    if name not in recipes:
        raise ConfigError(
            f"{name!r} is neither a template ({', '.join(TEMPLATES)}) nor a recipe ({', '.join(recipes)})"
        )
    if body is not None:
        raise ConfigError(f"--body is for templates; the recipe {name!r} names its own env")
    return name, recipes[name]


def sweep_of(label: str, recipe: dict, seeds: list[int], steps: int | None, first_pass: int, episodes: int,
             overrides: list[str]) -> dict:  # fmt: skip
    """The sweep that runs ``recipe`` on ``seeds`` (with ``key=value`` ``overrides``), judged on its tests."""
    if "chain" in recipe or "distill" in recipe:
        raise ConfigError(f"{label}: a recipe with a chain or distillation is not one run per seed; run its template")
    settings = dict(recipe.get("settings") or {})
    if steps is not None:
        settings["total_steps"] = steps
        settings["curriculum"] = [s for s in settings.get("curriculum", []) if isinstance(s["until"], dict)
                                  or s["until"] < steps]  # fmt: skip
    for text in overrides:
        key, value = parse_override(text)
        settings[key] = value
    tests = [{"eval_env_kwargs": kwargs or {}, "criteria": criteria} for kwargs, criteria in recipe_tests(recipe)]
    return {"name": f"recipe-{label}", "env": recipe["env_id"], "algo": recipe["algo"], "seeds": seeds,
            "settings": settings, "episodes": episodes, "tests": tests, "first_pass": first_pass}  # fmt: skip


def replayed_stop(run_dir: Path, recipe: dict, training: dict, episodes: int) -> dict:
    """For a run trained without the recipe's ``stop_when``: the checkpoint where the rule would have stopped it, the
    minutes to it (without the checks' own time), and that checkpoint judged on the recipe's tests. Kept in the run's
    ``stop_replay.json`` with the rule it replayed."""
    rule = recipe["settings"]["stop_when"]
    record = run_dir / "stop_replay.json"
    if record.is_file():
        kept = json.loads(record.read_text())
        if kept.get("rule") == rule and kept.get("episodes") == episodes:
            return kept
    result = {"rule": rule, "episodes": episodes, "step": None, "checks": []}
    last = training["stages"] - 1
    if training["stage"] < last:
        result["reason"] = "never reached the last stage"
    else:
        result["step"], result["checks"] = replay(run_dir, rule, stage_began(run_dir, last))
        if result["step"] is not None:
            model = checkpoint_paths(run_dir / "checkpoints", result["step"]).model
            tests = [{"eval_env_kwargs": k or {}, "criteria": c} for k, c in recipe_tests(recipe)]
            judged = judge(model, tests, episodes, TEST_SEED)
            result.update(seconds=checkpoint_seconds(run_dir, result["step"]),
                          passed=all(t["passed"] for t in judged),
                          failed=[r["metric"] for t in judged for r in t["criteria"] if not r["passed"]])  # fmt: skip
    write_json(record, result)
    return result


def _stop_row(seed: int, run_dir: Path, recipe: dict, result: dict, episodes: int) -> str | None:
    """The row of the ``stop_when`` table for one finished seed (``None`` when the recipe has no stop rule)."""
    training = result["training"]
    if training.get("stopped_at") is not None:
        seconds = training.get("seconds_total", training.get("seconds"))
        minutes = "n/a" if seconds is None else f"{seconds / 60:.1f}"
        return f"| {seed} | {training['stopped_at']:,} | {minutes} | {'yes' if result.get('passed') else 'no'} |"
    if load_run_config(run_dir).stop_when:  # trained with the rule, which never fired
        checks = read_record(run_dir).get("checks", [])
        last = training["stage"] >= training["stages"] - 1
        return f"| {seed} | not stopped ({f'{len(checks)} checks' if last else 'never reached the last stage'}) | | |"
    if not recipe["settings"].get("stop_when"):
        return None
    replayed = replayed_stop(run_dir, recipe, training, episodes)
    if replayed["step"] is None:
        return f"| {seed} | never, replayed ({replayed.get('reason', 'no passes in a row')}) | | |"
    minutes = "n/a" if replayed["seconds"] is None else f"{replayed['seconds'] / 60:.1f}"
    verdict = "yes" if replayed["passed"] else f"no (failed: {', '.join(replayed['failed'])})"
    return f"| {seed} | {replayed['step']:,}, replayed | {minutes} | {verdict} |"


def table(label: str, sweep, sweep_dir: Path, recipe: dict | None = None) -> str:
    """The markdown table of a finished (or partly finished) recipe sweep; with ``recipe``, runs trained without its
    ``stop_when`` also get where the rule would have stopped them (:func:`replayed_stop`)."""
    lines = [f"Recipe `{label}` on `{sweep.env_id}`, {len(sweep.trials)} seeds", "",
             "| seed | meets definition | criteria passed | train min | steps | first pass (steps) | stage advances |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    stops = []
    met = 0
    for trial in sweep.trials:
        record = trial_dir(sweep_dir, trial) / "trial.json"
        if not record.is_file():
            lines.append(f"| {trial.seed} | not finished | | | | | |")
            continue
        result = json.loads(record.read_text())
        training = result["training"]
        tests = result.get("tests", [])
        rows = [(i, row) for i, test in enumerate(tests) for row in test["criteria"]]
        failed = [row["metric"] + (f" [test {i + 1}]" if i else "") for i, row in rows if not row["passed"]]
        seconds = training.get("seconds_total", training.get("seconds"))
        first = result.get("first_pass_steps")
        advances = ", ".join(f"{a['step']:,}" for a in training.get("advances", [])) or "none"
        met += bool(result.get("passed"))
        lines.append(
            f"| {trial.seed} | {'yes' if result.get('passed') else 'no'} | "
            f"{len(rows) - len(failed)}/{len(rows)}{' (failed: ' + ', '.join(failed) + ')' if failed else ''} | "
            f"{'n/a' if seconds is None else f'{seconds / 60:.1f}'} | {training['steps']:,} | "
            f"{'none' if first is None else f'{first:,}'} | {advances} |"
        )
        row = None if recipe is None else _stop_row(trial.seed, trial_dir(sweep_dir, trial), recipe, result,
                                                      sweep.episodes)  # fmt: skip
        if row is not None:
            stops.append(row)
    lines += ["", f"{met} of {len(sweep.trials)} seeds meet the definition."]
    if stops:
        header = ["| seed | stopped at (steps) | train min to it | meets definition there |", "|---|---|---|---|"]
        lines += ["", "Where `stop_when` stops each seed. Replayed: judged afterwards on the checkpoints of a run "
                  "trained without the rule, which learns what it learns with it (with a fixed thread count); its "
                  "minutes leave out the checks' own time.", "", *header, *stops]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="recipes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help=f"a template ({', '.join(TEMPLATES)}) with --body, or a bundled recipe's name")
    parser.add_argument("--body", help="the body a template runs on: a registered body (Walker2d, ...) or MODULE:BODY")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="override the recipe's training steps (a quick look)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--episodes", type=int, default=TEST_EPISODES, help="test episodes per test")
    parser.add_argument("--first-pass", type=int, default=5, help="validation episodes per checkpoint (0: skip)")
    parser.add_argument("--run-dir", type=Path, help="the sweep's folder (default runs/recipes/<recipe>)")
    parser.add_argument("--ray-address", help="a Ray cluster (default: a local Ray)")
    parser.add_argument("--max-concurrent", type=int, default=1, help="trials at once (default 1: a small machine)")
    parser.add_argument("--cpus-per-trial", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--report", action="store_true", help="only print the table of the seeds finished so far")
    args = parser.parse_args(argv)
    positive(parser, args, "steps", "episodes", "max_concurrent", "cpus_per_trial")
    non_negative(parser, args, "first_pass")
    return run_command(parser, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    label, recipe = recipe_of(args.recipe, args.body)
    sweep = parse_sweep(sweep_of(label, recipe, args.seeds, args.steps, args.first_pass, args.episodes, args.set),
                        "recipe")  # fmt: skip
    if args.out is not None and not args.out.parent.is_dir():
        raise ConfigError(f"--out {str(args.out)!r}: its folder does not exist")
    sweep_dir = args.run_dir or Path("runs/recipes") / label
    outcome = {"failed": {}}
    if not args.report:
        outcome = run_sweep(sweep, sweep_dir, address=args.ray_address, max_concurrent=args.max_concurrent,
                            cpus_per_trial=args.cpus_per_trial)  # fmt: skip
    text = table(label, sweep, sweep_dir, recipe)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
