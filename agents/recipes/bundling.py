"""Bundled brains: train one from its recipe, measure it against its definition, and bundle it if it passes."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch as th

import envs
from agents.brains import store
from agents.config import ConfigError, resolve_config
from agents.constants import TEST_EPISODES, TEST_SEED
from agents.evaluation import video
from agents.evaluation.criteria import check_criteria
from agents.evaluation.rollout import env_dt, evaluate_brain
from agents.recipes.book import env_body_and_task, recipe_tests, select_rules
from agents.recipes.selection import select_checkpoint
from agents.runs import checkpoint_seconds, copy_file, read_summary, training_seconds, write_json, write_text
from agents.training import distill
from agents.training.curriculum import read_advances
from agents.training.trainer import check_env_config, train

#: Length (simulated seconds) of the README preview GIF, filmed from the first test seed.
PREVIEW_SECONDS = 3.0


def measure(
    target: str,
    criteria: dict[str, dict[str, Any]],
    env_kwargs: dict[str, Any] | None = None,
    episodes: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``target`` over the standard episodes (or the first ``episodes`` of them; in its env, with
    ``env_kwargs`` overridden) and check it."""
    episodes = episodes or TEST_EPISODES
    evaluation = evaluate_brain(target, episodes=episodes, seed=TEST_SEED, env_kwargs=env_kwargs)
    result = evaluation.summary()
    checks = check_criteria(result["summary"], criteria)
    return {
        "evaluation": {
            "episodes": episodes,
            "seed": TEST_SEED,
            "deterministic": True,
            "env_kwargs": env_kwargs or {},
            **result,
        },
        "criteria": checks,
        "passed": all(row["passed"] for row in checks),
        "model_env_steps": int(evaluation.model.num_timesteps),
    }


def measure_recipe(target: Any, recipe: dict[str, Any], episodes: int | None = None) -> dict[str, Any]:
    """:func:`measure` on every test of ``recipe`` (:func:`agents.recipes.book.recipe_tests`): the first test's
    report, each further test's under ``also``; ``passed`` when every test passes."""
    (env_kwargs, criteria), *more = recipe_tests(recipe)
    report = measure(target, criteria, env_kwargs, episodes)
    if more:
        also = [measure(target, c, kwargs, episodes) for kwargs, c in more]
        report["also"] = [{key: r[key] for key in ("evaluation", "criteria", "passed")} for r in also]
        report["passed"] = report["passed"] and all(r["passed"] for r in also)
    return report


def all_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every criterion row of a report, its ``also`` tests' included."""
    return [*report["criteria"], *(row for test in report.get("also", []) for row in test["criteria"])]


def train_brain(
    name: str,
    recipe: dict[str, Any],
    steps: int | None,
    runs: Path,
    *,
    bundle: bool = True,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` into a new run under ``runs``, measure it, and (with ``bundle``) bundle it if it passes."""
    settings = dict(recipe.get("settings") or {})
    settings["seed"] = recipe.get("seed", 0)
    if steps is not None:
        settings["total_steps"] = steps
    run_dir = runs / f"{name}__{time.strftime('%Y%m%d-%H%M%S')}"
    # A chain: earlier runs first, each warm-started from the one before; the recipe's own settings start from the
    # last. Every run's settings are checked before the first trains (the chain's own runs do not exist yet).
    links = []
    for i, link in enumerate(recipe.get("chain") or [], 1):
        start = {"init_from": str(run_dir / f"chain-{i - 1}")} if i > 1 else {}
        links.append(resolve_config(recipe["env_id"], recipe["algo"], {**link, **start, "seed": settings["seed"]}))
    if links:
        settings["init_from"] = str(run_dir / f"chain-{len(links)}")
    config = resolve_config(recipe["env_id"], recipe["algo"], settings)
    for i, link in enumerate(links, 1):
        check_env_config(link, warm_start=i == 1)
    check_env_config(config, warm_start=not links)
    if "select" in recipe:
        select_rules(recipe, config.total_steps)
    command = command or [sys.executable, "-m", "agents", "brains", "train", name]
    for i, link in enumerate(links, 1):
        train(link, run_dir / f"chain-{i}", command=command)
    if "distill" in recipe:
        # First a student learns the teachers' gaits (agents.training.distill); reinforcement learning starts from it.
        rules = dict(recipe["distill"])
        teachers = rules.pop("teachers")
        student = distill.distill(config, teachers, run_dir / "student", **rules)
        config = resolve_config(recipe["env_id"], recipe["algo"], {**settings, "init_from": str(student)})
    train(config, run_dir, command=command)
    target = select_checkpoint(recipe, run_dir) if "select" in recipe else run_dir
    return measure_run(name, recipe, str(target), bundle=bundle)


def measure_run(name: str, recipe: dict[str, Any], target: str, *, bundle: bool = True) -> dict[str, Any]:
    """Measure a trained run (or one model of it, such as ``RUN/best/model.zip``) against ``name``'s criteria,
    write ``metrics.json`` beside the model, and (with ``bundle``) bundle it if it passes."""
    brain = store.find_brain(target)
    if brain.config.env_id != recipe["env_id"]:
        raise ConfigError(f"{target!r} was trained on {brain.config.env_id}; {name} is {recipe['env_id']}")
    run_dir = store.run_dir_of(brain.model_path)
    summary = read_summary(run_dir)
    report = measure_recipe(target, recipe)
    selection = brain.model_path.parent / "selection.json"
    if selection.is_file():
        report["selection"] = json.loads(selection.read_text())
    model_steps = report.pop("model_env_steps")
    seconds = _training_seconds(run_dir, summary)
    timed_steps = summary.get("steps")
    if model_steps != summary.get("steps"):  # a chosen checkpoint: the time to it, where its mark says
        to_model = checkpoint_seconds(run_dir, model_steps)
        if to_model is not None:
            seconds, timed_steps = to_model, model_steps
    report.update(
        name=name,
        env_id=brain.config.env_id,
        # What reproduces it: a template and a body (or the recipe's own settings), its overrides, and the seed.
        recipe={
            "template": recipe.get("template"),
            "body": recipe.get("body"),
            "overrides": recipe.get("overrides") or {},
            "seed": brain.config.seed,
        },
        run_dir=str(run_dir),
        training={
            "env_steps": summary.get("steps"),
            "model": str(brain.model_path.relative_to(run_dir)),
            "model_env_steps": model_steps,
            "wall_clock_seconds": seconds,
            "timed_steps": timed_steps,  # the env steps that wall_clock_seconds took
            "stage_advances": [a for a in read_advances(run_dir) if a["step"] <= model_steps],
            "stopped_at": summary.get("stopped_at"),
            "machine": f"{platform.machine()}, {th.get_num_threads()} torch threads, {_cpus()} CPUs",
        },
    )
    chain = _chain_runs(run_dir)
    if chain:
        report["training"]["chain"] = chain
    write_json(brain.model_path.parent / "metrics.json", report)
    if report["passed"] and bundle:
        bundle_brain(name, brain)
    return report


def _chain_runs(run_dir: Path) -> list[dict[str, Any]]:
    """Steps and wall-clock time of the runs a recipe's ``chain`` trained before ``run_dir`` (``chain-1`` on)."""
    links = []
    while (link := run_dir / f"chain-{len(links) + 1}").is_dir():
        summary = read_summary(link)
        links.append({"run": link.name, "env_steps": summary.get("steps"),
                      "wall_clock_seconds": _training_seconds(link, summary)})  # fmt: skip
    return links


def _training_seconds(run_dir: Path, summary: dict[str, Any]) -> float | None:
    """Training wall-clock time of a run: its ``summary``'s, or (stopped, or selected from mid-way) its
    ``time.json``'s."""
    if "seconds_total" in summary or "seconds" in summary:
        return summary.get("seconds_total", summary.get("seconds"))
    return training_seconds(run_dir) if (run_dir / "time.json").is_file() else None


def bundle_brain(name: str, brain: store.Brain) -> Path:
    """Copy a measured brain (its ``metrics.json`` beside the model) into ``agents/brains/bundled/<name>/`` and
    film it."""
    target = store.BRAINS_DIR / name
    target.mkdir(parents=True, exist_ok=True)
    copy_file(brain.model_path, target / "model.zip")
    if brain.vecnormalize_path is not None:
        copy_file(brain.vecnormalize_path, target / "vecnormalize.pkl")
    copy_file(store.run_dir_of(brain.model_path) / "config.yaml", target / "config.yaml")
    copy_file(brain.model_path.parent / "metrics.json", target / "metrics.json")
    write_preview(name)
    return target


def write_preview(name: str, seconds: float = PREVIEW_SECONDS) -> Path:
    """Film the bundled brain ``name`` for ``seconds`` of simulated time into
    ``agents/brains/bundled/<name>/preview.gif``."""
    brain = store.find_brain(name)
    dt = env_dt(brain.config.env_id, brain.config.env_kwargs)
    steps = round(seconds / dt)  # Walker2d: 375 steps; Ant: 60
    every = video.frame_stride(1.0 / dt, video.GIF_FPS)  # render only the frames the GIF keeps
    episode = evaluate_brain(brain, episodes=1, seed=TEST_SEED, render=True, max_episode_steps=steps,
                             frame_every=every).episodes[0]  # fmt: skip
    frames = video.compose(episode.frames, episode.foot_contacts, episode.frame_every)
    return video.write_gif(store.BRAINS_DIR / name / "preview.gif", frames, 1.0 / (dt * episode.frame_every))


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
    ("two-footed landings", "two_footed_landings"),
    ("gait", "gait"),
)
README_START, README_END = "<!-- brains:start -->", "<!-- brains:end -->"
PREVIEWS_START, PREVIEWS_END = "<!-- previews:start -->", "<!-- previews:end -->"


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "mean" in value:
        return "n/a" if math.isnan(value["mean"]) else f"{value['mean']:.2f}"
    if isinstance(value, dict):
        return " / ".join(_cell(v) for v in value.values())
    return str(value)


def metrics_table() -> str:
    """Markdown table of every bundled brain's metrics.json (training cost, checks, gait metrics), grouped by body
    in the order the bodies are registered."""
    header = ["body", "brain", "env steps", "train min", "criteria", *(h for h, _ in TABLE_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    reports = {name: json.loads((path / "metrics.json").read_text()) for name, path in store.bundled_brains().items()}
    order = {body: i for i, body in enumerate(envs.BODIES)}
    bodies = {name: env_body_and_task(report["env_id"])[0] for name, report in reports.items()}
    for name in sorted(reports, key=lambda n: (order.get(bodies[n], len(order)), bodies[n], n)):
        report = reports[name]
        summary = report["evaluation"]["summary"]
        checks = all_checks(report)
        passed = sum(row["passed"] for row in checks)
        training = report["training"]
        steps, seconds = training.get("timed_steps", training["env_steps"]), training["wall_clock_seconds"]
        chain = report["training"].get("chain", [])  # the runs its recipe trains first count as well
        if steps is not None:
            steps += sum(link["env_steps"] or 0 for link in chain)
        if seconds is not None:
            seconds += sum(link["wall_clock_seconds"] or 0.0 for link in chain)
        cells = [
            bodies[name],
            f"`{name}`",
            "n/a" if steps is None else f"{steps:,}",
            "n/a" if seconds is None else f"{seconds / 60:.1f}",
            f"{passed}/{len(checks)}" + (" pass" if report["passed"] else " **fail**"),
            *(_cell(summary.get(metric, "n/a")) for _, metric in TABLE_COLUMNS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _replace_block(text: str, start: str, end: str, body: str, readme: Path) -> str:
    if start not in text or end not in text:
        raise ConfigError(f"{readme} has no {start} ... {end} section")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def write_readme_table(readme: Path = Path("README.md")) -> None:
    """Rewrite the README's brains table and its row of preview GIFs from the bundled brains."""
    text = readme.read_text()
    previews = [
        f'<img src="{(path / "preview.gif").resolve().relative_to(readme.resolve().parent)}" width="320" alt="{name}">'
        for name, path in store.bundled_brains().items()
        if (path / "preview.gif").is_file()
    ]
    text = _replace_block(text, PREVIEWS_START, PREVIEWS_END, " ".join(previews), readme)
    text = _replace_block(text, README_START, README_END, metrics_table(), readme)
    write_text(readme, text)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
