"""stop_when: a run ends once its model passes its tests on validation episodes at checkpoints in a row."""

import json
import re

import pytest
import torch as th

from agents.brains.models import load_algorithm
from agents.config import ConfigError, resolve_config
from agents.runs import RunError, checkpoint_paths
from agents.training.stopping import RECORD, passes_in_a_row, replay
from agents.training.trainer import check_env_config, train

CLOCK = "neuromotor/Walker2d-Clock-v4"
TINY = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "policy.lstm_hidden_size": 8, "eval_freq": 0,
        "checkpoint_freq": 64, "threads": 1, "env_kwargs": {"gaits": ["walk"]}}  # fmt: skip
SHORT = {"max_episode_steps": 20}
#: Tests every brain passes, and one no brain passes.
EASY = [{"eval_env_kwargs": SHORT, "criteria": {"length": {"min": 1}}},
        {"eval_env_kwargs": {**SHORT, "schedule": "walk:0.6@0"}, "criteria": {"fell": {"max": 1}}}]  # fmt: skip
NEVER = [{"eval_env_kwargs": SHORT, "criteria": {"length": {"min": 1}, "fell": {"max": -1}}}]


def config(total_steps: int, stop_when: dict | None = None, **settings):
    extra = {"stop_when": {"episodes": 1, **stop_when}} if stop_when else {}
    return resolve_config(CLOCK, "rppo", {**TINY, "total_steps": total_steps, **extra, **settings})


def weights(path):
    return load_algorithm(path, "rppo").policy.state_dict()


def test_the_checks_change_nothing_the_run_learns(tmp_path):
    plain = train(config(256), tmp_path / "plain", progress=False)
    checked = train(config(256, {"tests": NEVER}), tmp_path / "checked", progress=False)
    assert plain["stopped_at"] is None and checked["stopped_at"] is None and checked["steps"] == 256
    for (name, a), b in zip(weights(tmp_path / "plain" / "model.zip").items(),
                            weights(tmp_path / "checked" / "model.zip").values(), strict=True):  # fmt: skip
        th.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    checks = json.loads((tmp_path / "checked" / RECORD).read_text())["checks"]
    assert [c["step"] for c in checks] == [64, 128, 192, 256]
    assert not any(c["passed"] for c in checks) and all(c["criteria_met"] == 1 and c["criteria"] == 2 for c in checks)


def test_a_run_stops_at_the_checkpoint_that_passes_the_times_in_a_row(tmp_path):
    run = tmp_path / "run"
    summary = train(config(512, {"tests": EASY, "times": 2}), run, progress=False)
    assert summary["stopped_at"] == summary["steps"] == 128
    # The model kept is that checkpoint's.
    kept = checkpoint_paths(run / "checkpoints", 128).model
    for (name, a), b in zip(weights(run / "model.zip").items(), weights(kept).values(), strict=True):
        th.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    record = json.loads((run / RECORD).read_text())
    assert [(c["step"], c["passed"], c["criteria"]) for c in record["checks"]] == [(64, True, 2), (128, True, 2)]
    with pytest.raises(RunError, match=re.escape("the run stopped at step 128: its model met stop_when")):
        train(config(1024, {"tests": EASY, "times": 2}), run, resume=True, progress=False)


def test_a_replay_on_a_run_trained_without_the_rule_stops_where_the_rule_would_have(tmp_path):
    plain = tmp_path / "plain"
    train(config(256), plain, progress=False)
    rule = {"tests": EASY, "episodes": 1, "times": 2}
    stopped, checks = replay(plain, rule, after=64)
    assert stopped == 192 and [c["step"] for c in checks] == [128, 192]
    live = train(config(512, {"tests": EASY, "times": 2}), tmp_path / "live", progress=False)
    assert live["stopped_at"] == replay(plain, rule, after=0)[0] == 128
    never, checks = replay(plain, {"tests": NEVER, "episodes": 1}, after=0)
    assert never is None and [c["passed"] for c in checks] == [False] * 4


def test_a_resumed_run_counts_the_passes_before_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert train(config(64, {"tests": EASY, "times": 2}), run, progress=False)["stopped_at"] is None
    resumed = train(config(512, {"tests": EASY, "times": 2}), run, resume=True, progress=False)
    assert resumed["stopped_at"] == 128


def test_only_the_last_stage_is_judged(tmp_path):
    run = tmp_path / "run"
    curriculum = [{"until": 128, "env_kwargs": {"speed_range": [1.0, 1.0]}}]
    summary = train(config(512, {"tests": EASY, "times": 2}, curriculum=curriculum), run, progress=False)
    assert summary["stopped_at"] == 256
    assert [c["step"] for c in json.loads((run / RECORD).read_text())["checks"]] == [192, 256]


def test_passes_in_a_row_count_back_to_the_last_failure():
    checks = [{"passed": p} for p in (True, False, True, True)]
    assert passes_in_a_row(checks) == 2 and passes_in_a_row(checks[:2]) == 0 and passes_in_a_row([]) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "stop_when must be dict, got [1]"),
        ({"tests": EASY, "time": 2}, "unknown stop_when key(s) time; valid: tests, episodes, times"),
        ({"tests": []}, "stop_when.tests must be a list of {eval_env_kwargs"),
        ({"tests": [{"criteria": {"fell": {"max": 0}}}]}, "stop_when.tests must be a list"),
        ({"tests": [{"eval_env_kwargs": {}, "criteria": {}}]}, "stop_when.tests must be a list"),
        ({"tests": EASY, "times": 0}, "stop_when.times must be a whole number >= 1, got 0"),
        ({"tests": EASY, "episodes": 2.5}, "stop_when.episodes must be a whole number >= 1, got 2.5"),
        ({"tests": [{"eval_env_kwargs": {}, "criteria": {"fell": {}}}]}, "criteria.fell: a rule needs min, max or"),
        ({"tests": [{"eval_env_kwargs": {}, "criteria": {"fell": {"mni": 0}}}]}, "unknown key(s) mni; valid: min"),
        ({"tests": [{"eval_env_kwargs": {}, "criteria": {"fell": {"max": "a"}}}]}, "max must be a number, got 'a'"),
        ({"tests": [{"eval_env_kwargs": {}, "criteria": {"fell": {"max": 0, "of": "median"}}}]}, "of='median'"),
    ],
)
def test_a_bad_stop_rule_is_a_one_line_error(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(CLOCK, "rppo", {"stop_when": value})


def test_a_stop_rule_needs_checkpoints():
    with pytest.raises(ConfigError, match="stop_when is judged at checkpoints: set checkpoint_freq above 0"):
        resolve_config(CLOCK, "rppo", {"stop_when": {"tests": EASY}, "checkpoint_freq": 0})


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ({"eval_env_kwargs": SHORT, "criteria": {"sped": {"min": 1}}}, "stop_when.tests[0]: unknown metric 'sped'"),
        ({"eval_env_kwargs": {"sped": 1}, "criteria": {"fell": {"max": 0}}}, "stop_when.tests[0]: env"),
    ],
)
def test_a_test_the_run_cannot_judge_is_refused_before_training(test, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_env_config(config(512, {"tests": [test]}))


def test_a_checkpoint_whose_check_was_cut_off_is_judged_when_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    train(config(64, {"tests": EASY, "times": 2}), run, progress=False)
    record = json.loads((run / RECORD).read_text())
    (run / RECORD).write_text(json.dumps({**record, "checks": []}))  # as if killed while judging step 64
    resumed = train(config(512, {"tests": EASY, "times": 2}), run, resume=True, progress=False)
    assert resumed["stopped_at"] == 128
    assert [c["step"] for c in json.loads((run / RECORD).read_text())["checks"]] == [64, 128]


def test_a_run_killed_after_its_stop_only_finishes_when_resumed(tmp_path):
    run = tmp_path / "run"
    train(config(512, {"tests": EASY, "times": 2}), run, progress=False)
    for name in ("summary.json", "model.zip", "vecnormalize.pkl"):  # killed before these were written
        (run / name).unlink()
    finished = train(config(512, {"tests": EASY, "times": 2}), run, resume=True, progress=False)
    assert finished["stopped_at"] == finished["steps"] == 128
    kept = checkpoint_paths(run / "checkpoints", 128).model
    for (name, a), b in zip(weights(run / "model.zip").items(), weights(kept).values(), strict=True):
        th.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
