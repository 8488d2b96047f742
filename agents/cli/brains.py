"""``neuromotor brains``: train a bundled brain from its recipe, measure it against its definition, and ship it.

neuromotor brains list                      # the brains by body: gait, template, bundled or not
neuromotor brains train walker2d-walk       # train, evaluate, check; bundle into agents/brains/bundled/<name>/
neuromotor brains train walk --body Hopper  # a template (walk, jump, switch) on any body, into runs/brains/
neuromotor brains train walk --body mybodies:Biped   # ... on a body your module registers (envs.register_body)
neuromotor brains check walker2d-walk       # re-measure a bundled brain against its criteria
neuromotor brains bundle walker2d-jump RUN  # measure a run (or RUN/best/model.zip); bundle it if it passes
neuromotor brains select walker2d-jump RUN  # choose the run's checkpoint on validation seeds; measure, bundle
neuromotor brains table [--readme]          # the metrics table (and the README's table and previews)
neuromotor brains preview walker2d-walk     # (re)write its README GIF, agents/brains/bundled/<name>/preview.gif
neuromotor brains film [NAME] [--out DIR]   # film every bundled brain (or one) in its test env: videos/<name>.mp4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import envs
from agents.brains.store import bundled_brains
from agents.cli.parsing import OneLineParser, non_negative, positive, run_command
from agents.config import parse_override
from agents.recipes import bundling
from agents.recipes.book import body_and_gait, load_recipes
from agents.recipes.selection import select_checkpoint
from agents.recipes.templates import TEMPLATES, for_body

COMMANDS = ("list", "train", "check", "bundle", "select", "table", "preview", "film")
#: Steps a film shows of a brain with one gait, and after the last command of a test schedule that switches.
FILM_STEPS, FILM_AFTER_LAST = 500, 250


def film_steps(env_kwargs: dict[str, Any] | None) -> int:
    """How long a brain's film runs: :data:`FILM_STEPS`, or through every command of its test schedule and
    :data:`FILM_AFTER_LAST` steps beyond the last (the switching brain's walk, jump, walk, jump)."""
    schedule = str((env_kwargs or {}).get("schedule") or "")
    starts = [int(part.rsplit("@", 1)[1]) for part in schedule.split(",") if "@" in part]
    return max(FILM_STEPS, max(starts, default=0) + FILM_AFTER_LAST)


def film(recipes: dict[str, dict[str, Any]], names: list[str], out: Path, jobs: int = 2) -> int:
    """Film each bundled brain's first test episode in its test env (its recipe's schedule) into ``out/NAME.mp4``,
    ``jobs`` at a time, each on one core (one torch and one renderer thread); returns the worst exit status."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LP_NUM_THREADS": "1"}
    commands = []
    for name in names:
        kwargs = recipes[name].get("eval_env_kwargs") or {}
        command = [sys.executable, "-m", "agents", "evaluate", name, "--episodes", "1", "--steps",
                   str(film_steps(kwargs)), "--video", str(out / f"{name}.mp4")]  # fmt: skip
        commands.append(command + (["--env-kwargs", json.dumps(kwargs)] if kwargs else []))
    worst = 0
    running: list[subprocess.Popen] = []
    for command in commands:
        while len(running) >= jobs:
            worst = max(worst, _status(running.pop(0).wait()))
        running.append(subprocess.Popen(command, env=env))
    for process in running:
        worst = max(worst, _status(process.wait()))
    return worst


def _status(code: int) -> int:
    """A child's exit code as ours: a child killed by a signal (a negative code) fails too."""
    return 0 if code == 0 else max(code, 1)


def print_checks(name: str, checks: list[dict[str, Any]]) -> None:
    for row in checks:
        value = row["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name}: {'PASS' if row['passed'] else 'FAIL'} {row['metric']} = {shown} (want {row['rule']})")


def brain_list(recipes: dict[str, dict[str, Any]], bundled: Any) -> str:
    """The recipes by body: each brain's gait, template (or its own recipe), env and whether it is bundled; every
    registered body without a recipe gets the command that trains it one."""
    by_body: dict[str, list[str]] = {body: [] for body in envs.BODIES}
    for name, recipe in recipes.items():
        body, gait = body_and_gait(recipe)
        how = f"template {recipe['template']}" if "template" in recipe else "own recipe"
        state = "bundled" if name in bundled else "not bundled"
        by_body.setdefault(body, []).append(f"  {name:<28} {gait:<7} {how:<16} {recipe['env_id']:<34} {state}")
    lines = []
    for body, rows in by_body.items():
        lines.append(f"{body}:")
        lines += rows or [f"  no brain yet; train one: neuromotor brains train walk --body {body}"]
    return "\n".join(lines) + "\n"


def _brains(args: argparse.Namespace, parser: OneLineParser) -> int:
    recipes = load_recipes()
    if args.command == "list":
        print(brain_list(recipes, bundled_brains()), end="")
        return 0
    if args.command == "table":
        if args.readme:
            bundling.write_readme_table()
        print(bundling.metrics_table())
        return 0
    if args.command == "film":
        names = [args.name] if args.name else list(bundled_brains())
        unknown = [n for n in names if n not in bundled_brains()]
        if unknown:
            parser.error(f"{unknown[0]!r} is not a bundled brain; valid: {', '.join(bundled_brains())}")
        return film(recipes, names, args.out)
    if args.body is not None:
        if args.command != "train":
            parser.error(f"--body is for train (a template on a body), not {args.command}")
        return _train_on_body(args, parser)
    if args.seed is not None or args.set:
        parser.error("--seed and --set are for train with --body; a bundled recipe names its own settings")
    if args.name is None:
        parser.error(f"{args.command} needs a brain name: neuromotor brains {args.command} NAME; valid: "
                     f"{', '.join(recipes)}")  # fmt: skip
    if args.name not in recipes:
        parser.error(f"unknown brain {args.name!r}; valid: {', '.join(recipes)}")
    recipe = recipes[args.name]
    if args.command == "preview":
        if args.name not in bundled_brains():
            parser.error(f"{args.name!r} is not bundled yet; train it first: neuromotor brains train NAME")
        print(f"wrote {bundling.write_preview(args.name)}")
        return 0
    if args.command == "train":
        report = bundling.train_brain(args.name, recipe, args.steps, args.runs)
        seconds = report["training"]["wall_clock_seconds"]
        print(f"{args.name}: trained {report['training']['env_steps']} steps in {seconds:.0f} s")
        if not report["passed"]:
            print(f"{args.name}: not bundled (criteria failed); the run and its metrics.json are in "
                  f"{report['run_dir']}")  # fmt: skip
    elif args.command in ("bundle", "select"):
        if args.target is None:
            what = "a run directory or model .zip" if args.command == "bundle" else "a run directory"
            parser.error(f"{args.command} needs {what}: neuromotor brains {args.command} NAME RUN")
        target = args.target
        if args.command == "select":
            if not (Path(target) / "config.yaml").is_file():
                parser.error(f"{target!r} is not a run directory (no config.yaml)")
            target = str(select_checkpoint(recipe, Path(target)))
        report = bundling.measure_run(args.name, recipe, target)
        if not report["passed"]:
            print(f"{args.name}: not bundled (criteria failed)")
    else:
        report = bundling.measure_recipe(args.name, recipe)
    print_checks(args.name, bundling.all_checks(report))
    return 0 if report["passed"] else 1


def _train_on_body(args: argparse.Namespace, parser: OneLineParser) -> int:
    """A template on a body, trained, measured against the template's definition, and kept in its run directory
    (``metrics.json`` beside the model), not bundled: the bundled brains are the recipes of ``recipes.yaml``."""
    if args.name not in TEMPLATES:
        parser.error(f"train --body takes a template, not {args.name!r}; valid: {', '.join(TEMPLATES)}")
    name, recipe = for_body(args.name, args.body, args.seed or 0)
    for text in args.set:
        key, value = parse_override(text)
        if key == "seed":
            parser.error("the seed of train --body is --seed N, not --set seed=N")
        recipe["settings"][key] = recipe["overrides"][key] = value
    command = [sys.executable, "-m", "agents", "brains", "train", args.name, "--body", args.body]
    command += ["--seed", str(args.seed)] if args.seed is not None else []
    command += [arg for text in args.set for arg in ("--set", text)]
    report = bundling.train_brain(name, recipe, args.steps, args.runs, bundle=False, command=command)
    seconds = report["training"]["wall_clock_seconds"]
    print(f"{name}: trained {report['training']['env_steps']} steps in {seconds:.0f} s; "
          f"{'meets' if report['passed'] else 'does not meet'} the {args.name} definition")  # fmt: skip
    print_checks(name, bundling.all_checks(report))
    run = report["run_dir"]
    print(f"{name}: run and metrics.json in {run}; watch it: neuromotor evaluate {run} --video videos/{name}.mp4")
    return 0 if report["passed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="neuromotor brains", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("name", nargs="?")
    parser.add_argument("target", nargs="?", help="bundle: a run directory or model .zip; select: a run")
    parser.add_argument("--body", help="train: a template (NAME is walk, jump or switch) on this body, "
                        "registered or MODULE:BODY")  # fmt: skip
    parser.add_argument("--seed", type=int, help="train --body: the seed (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="train --body: override a setting of the template")  # fmt: skip
    parser.add_argument("--steps", type=int, help="override the recipe's training steps")
    parser.add_argument("--runs", type=Path, default=Path("runs/brains"), help="where training runs go")
    parser.add_argument("--readme", action="store_true", help="with table: write it into README.md")
    parser.add_argument("--out", type=Path, default=Path("videos"), help="film: where the videos go")
    args = parser.parse_args(argv)
    positive(parser, args, "steps")
    non_negative(parser, args, "seed")
    return run_command(parser, lambda: _brains(args, parser))
