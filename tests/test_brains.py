"""Bundled brain recipes and the criteria that define each gait."""

import json
import math
from pathlib import Path

import pytest

import envs
from agents.brains import store
from agents.brains.store import bundled_brains, find_brain
from agents.config import resolve_config
from agents.constants import TEST_EPISODES, TEST_SEED, VALIDATION_SEED
from agents.evaluation import rollout as evaluation
from agents.evaluation.criteria import check_criteria
from agents.recipes import bundling, selection
from agents.recipes.book import load_recipes, select_rules

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
    assert {"walker2d-walk", "walker2d-jump", "walker2d-gait", "hopper-jump", "ant-walk"} <= set(recipes)
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


#: Steps each bundled brain runs in the no-fall check: long enough to show a walk's strides, a jump's flights and the
#: first switch of the gait brain's schedule.
NO_FALL_STEPS = 300


@pytest.mark.parametrize("name", sorted(bundled_brains()))
def test_every_bundled_brain_stays_up(name):
    """Each bundled brain, in its test env, stays up for its first test episode's first 300 steps: a library upgrade
    or an env change that breaks a brain fails here."""
    recipe = load_recipes()[name]
    episode = evaluation.evaluate_brain(
        name, episodes=1, seed=TEST_SEED, env_kwargs=recipe.get("eval_env_kwargs"), max_episode_steps=NO_FALL_STEPS
    ).episodes[0]
    assert not episode.fell, f"{name} fell after {len(episode.rewards)} steps"
    assert len(episode.rewards) == NO_FALL_STEPS


def test_bundle_measures_a_run_and_bundles_only_a_pass(tmp_path, monkeypatch):
    from agents.training.trainer import train

    run = tmp_path / "walker"
    settings = {"total_steps": 128, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), run, progress=False)
    monkeypatch.setattr(store, "BRAINS_DIR", tmp_path / "brains")
    monkeypatch.setattr(bundling, "TEST_EPISODES", 2)
    filmed = []
    monkeypatch.setattr(bundling, "write_preview", filmed.append)
    recipe = {"env_id": "neuromotor/Walker2d-Walk-v1", "algo": "rppo", "criteria": {"fell": {"max": 0}}}
    # An untrained walker falls: measured, metrics written beside the model, not bundled.
    report = bundling.measure_run("tiny", recipe, str(run))
    assert not report["passed"] and not (tmp_path / "brains" / "tiny").exists()
    assert json.loads((run / "metrics.json").read_text())["training"]["env_steps"] == 128
    passing = {**recipe, "criteria": {"fell": {"max": 2}}}
    report = bundling.measure_run("tiny", passing, str(run))
    assert report["passed"] and filmed == ["tiny"]
    assert {p.name for p in (tmp_path / "brains" / "tiny").iterdir()} == {
        "model.zip",
        "vecnormalize.pkl",
        "config.yaml",
        "metrics.json",
    }
    with pytest.raises(ValueError, match="was trained on neuromotor/Walker2d-Walk-v1"):
        bundling.measure_run("tiny", {**passing, "env_id": "neuromotor/Walker2d-Jump-v3"}, str(run))


def _tiny_run(path, **extra):
    from agents.training.trainer import train

    settings = {"total_steps": 128, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0, **extra}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), path, progress=False)
    return path


def _script_scores(monkeypatch, passes, met=lambda steps, i: 0):
    """Fake validation episodes: ``passes(steps, episode index)`` says whether each passes, ``met`` how many criteria
    it meets; returns the calls."""
    calls = []

    def fake_episodes(target, env_kwargs, first_seed, count):
        steps = int(Path(target).name.split("_")[1])
        calls.append((steps, first_seed - VALIDATION_SEED, count))
        return [(steps, first_seed - VALIDATION_SEED + i) for i in range(count)], steps

    monkeypatch.setattr(selection, "run_episodes", fake_episodes)
    monkeypatch.setattr(
        selection, "criteria_met", lambda eps, criteria: (sum(passes(*ep) for ep in eps), sum(met(*ep) for ep in eps))
    )
    return calls


def test_select_ranks_checkpoints_on_validation_seeds_only(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path / "walker", checkpoint_freq=32)
    assert sorted(p.name for p in (run / "checkpoints").glob("*.zip")) == [
        "ckpt_128_steps.zip", "ckpt_32_steps.zip", "ckpt_64_steps.zip", "ckpt_96_steps.zip"]  # fmt: skip
    # 32 passes its first 4 episodes and then fails; 96 passes all but its first; 64 passes half; 128 none.
    scripted = {32: lambda i: i < 4, 64: lambda i: i % 2 == 0, 96: lambda i: i > 0, 128: lambda i: False}
    calls = _script_scores(monkeypatch, lambda steps, i: scripted[steps](i))
    recipe = {"env_id": "neuromotor/Walker2d-Walk-v1", "criteria": {"fell": {"max": 0}},
              "select": {"from": 32, "every": 32, "screen": 4, "confirm": 6, "finalists": 2}}  # fmt: skip
    chosen = selection.select_checkpoint(recipe, run, log=lambda _: None)
    # All four screened on validation episodes 0-3; the two best (32: 4/4, 96: 3/4) ran episodes 4-9.
    assert calls == [(32, 0, 4), (64, 0, 4), (96, 0, 4), (128, 0, 4), (32, 4, 6), (96, 4, 6)]
    record = json.loads((run / "selected" / "selection.json").read_text())
    assert record["chosen"] == 96  # 9/10 beats 32's 4/10: the confirmation overturns the screening
    assert record["seed"] == VALIDATION_SEED and VALIDATION_SEED >= TEST_SEED + TEST_EPISODES
    assert {s["steps"]: (s["passed"], s["episodes"]) for s in record["scores"]} == {
        32: (4, 10), 64: (2, 4), 96: (9, 10), 128: (0, 4)}  # fmt: skip
    assert chosen == run / "selected" / "model.zip"
    checkpoints = run / "checkpoints"
    assert chosen.read_bytes() == (checkpoints / "ckpt_96_steps.zip").read_bytes()
    assert (run / "selected" / "vecnormalize.pkl").read_bytes() == (
        checkpoints / "ckpt_vecnormalize_96_steps.pkl").read_bytes()  # fmt: skip
    # Ties go to the later checkpoint; `from` and `every` (in env steps) thin the candidates.
    calls = _script_scores(monkeypatch, lambda steps, i: True)
    recipe["select"] = {"from": 64, "every": 64, "screen": 2, "confirm": 0}
    selection.select_checkpoint(recipe, run, log=lambda _: None)
    assert calls == [(64, 0, 2), (128, 0, 2)]
    assert json.loads((run / "selected" / "selection.json").read_text())["chosen"] == 128
    # Where no episode passes, the checkpoint meeting most criteria per episode wins.
    _script_scores(monkeypatch, lambda steps, i: False, met=lambda steps, i: {64: 3, 128: 2}[steps])
    selection.select_checkpoint(recipe, run, log=lambda _: None)
    record = json.loads((run / "selected" / "selection.json").read_text())
    assert record["chosen"] == 64
    assert [(s["steps"], s["passed"], s["criteria_met"]) for s in record["scores"]] == [(64, 0, 6), (128, 0, 4)]


def test_select_candidates_are_spaced_in_steps_not_on_a_grid():
    from agents.recipes.selection import _candidates

    # A run resumed from a Ctrl-C checkpoint at 1,206,272 steps saves later ones off the 50k grid.
    steps = [1_100_000, 1_150_000, 1_200_000, 1_206_272, 1_256_272, 1_306_272, 1_356_272]
    assert _candidates(steps, 1_100_000, 100_000) == [1_100_000, 1_200_000, 1_306_272]
    assert _candidates(steps, 0, 1) == steps


def test_select_measures_real_episodes_and_bundles_the_choice(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path / "walker", checkpoint_freq=64)
    monkeypatch.setattr(store, "BRAINS_DIR", tmp_path / "brains")
    monkeypatch.setattr(bundling, "TEST_EPISODES", 1)
    monkeypatch.setattr(bundling, "write_preview", lambda name: None)
    seeds = []
    rollout = evaluation.rollout
    monkeypatch.setattr(evaluation, "rollout", lambda *a, **k: seeds.append(k["seed"]) or rollout(*a, **k))
    recipe = {"env_id": "neuromotor/Walker2d-Walk-v1", "algo": "rppo", "criteria": {"length": {"min": 1}},
              "select": {"every": 64, "screen": 1, "confirm": 1, "finalists": 1}}  # fmt: skip
    report = bundling.measure_run("tiny", recipe, str(selection.select_checkpoint(recipe, run, log=lambda _: None)))
    assert seeds == [VALIDATION_SEED] * 2 + [VALIDATION_SEED + 1, TEST_SEED]
    assert report["passed"] and report["selection"]["chosen"] == 128
    assert report["training"]["model"] == "selected/model.zip" and report["training"]["model_env_steps"] == 128
    assert json.loads((tmp_path / "brains" / "tiny" / "metrics.json").read_text())["selection"]["chosen"] == 128


def test_select_bad_rules_are_one_line_errors(tmp_path):
    from agents.runs import RunError

    run = _tiny_run(tmp_path / "walker", checkpoint_freq=64)
    recipe = {"env_id": "neuromotor/Walker2d-Walk-v1", "criteria": {}}
    bad = [
        ({"form": 3}, "unknown select key\\(s\\) form; valid: from, every, screen, confirm, finalists"),
        ({"every": "100k"}, "select every must be a whole number >= 1, got '100k'"),
        ({"screen": 2.5}, "select screen must be a whole number >= 1, got 2.5"),
        ({"confirm": -1}, "select confirm must be a whole number >= 0, got -1"),
        ({"finalists": True}, "select finalists must be a whole number >= 1, got True"),
        ([1, 2], "select must be a mapping of from, every"),
    ]
    for select, message in bad:
        with pytest.raises(ValueError, match="^" + message):
            selection.select_checkpoint({**recipe, "select": select}, run)
    with pytest.raises(RunError, match="has no usable checkpoint from 1000 steps on"):
        selection.select_checkpoint({**recipe, "select": {"from": 1000}}, run)
    with pytest.raises(ValueError, match=r"was trained on neuromotor/Walker2d-Walk-v1; the recipe is .*Jump-v3"):
        selection.select_checkpoint({**recipe, "env_id": "neuromotor/Walker2d-Jump-v3"}, run)
    assert not (run / "selected").exists()
    with pytest.raises(ValueError, match="select from 5000 is beyond the run's 128 training steps"):
        select_rules({"select": {"from": 5000}}, 128)
    bare = _tiny_run(tmp_path / "bare")
    with pytest.raises(RunError, match="has no checkpoints \\(trained with checkpoint_freq 0\\?\\)"):
        selection.select_checkpoint({**recipe, "select": {}}, bare)


def test_select_command_line_errors(tmp_path, capsys):
    from agents.cli import brains

    for argv, message in [
        (["select", "walker2d-jump"], "select needs a run directory: neuromotor brains select NAME RUN"),
        (["bundle", "walker2d-jump"], "bundle needs a run directory or model .zip"),
        (["select", "walker2d-jump", str(tmp_path)], "is not a run directory (no config.yaml)"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            brains.main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_a_recipe_with_a_bad_select_is_refused_when_read(tmp_path):
    path = tmp_path / "brains.yaml"
    path.write_text("b:\n  env_id: neuromotor/Walker2d-Walk-v1\n  algo: rppo\n  criteria: {}\n  select: {every: 0}\n")
    with pytest.raises(ValueError, match="brain 'b': select every must be a whole number >= 1, got 0"):
        load_recipes(path)


TINY_SETTINGS = {"total_steps": 64, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                 "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip


def test_a_distill_recipe_trains_from_the_student_of_its_teachers(tmp_path, monkeypatch):
    from agents.runs import load_run_config

    measured = []
    monkeypatch.setattr(bundling, "measure_run", lambda name, recipe, target, **_: measured.append(target) or {})
    recipe = {
        "env_id": "neuromotor/Walker2d-Clock-v4",
        "algo": "rppo",
        "distill": {
            "teachers": {"walk": "walker2d-walk", "jump": "walker2d-jump"},
            "iterations": 1,
            "steps_per_iteration": 16,
            "epochs": 1,
            "distiller_kwargs": {"n_envs": 2, "chunk": 16},
        },
        "settings": {**TINY_SETTINGS, "env_kwargs": {"gaits": ["walk", "jump"]}},
        "criteria": {"fell": {"max": 0}},
    }
    bundling.train_brain("tiny-gait", recipe, None, tmp_path)
    (run,) = [Path(t) for t in measured]
    student = run / "student"
    assert (student / "model.zip").is_file() and (run / "model.zip").is_file()
    assert load_run_config(run).init_from == str(student)


def test_a_chain_recipe_trains_each_run_from_the_one_before(tmp_path, monkeypatch):
    from agents.runs import load_run_config

    measured = []
    monkeypatch.setattr(bundling, "measure_run", lambda name, recipe, target, **_: measured.append(target) or {})
    recipe = {
        "env_id": "neuromotor/Walker2d-Clock-v4",
        "algo": "rppo",
        "chain": [{**TINY_SETTINGS, "env_kwargs": {"gaits": ["walk"]}}, {**TINY_SETTINGS, "learning_rate": 1e-4}],
        "settings": {**TINY_SETTINGS, "env_kwargs": {"gaits": ["walk"], "grounded_weight": 1.0}},
        "criteria": {"fell": {"max": 0}},
    }
    bundling.train_brain("tiny-chain", recipe, 96, tmp_path)
    (run,) = [Path(t) for t in measured]
    first, second = load_run_config(run / "chain-1"), load_run_config(run / "chain-2")
    last = load_run_config(run)
    assert first.init_from is None and first.env_kwargs == {"gaits": ["walk"]}
    assert second.init_from == str(run / "chain-1") and second.learning_rate == 1e-4
    assert last.init_from == str(run / "chain-2") and last.env_kwargs["grounded_weight"] == 1.0
    assert (first.total_steps, second.total_steps, last.total_steps) == (64, 64, 96)  # --steps: the last run's
    links = bundling._chain_runs(run)
    assert [link["run"] for link in links] == ["chain-1", "chain-2"]
    assert all(link["env_steps"] >= 64 and link["wall_clock_seconds"] > 0 for link in links)


@pytest.mark.parametrize(
    "recipe",
    [
        "chain: {total_steps: 5}",
        "chain: []",
        "chain: [{total_steps: 5}, {init_from: walker2d-walk}]",
        "chain: [{total_steps: 5}], settings: {init_from: walker2d-walk}",
        "chain: [{total_steps: 5}], distill: {teachers: {walk: w}}",
    ],
)
def test_a_bad_chain_is_refused_when_read(tmp_path, recipe):
    from agents.config import ConfigError

    path = tmp_path / "brains.yaml"
    path.write_text(f"x: {{env_id: E, algo: rppo, criteria: {{}}, {recipe}}}\n")
    with pytest.raises(ConfigError, match=r"brain 'x': .*chain"):
        load_recipes(path)


def test_a_recipe_whose_distill_names_no_teachers_is_refused_when_read(tmp_path):
    from agents.config import ConfigError

    path = tmp_path / "brains.yaml"
    path.write_text("x: {env_id: neuromotor/Walker2d-Clock-v4, algo: rppo, criteria: {}, distill: {iterations: 2}}\n")
    with pytest.raises(ConfigError, match="brain 'x': distill needs teachers"):
        load_recipes(path)
    path.write_text("x: {env_id: E, algo: rppo, criteria: {}, distill: {teachers: {walk: w}, epoch: 2}}\n")
    with pytest.raises(ConfigError, match="unknown distill keys epoch; valid: teachers, iterations, steps_per_iter"):
        load_recipes(path)


def test_a_missing_model_path_is_named_as_missing_with_the_newest_zips_beside_it(tmp_path):
    from agents.runs import RunError

    (tmp_path / "ckpt_1501472_steps.zip").write_bytes(b"")
    with pytest.raises(
        RunError, match=r"ckpt_1500000_steps.zip' does not exist \(newest .zip files there: ckpt_1501472"
    ):
        find_brain(tmp_path / "ckpt_1500000_steps.zip")
    with pytest.raises(RunError, match=r"does not exist$"):
        find_brain(tmp_path / "gone" / "model.zip")


def test_film_runs_through_a_switching_schedule():
    from agents.cli.brains import FILM_AFTER_LAST, FILM_STEPS, film_steps

    assert film_steps(None) == film_steps({"schedule": "walk:1.0@0"}) == FILM_STEPS
    assert film_steps({"schedule": "walk:1.0@0,jump@250,walk:0.7@500,jump@750"}) == 750 + FILM_AFTER_LAST


def test_film_writes_a_video_per_brain(tmp_path, monkeypatch):
    """``brains film`` (make demo) films each named bundled brain in its test env, and refuses an unknown one."""
    from agents.cli import brains

    calls = []

    class Process:
        def __init__(self, command, env):
            calls.append(command)
            assert env["OMP_NUM_THREADS"] == "1"

        def wait(self):
            return 0

    monkeypatch.setattr(brains.subprocess, "Popen", Process)
    name = next(iter(bundled_brains()))
    assert brains.main(["film", name, "--out", str(tmp_path)]) == 0
    (command,) = calls
    assert command[3:6] == ["evaluate", name, "--episodes"] and command[command.index("--video") + 1] == str(
        tmp_path / f"{name}.mp4"
    )
    with pytest.raises(SystemExit) as exit_info:
        brains.main(["film", "no-such-brain"])
    assert exit_info.value.code == 2


def test_brains_list_groups_the_brains_by_body():
    from agents.cli.brains import brain_list
    from agents.recipes.book import body_and_gait

    recipes = {
        "walker2d-walk": {"template": "walk", "body": "Walker2d", "env_id": "neuromotor/Walker2d-Clock-v4"},
        "biped-jump": {
            "env_id": "plugin_env:neuromotor/PluginBiped-Clock-v4",
            "criteria": {"gait": {"equals": "jump"}},
        },
        "hopper-hop": {"env_id": "neuromotor/Hopper-Jump-v3", "criteria": {}},
        "walker2d-gait": {"env_id": "neuromotor/Walker2d-Clock-v4", "criteria": {"switches_followed": {"min": 0.9}}},
    }
    assert [body_and_gait(r) for r in recipes.values()] == [
        ("Walker2d", "walk"),
        ("PluginBiped", "jump"),
        ("Hopper", "jump"),
        ("Walker2d", "switch"),
    ]
    text = brain_list(recipes, {"walker2d-walk"})
    lines = text.splitlines()
    assert lines[0] == "Walker2d:" and "walker2d-walk" in lines[1] and "template walk" in lines[1]
    assert lines[1].endswith(" bundled") and lines[2].endswith("not bundled") and "switch" in lines[2]
    assert "  no brain yet; train one: neuromotor brains train walk --body HalfCheetah" in lines
    # A plug-in body's brain is listed under it (other tests may have registered further bodies).
    assert "biped-jump" in lines[lines.index("PluginBiped:") + 1]


def test_the_brains_table_groups_by_body_in_registration_order(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "BRAINS_DIR", tmp_path)
    brains = {"ant-walk": "neuromotor/Ant-Walk-v1", "hopper-jump": "neuromotor/Hopper-Clock-v4",
              "walker2d-walk": "neuromotor/Walker2d-Clock-v4", "a-walk": "neuromotor/Walker2d-Walk-v1"}  # fmt: skip
    for name, env_id in brains.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text("{}")
        metrics = {"env_id": env_id, "passed": True, "evaluation": {"summary": {"fell": 0}},
                   "criteria": [{"metric": "fell", "passed": True}],
                   "training": {"env_steps": 1000, "wall_clock_seconds": 60.0}}  # fmt: skip
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    rows = bundling.metrics_table().splitlines()[2:]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| Walker2d", "`a-walk`"], ["| Walker2d", "`walker2d-walk`"], ["| Hopper", "`hopper-jump`"],
        ["| Ant", "`ant-walk`"],
    ]  # fmt: skip
    assert rows[0].split(" | ")[2:5] == ["1,000", "1.0", "1/1 pass"]
