"""Lead-ins: training episodes of one gait that start where other brains leave off."""

import re

import numpy as np
import pytest

from agents.config import ConfigError, check_lead_in, resolve_config
from agents.training import distill
from agents.training.leadin import LeadIn, env_factory
from agents.training.trainer import check_env_config
from agents.vecenvs import EnvFactory
from envs.tasks.gait import Command

GAIT = "neuromotor/Walker2d-Gait-v2"
KWARGS = {"switch_interval": [0.2, 0.4]}


def lead_in_env(steps, gait="jump", brains=None, **more):
    brains = brains or {"walk": "walker2d-walk"}
    return env_factory(GAIT, KWARGS, {"brains": brains, "gait": gait, "steps": steps, **more})()


def test_the_learners_episode_starts_after_the_lead_brains_walked():
    env = lead_in_env([60, 120])
    seen = set()
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        task = env.unwrapped.task
        lead = info["lead_in_steps"]
        assert 60 <= lead <= 120 and task.step_count == lead and not info["lead_in_fallback"]
        seen.add(lead)
        # The lead-in walked (its brain moved the body forward); the learner is told to jump from here on.
        assert info["com_x"] > 0.1
        np.testing.assert_array_equal(obs[-5:], [0.0, 1.0, 0.0, 0.0, 0.0])
        commands = task.episode_schedule
        assert [c.gait for c in commands[:-1]] == ["walk"] * (len(commands) - 1)
        assert commands[-1] == Command(lead, "jump", None)
    assert len(seen) > 1
    # Seeded resets repeat the lead-in.
    first = env.reset(seed=7)[0]
    np.testing.assert_array_equal(env.reset(seed=7)[0], first)


def test_a_walking_learner_takes_over_from_a_jump_and_walks_to_the_end():
    env = lead_in_env([50, 50], gait="walk", brains={"walk": "walker2d-walk", "jump": "walker2d-split-leap"})
    obs, _ = env.reset(seed=0)
    commands = env.unwrapped.task.episode_schedule
    # The lead-in ends with the gait the learner does not do; from step 50 on every command is a walk.
    before = [c for c in commands if c.step < 50]
    assert before[-1].gait == "jump"
    after = [c for c in commands if c.step >= 50]
    assert after[0].step == 50 and {c.gait for c in after} == {"walk"} and len(after) > 1
    assert obs[-5] == 1.0 and obs[-3] == after[0].speed


def test_no_lead_in_starts_the_learner_from_rest():
    env = lead_in_env([0, 0])
    _, info = env.reset(seed=0)
    assert info["lead_in_steps"] == 0 and env.unwrapped.task.step_count == 0
    assert env.unwrapped.task.active == "jump"


def test_learner_steps_truncate_the_learners_episode_after_the_lead_in():
    env = lead_in_env([30, 30], gait="walk", learner_steps=5)
    _, info = env.reset(seed=0)
    outcomes = [env.step(np.zeros(6))[2:4] for _ in range(5)]
    terminated, truncated = zip(*outcomes, strict=True)
    assert info["lead_in_steps"] == 30 and env.unwrapped.task.step_count == 35
    assert truncated == (False,) * 4 + (True,) and not any(terminated)
    env.reset(seed=1)
    assert not env.step(np.zeros(6))[3]  # the count starts again with each episode


@pytest.mark.parametrize(
    "value, message",
    [
        ({"brains": {"walk": "walker2d-walk"}, "gait": "jump", "step": [0, 1]}, "unknown lead_in key(s) step"),
        ({"brains": {}, "gait": "jump"}, "lead_in.brains must map gaits to brains"),
        ({"brains": {"swim": "walker2d-walk"}, "gait": "jump"}, "gait 'swim' is not one of walk, jump"),
        ({"brains": {"walk": "walker2d-walk"}, "gait": "jump", "steps": [5, 1]}, "lead_in.steps must be [low, high]"),
        ({"brains": {"walk": "walker2d-walk"}, "gait": "jump", "learner_steps": 0}, "lead_in.learner_steps must be"),
        ({"brains": {"walk": "walker2d-walk"}, "gait": "jump", 1: 2}, "unknown lead_in key(s) 1"),
    ],
)
def test_bad_lead_in_settings_are_one_line_errors(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_lead_in(value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(GAIT, "rppo", {"lead_in": value})


def test_a_lead_in_needs_a_gait_env_and_lead_brains_of_its_body():
    lead = {"brains": {"walk": "walker2d-walk"}, "gait": "jump", "steps": [0, 10]}
    with pytest.raises(ConfigError, match="lead_in needs a gait or clock env"):
        check_env_config(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", {"lead_in": lead}), warm_start=False)
    lead["brains"] = {"walk": "ant-walk"}
    with pytest.raises(ConfigError, match=re.escape("teacher walk=ant-walk senses")):
        check_env_config(resolve_config(GAIT, "rppo", {"lead_in": lead}), warm_start=False)
    assert isinstance(lead_in_env([0, 1]), LeadIn)
    with pytest.raises(ConfigError, match=re.escape("lead_in.steps must end before the episode's 1000 steps")):
        lead_in_env([500, 1000])


def test_fresh_teachers_start_their_memory_when_their_gait_is_commanded():
    rng = np.random.default_rng(0)
    teachers = {"walk": "walker2d-walk", "jump": "walker2d-split-leap"}
    carried = distill.Teachers(GAIT, {}, teachers, 1)
    fresh = distill.Teachers(GAIT, {}, teachers, 1, fresh=True)
    alone = distill.Teachers(GAIT, {}, teachers, 1)
    walking = [np.array([[*rng.normal(size=19), 1.0, 0.0, 1.0, 0.0, 0.0]]) for _ in range(20)]
    jumping = np.array([[*rng.normal(size=19), 0.0, 1.0, 0.0, 0.0, 0.0]])
    for i, obs in enumerate(walking):
        start = np.array([i == 0])
        np.testing.assert_array_equal(carried.act(obs, start), fresh.act(obs, start))
    # At the switch the fresh jump teacher acts as one that has seen nothing before; the carried one does not.
    first_jump = alone.act(jumping, np.array([True]))
    np.testing.assert_allclose(fresh.act(jumping, np.array([False])), first_jump, atol=1e-6)
    assert not np.allclose(carried.act(jumping, np.array([False])), first_jump, atol=1e-3)


@pytest.mark.parametrize("name", ["walker2d-jump-takeover", "walker2d-walk-takeover"])
def test_stored_takeover_teachers_load_and_act(name):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "agents" / "brains" / "bundled" / "teachers" / name
    gait = name.split("-")[1]
    teachers = distill.Teachers(GAIT, {"jump": {"spot_lead": 0.5}}, {gait: str(folder)}, 1, fresh=True)
    env = EnvFactory(GAIT, {"schedule": f"{gait}@0", "jump": {"spot_lead": 0.5}})()
    obs, _ = env.reset(seed=0)
    action = teachers.act(obs[None], np.ones(1, dtype=bool))[0]
    assert action.shape == (6,) and np.all(np.abs(action) <= 1.0) and np.any(action != 0.0)


def test_a_clock_learner_takes_over_where_the_lead_brain_left_off():
    clock = "neuromotor/Walker2d-Clock-v4"
    kwargs = {"gaits": ["walk", "jump"], "switch_interval": [0.2, 0.4]}
    env = env_factory(clock, kwargs, {"brains": {"walk": "walker2d-walk"}, "gait": "jump", "steps": [100, 100]})()
    _, info = env.reset(seed=0)
    task = env.unwrapped.task
    assert info["lead_in_steps"] == 100 and task.step_count == 100 and not info["lead_in_fallback"]
    assert info["com_x"] > 0.1  # the lead brain walked
    assert [c.gait for c in task.episode_schedule] == ["walk"] * (len(task.episode_schedule) - 1) + ["jump"]
    assert task.commanded_gait == "jump"
