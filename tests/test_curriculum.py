"""Curricula that advance on measured signals: the signals, the advance (not before its threshold), the record and
the resume."""

from __future__ import annotations

import json
import re

import numpy as np
import plugin_env  # noqa: F401  (registers ScriptedScore-v0)
import pytest

from agents.config import ConfigError, resolve_config
from agents.training.curriculum import EpisodeSignals, holds, read_advances, record_advance, stage_at
from agents.training.trainer import _first_stage, check_env_config, train

SCRIPTED = "plugin_env:ScriptedScore-v0"
#: Two envs, one 8-step episode each per rollout of 16 steps.
TINY_SCRIPTED = {"n_envs": 2, "n_steps": 8, "batch_size": 16, "n_epochs": 1, "policy.lstm_hidden_size": 8,
                 "eval_freq": 0, "checkpoint_freq": 0, "threads": 1}  # fmt: skip


def test_episode_signals_from_infos():
    signals = EpisodeSignals(2, {"speed": 0.5}, window=4)
    rises = [0.0, 0.2, 0.3, 0.0, 0.1, 0.0]  # env 0: one flight with apex 0.3, then one with 0.1
    for t, rise in enumerate(rises):
        infos = [
            {"reward_speed": 0.25, "airborne": rise > 0, "com_rise": rise},
            {"reward_speed": 0.5, "airborne": False, "com_rise": 0.0},
        ]
        done = t == len(rises) - 1
        infos[1]["TimeLimit.truncated"] = True  # env 1 ran out of time; env 0 fell
        signals.step(infos, np.array([done, done]))
    assert signals.value("fell", 2) == pytest.approx(0.5)
    assert signals.value("length", 2) == pytest.approx(6.0)
    assert signals.value("flights_per_1000", 2) == pytest.approx((2 / 6 * 1000 + 0) / 2)
    assert signals.value("apex_rise", 2) == pytest.approx(0.2)  # over flights: (0.3 + 0.1) / 2
    assert signals.value("reward:speed", 2) == pytest.approx((0.5 + 1.0) / 2)  # fractions of the weight
    assert signals.value("fell", 3) is None  # fewer episodes than the window asks
    assert signals.value("reward:height", 2) is None


def test_speed_error_is_the_walk_definitions_error_per_command_after_it_settles():
    signals = EpisodeSignals(1, {}, window=2, settle_steps=2)

    def run(steps):  # (commanded gait, commanded speed, forward speed) per step; the episode ends after the last
        for t, (gait, command, speed) in enumerate(steps):
            info = {"commanded_gait": gait, "commanded_speed": command, "com_velocity": np.array([speed, 0.0, 0.0])}
            signals.step([info], np.array([t == len(steps) - 1]))

    # 1.0 m/s, walked at 0.8 once settled (the first 2 steps, at 0.0, do not count); then 0.5 m/s walked at 0.6.
    run([("walk", 1.0, 0.0), ("walk", 1.0, 0.0), ("walk", 1.0, 0.8), ("walk", 1.0, 0.8),
         ("walk", 0.5, 0.0), ("walk", 0.5, 0.9), ("walk", 0.5, 0.6), ("walk", 0.5, 0.6)])  # fmt: skip
    assert signals.value("speed_error", 1) == pytest.approx((0.2 + 0.2) / 2)
    # A jump, and a stretch too short to settle, measure nothing: an episode of them has no speed error.
    run([("jump", 0.0, 0.0), ("jump", 0.0, 0.0), ("jump", 0.0, 0.3), ("walk", 1.0, 1.0)])
    assert signals.value("speed_error", 2) == pytest.approx(0.2)  # the one episode that walked
    assert EpisodeSignals(1, {}, window=1).value("speed_error", 1) is None


def test_a_resume_from_before_an_advance_forgets_it(tmp_path):
    """An advance recorded past the checkpoint a run resumes from is made again, not kept: a later stop still in the
    old stage must not resume in the next."""
    record_advance(tmp_path, 0, 2000, "fell below 0.1 over 20 episodes", 0.05)
    plan = [{"until": {"signal": "fell", "below": 0.1}}, {"until": 9000}]
    assert _first_stage(plan, tmp_path, 1500) == 0 and read_advances(tmp_path) == []
    record_advance(tmp_path, 0, 2000, "fell below 0.1 over 20 episodes", 0.05)
    record_advance(tmp_path, 1, 2500, "9000 steps", None)  # more advances than the plan has stages
    assert _first_stage(plan, tmp_path, 3000) == 1


def test_holds_is_strict():
    assert holds({"signal": "fell", "below": 0.1}, 0.05) and not holds({"signal": "fell", "below": 0.1}, 0.1)
    assert holds({"signal": "length", "above": 500}, 501) and not holds({"signal": "length", "above": 500}, 500)


def _scripted(total: int, ramp: int = 10, **more) -> dict:
    stage = {"until": {"signal": "reward:score", "above": 0.5, "episodes": 2}, "env_kwargs": {"level": 1},
             "learning_rate": 1e-3}  # fmt: skip
    return {**TINY_SCRIPTED, "total_steps": total, "env_kwargs": {"level": 2, "ramp": ramp}, "curriculum": [stage],
            "learning_rate": 2e-4, **more}  # fmt: skip


def test_stage_advances_when_its_signal_crosses_and_not_before(tmp_path):
    # Each rollout r ends one episode per env, scoring r / 10; the last two episodes pass 0.5 first at r = 6 (the
    # rollout ending at step 112; r = 5 scores 0.5, not above it), and the stage ends one step into the next.
    config = resolve_config(SCRIPTED, "rppo", _scripted(240))
    summary = train(config, tmp_path / "run", progress=False)
    advances = read_advances(tmp_path / "run")
    assert advances == [{"stage": 0, "step": 114, "until": "reward:score above 0.5 over 2 episodes", "value": 0.6}]
    # The last stage trains whole rollouts to its end: 114 + 8 x 16 steps.
    assert summary["steps"] == 242 and summary["stage"] == 1 and summary["advances"] == advances
    # Resumed for more steps, the run goes on in the stage it had reached: no second advance.
    again = resolve_config(SCRIPTED, "rppo", _scripted(300))
    summary = train(again, tmp_path / "run", resume=True, progress=False)
    assert summary["steps"] == 242 + 4 * 16 and summary["stage"] == 1
    assert read_advances(tmp_path / "run") == advances


def test_a_condition_never_met_trains_the_whole_budget_in_its_stage(tmp_path):
    config = resolve_config(SCRIPTED, "rppo", _scripted(96, ramp=1000))
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["steps"] == 96 and summary["stage"] == 0 and summary["advances"] == []


def test_the_stage_of_a_checkpoint(tmp_path):
    plan = [{"until": {"signal": "fell", "below": 0.1}}, {"until": 5000}, {"until": 9000}]
    assert _first_stage(plan, tmp_path, 0) == 0
    assert _first_stage(plan, tmp_path, 3000) == 0  # no advance recorded: the measured stage goes on
    record_advance(tmp_path, 0, 2000, "fell below 0.1 over 20 episodes", 0.05)
    assert stage_at(tmp_path, 1999) == 0 and stage_at(tmp_path, 2000) == 1
    assert _first_stage(plan, tmp_path, 3000) == 1
    assert _first_stage(plan, tmp_path, 6000) == 2  # past a step-count stage's end
    # A run resumed from before an advance and advancing again replaces the later record.
    record_advance(tmp_path, 1, 5000, "5000 steps", None)
    record_advance(tmp_path, 0, 1500, "fell below 0.1 over 20 episodes", 0.02)
    assert [a["step"] for a in read_advances(tmp_path)] == [1500]
    (tmp_path / "curriculum.json").write_text("{not json")
    assert read_advances(tmp_path) == []


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ({"signal": "speed", "above": 0.5}, "curriculum[0].until.signal must be one of fell, length"),
        ({"signal": "fell"}, "curriculum[0].until needs exactly one of above or below, got neither"),
        ({"signal": "fell", "above": 0.1, "below": 0.5}, "needs exactly one of above or below, got above, below"),
        ({"signal": "fell", "below": "low"}, "curriculum[0].until.below must be a finite number, got 'low'"),
        ({"signal": "fell", "below": 0.1, "episodes": 0}, "curriculum[0].until.episodes must be a whole number >= 1"),
        ({"signal": "fell", "below": 0.1, "after": 3}, "curriculum[0].until has unknown key(s) after; valid: signal"),
        ("fell", "curriculum[0].until must be a whole number of steps above the stage before (0) and below"),
    ],
)
def test_bad_conditions(until, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(SCRIPTED, "rppo", {**TINY_SCRIPTED, "curriculum": [{"until": until, "env_kwargs": {}}]})


def test_a_reward_signal_names_a_weighted_term_of_the_task():
    config = resolve_config(SCRIPTED, "rppo", _scripted(96))
    config.curriculum = [{"until": {"signal": "reward:unused", "above": 0.5}, "env_kwargs": {}}]
    with pytest.raises(ConfigError, match=r"'reward:unused' is not a weighted reward term .*; valid: reward:score"):
        check_env_config(config)


def test_advances_reach_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(resolve_config(SCRIPTED, "rppo", _scripted(160)), tmp_path / "run", progress=False)
    events = EventAccumulator(str(next((tmp_path / "run" / "tb").iterdir())))
    events.Reload()
    stages = {e.step: e.value for e in events.Scalars("curriculum/stage")}
    assert stages[112] == 0 and stages[114 + 16] == 1
    # Each stage ran in its own env settings (level 1, then the run's 2) and at its own learning rate.
    levels = {e.step: e.value for e in events.Scalars("reward/level")}
    assert levels[112] == pytest.approx(0.1) and levels[114 + 16] == pytest.approx(0.2)
    rates = {e.step: e.value for e in events.Scalars("train/learning_rate")}
    assert rates[112] == pytest.approx(1e-3) and rates[114 + 2 * 16] == pytest.approx(2e-4)  # logged after an update
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["stage"] == 1
