"""Bundled brain recipes and the criteria that define each gait."""

import json
import math

import pytest

import envs
from agents.brains import check_criteria, load_recipes
from agents.config import resolve_config
from agents.evaluation import bundled_brains, find_brain

SUMMARY = {
    "fell": 0,
    "forward_speed": {"mean": 0.95, "std": 0.02},
    "duty_factor": {"right": {"mean": 0.55, "std": 0.0}, "left": {"mean": 0.25, "std": 0.0}},
    "alternation": {"mean": math.nan, "std": math.nan},
    "gait": "walk",
}


def test_criteria_rows():
    rows = check_criteria(
        SUMMARY,
        {
            "fell": {"max": 0},
            "forward_speed": {"min": 0.8, "max": 1.2},
            "duty_factor": {"min": 0.3},
            "alternation": {"min": 0.8},
            "gait": {"equals": "jump"},
        },
    )
    verdicts = {row["metric"]: row["passed"] for row in rows}
    assert verdicts == {
        "fell": True,
        "forward_speed": True,
        "duty_factor (right)": True,
        "duty_factor (left)": False,
        "alternation": False,  # NaN never passes
        "gait": False,
    }


def test_a_criterion_can_judge_the_worst_episode():
    summary = {"horizontal_drift": {"mean": 0.4, "std": 0.5, "min": 0.1, "max": 1.3}}
    mean, worst = (
        check_criteria(summary, {"horizontal_drift": {"max": 1.0}}),
        check_criteria(summary, {"horizontal_drift": {"max": 1.0, "of": "max"}}),
    )
    assert mean[0]["passed"] and mean[0]["value"] == 0.4
    assert not worst[0]["passed"] and worst[0]["value"] == 1.3
    with pytest.raises(ValueError, match="of='worst' is not valid; choose from: mean, min, max"):
        check_criteria(summary, {"horizontal_drift": {"max": 1.0, "of": "worst"}})


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown metric 'speed' in criteria; valid: fell, forward_speed"):
        check_criteria(SUMMARY, {"speed": {"min": 1}})


def test_every_recipe_resolves():
    recipes = load_recipes()
    assert {"walker2d-walk", "walker2d-jump", "hopper-jump", "ant-walk"} <= set(recipes)
    for name, recipe in recipes.items():
        settings = {**recipe.get("settings", {}), "seed": recipe.get("seed", 0)}
        config = resolve_config(recipe["env_id"], recipe["algo"], settings)
        assert config.total_steps > 0, name


def test_bundled_brains_are_complete():
    recipes = load_recipes()
    for name, path in bundled_brains().items():
        assert (path / "metrics.json").is_file(), name
        brain = find_brain(name)
        assert brain.model_path.is_file()
        # Trained in the env its recipe names, and that env still exists (a reward change bumps the id).
        assert brain.config.env_id == recipes[name]["env_id"], name
        envs.resolve_env_id(brain.config.env_id)
        preview = path / "preview.gif"
        assert 0 < preview.stat().st_size < 2_000_000, name


def test_bundle_measures_a_run_and_bundles_only_a_pass(tmp_path, monkeypatch):
    from agents import brains, evaluation
    from agents.training import train

    run = tmp_path / "walker"
    settings = {"total_steps": 128, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), run, progress=False)
    monkeypatch.setattr(evaluation, "BRAINS_DIR", tmp_path / "brains")
    monkeypatch.setattr(brains, "EVAL_EPISODES", 2)
    filmed = []
    monkeypatch.setattr(brains, "write_preview", filmed.append)
    recipe = {"env_id": "neuromotor/Walker2d-Walk-v1", "algo": "rppo", "criteria": {"fell": {"max": 0}}}
    # An untrained walker falls: measured, metrics written beside the model, not bundled.
    report = brains.measure_run("tiny", recipe, str(run))
    assert not report["passed"] and not (tmp_path / "brains" / "tiny").exists()
    assert json.loads((run / "metrics.json").read_text())["training"]["env_steps"] == 128
    passing = {**recipe, "criteria": {"fell": {"max": 2}}}
    report = brains.measure_run("tiny", passing, str(run))
    assert report["passed"] and filmed == ["tiny"]
    assert {p.name for p in (tmp_path / "brains" / "tiny").iterdir()} == {
        "model.zip",
        "vecnormalize.pkl",
        "config.yaml",
        "metrics.json",
    }
    with pytest.raises(ValueError, match="was trained on neuromotor/Walker2d-Walk-v1"):
        brains.measure_run("tiny", {**passing, "env_id": "neuromotor/Walker2d-Jump-v3"}, str(run))
