"""Recipe templates: every template resolves on every body (the plug-in biped too), and each gait kind trains end to
end on a tiny budget."""

from __future__ import annotations

import json

import plugin_env  # noqa: F401  (registers PluginBiped)
import pytest

import envs
from agents.brains import store
from agents.config import ConfigError, resolve_config
from agents.recipes import bundling
from agents.recipes.templates import TEMPLATES, brain_name, expand
from agents.training.trainer import check_env_config, train

BODIES = sorted(envs.BODIES)
#: A tiny budget: two envs, rollouts of 128 steps, a small LSTM.
TINY = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy": {"lstm_hidden_size": 16},
        "total_steps": 256, "checkpoint_freq": 128, "threads": 1, "stop_when": {}}  # fmt: skip


def config_of(kind: str, body: str, **overrides):
    recipe = expand(f"{body}-{kind}", {"template": kind, "body": body, "overrides": overrides})
    return recipe, resolve_config(recipe["env_id"], recipe["algo"], {**recipe["settings"], "seed": recipe["seed"]})


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("kind", ["walk", "jump"])
def test_every_template_resolves_on_every_body(kind, body):
    recipe, config = config_of(kind, body)
    assert recipe["env_id"] == envs.env_id(body, "clock") and recipe["template"] == kind
    check_env_config(config)  # every stage's env builds with its settings, every signal is a term of the task
    spec = envs.BODIES[body]
    speeds = [test["eval_env_kwargs"].get("schedule", "") for test in recipe.get("also", [])]
    if kind == "walk":  # speeds scale with the body's walk speed
        assert recipe["eval_env_kwargs"]["schedule"] == f"walk:{spec.walk_speed:.3g}@0"
        assert speeds == [f"walk:{0.6 * spec.walk_speed:.3g}@0,walk:{1.2 * spec.walk_speed:.3g}@333,"
                          f"walk:{0.8 * spec.walk_speed:.3g}@666"]  # fmt: skip
        assert ("alternation" in recipe["criteria"]) == (len(spec.feet) == 2)


@pytest.mark.parametrize("body", BODIES)
def test_the_switch_template_names_the_bodys_own_brains(body):
    recipe, config = config_of("switch", body)
    assert config.init_from == brain_name(body, "walk") == f"{body.lower()}-walk"
    assert config.kickstart["teachers"] == {"walk": f"{body.lower()}-walk", "jump": f"{body.lower()}-jump"}
    assert "switches_followed" in recipe["criteria"]


def test_overrides_merge_into_the_template():
    _, config = config_of("walk", "Walker2d", env_kwargs={"speed_weight": 0.5}, total_steps=100_000)
    assert config.env_kwargs["speed_weight"] == 0.5 and config.env_kwargs["gaits"] == ["walk"]
    assert config.total_steps == 100_000


def test_a_template_run_stops_on_its_own_tests_unless_told_not_to():
    recipe, config = config_of("walk", "Walker2d")
    tests = [{"eval_env_kwargs": recipe["eval_env_kwargs"], "criteria": recipe["criteria"]}, *recipe["also"]]
    assert config.stop_when == {"tests": tests, "episodes": 5, "times": 2}
    recipe, config = config_of("jump", "Walker2d")
    assert config.stop_when["tests"] == [{"eval_env_kwargs": {}, "criteria": recipe["criteria"]}]
    assert config_of("walk", "Walker2d", stop_when={})[1].stop_when == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"template": "run", "body": "Walker2d"}, "template 'run' is not one of walk, jump, switch"),
        ({"template": "walk", "body": "Biped"}, "body 'Biped' is not registered; valid: Walker2d"),
        ({"template": "walk", "body": "Walker2d", "steps": 5}, "unknown key(s) steps; valid: template, body, seed"),
        ({"template": "walk", "body": "Walker2d", "overrides": [1]}, "overrides must be a mapping of settings"),
    ],
)
def test_bad_template_entries(entry, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand("x", entry)


def test_each_gait_kind_trains_end_to_end(tmp_path, monkeypatch):
    recipe, walk = config_of("walk", "Walker2d", **TINY)
    summary = train(walk, tmp_path / "walk", progress=False)
    assert summary["steps"] == 256
    # Measured as bundling measures: metrics.json records what reproduces it and its stage advances.
    monkeypatch.setattr(bundling, "TEST_EPISODES", 1)
    monkeypatch.setattr(store, "BRAINS_DIR", tmp_path / "brains")
    monkeypatch.setattr(bundling, "write_preview", lambda name: None)
    bundling.measure_run("walker2d-walk", recipe, str(tmp_path / "walk"))
    metrics = json.loads((tmp_path / "walk" / "metrics.json").read_text())
    assert metrics["recipe"] == {"template": "walk", "body": "Walker2d", "overrides": TINY, "seed": 0}
    assert metrics["training"]["stage_advances"] == summary["advances"]
    assert len(metrics["also"]) == 1  # the walk speed first, then the three-speed schedule
    _, jump = config_of("jump", "Walker2d", **TINY)
    summary = train(jump, tmp_path / "jump", progress=False)
    assert summary["steps"] == 256 and summary["stage"] == 0 and summary["stages"] == len(jump.curriculum) + 1
    # The switch starts from and is taught by the walk run here (bundled brain names in the real recipe).
    walker = str(tmp_path / "walk")
    _, switch = config_of("switch", "Walker2d", **TINY, init_from=walker,
                          kickstart={"teachers": {"walk": walker, "jump": walker}})  # fmt: skip
    summary = train(switch, tmp_path / "switch", progress=False)
    assert summary["steps"] == 256


def test_every_template_is_listed():
    assert set(TEMPLATES) == {"walk", "jump", "switch"}


def test_a_plug_in_body_trains_evaluates_and_films_in_one_command_each(tmp_path, monkeypatch, capsys):
    """``neuromotor brains train walk --body MODULE:BODY`` on the test biped: trained, measured against the walk
    definition into its own run directory (not bundled), then evaluated and filmed from that run alone."""
    from agents.cli import brains
    from agents.cli.evaluate import evaluate_main

    monkeypatch.setattr(bundling, "TEST_EPISODES", 1)
    monkeypatch.setattr(store, "BRAINS_DIR", tmp_path / "bundled")
    tiny = [
        "n_envs=2",
        "n_steps=64",
        "batch_size=64",
        "n_epochs=1",
        "policy.lstm_hidden_size=8",
        "checkpoint_freq=0",
        "stop_when={}",
    ]
    argv = ["train", "walk", "--body", "plugin_env:PluginBiped", "--seed", "3", "--steps", "128",
            "--runs", str(tmp_path / "runs"), *[arg for text in tiny for arg in ("--set", text)]]  # fmt: skip
    assert brains.main(argv) == 1  # 128 steps do not walk
    out = capsys.readouterr().out
    assert "pluginbiped-walk: trained 128 steps" in out and "does not meet the walk definition" in out
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["env_id"] == "plugin_env:neuromotor/PluginBiped-Clock-v4" and not metrics["passed"]
    assert metrics["recipe"]["template"] == "walk" and metrics["recipe"]["body"] == "PluginBiped"
    assert metrics["recipe"]["seed"] == 3 and metrics["recipe"]["overrides"]["policy.lstm_hidden_size"] == 8
    assert "--body plugin_env:PluginBiped" in (run / "command.txt").read_text()
    assert not (tmp_path / "bundled").exists()
    video = tmp_path / "walk.mp4"
    assert evaluate_main([str(run), "--episodes", "1", "--steps", "20", "--video", str(video)]) == 0
    assert video.stat().st_size > 0
