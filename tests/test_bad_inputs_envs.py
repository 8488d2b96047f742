"""Bad input to the envs, one row per case: ``gym.make``, ``register_body`` and the command lines refuse it in one
line that names what was wrong and what is valid, before any work."""

import pickle

import gymnasium as gym
import pytest
from badinput import case, refuse, refuse_call
from conftest import ASSETS

import envs
from agents.cli.train import train_main
from envs.__main__ import main as envs_main

WALK = "neuromotor/Walker2d-Walk-v1"
NAN, INF = float("nan"), float("inf")
TINY_FLAGS = ["--steps", "64", "--n-envs", "2", "--set", "n_steps=32", "--set", "batch_size=32",
              "--set", "n_epochs=1", "--set", "policy.lstm_hidden_size=8", "--eval-freq", "0"]  # fmt: skip


def row(name: str, kwargs: dict, *says: str, env: str = WALK):
    """A ``pytest.param`` of an API case: ``kwargs`` must be refused with ``says`` (``env`` is the id that
    ``gym.make`` rows make; ``register_body`` rows leave it be)."""
    return pytest.param(env, kwargs, says, id=name)


MAKE = [
    row("body", {"body": "Ant"}, "neuromotor/Walker2d-Walk-v1 names its body and task; body='Ant' is not a setting "
        "of it; make neuromotor/Ant-Walk-v1 instead"),
    row("task", {"task": "jump"}, "task='jump' is not a setting of it; make neuromotor/Walker2d-Jump-v3 instead"),
    row("body-unknown", {"body": "Dog"}, "names its body and task; body='Dog' is not a setting of it"),
    row("frame_skip-0", {"frame_skip": 0}, "frame_skip must be a whole number >= 1, got 0"),
    row("frame_skip-2.5", {"frame_skip": 2.5}, "frame_skip must be a whole number, got 2.5"),
    row("healthy_z_range", {"healthy_z_range": "abc"},
        "healthy_z_range must be (low, high), two finite numbers with low <= high, got 'abc'"),
    row("healthy_angle_range-nan", {"healthy_angle_range": (-1.0, NAN)},
        "healthy_angle_range must be (low, high)", "got (-1.0, nan)"),
    row("healthy_state_range-reversed", {"healthy_state_range": (100.0, -100.0)},
        "healthy_state_range must be (low, high), two finite numbers with low <= high",
        env="neuromotor/Hopper-Native-v0"),
    row("contact_force_range-inf", {"contact_force_range": (-1.0, INF)},
        "contact_force_range must be (low, high)", "got (-1.0, inf)", env="neuromotor/Ant-Walk-v1"),
    row("weight-nan", {"forward_reward_weight": NAN}, "forward_reward_weight must be a finite number, got nan"),
    row("reset_noise_scale-inf", {"reset_noise_scale": INF}, "reset_noise_scale must be a finite number, got inf"),
    row("reset_noise_scale-negative", {"reset_noise_scale": -0.1},
        "reset_noise_scale must be a finite number >= 0, got -0.1"),
    row("min_torso_height-negative", {"min_torso_height": -1},
        "min_torso_height must be a finite number >= 0 (m), got -1"),
    row("max_torso_pitch-beyond-pi", {"max_torso_pitch": 4.0},
        "max_torso_pitch must be a number in (0, pi] (rad) or None, got 4.0"),
    row("min_torso_upright-above-1", {"min_torso_upright": 1.5},
        "min_torso_upright must be a number in [-1, 1] or None, got 1.5"),
    row("width-0", {"width": 0}, "width must be a whole number >= 1 (pixels), got 0"),
    row("flag-string", {"terminate_when_unhealthy": "no"}, "terminate_when_unhealthy must be True or False, got 'no'",
        env="neuromotor/Walker2d-Native-v0"),
    row("task-flag-int", {"grounded_speed": 1}, "grounded_speed must be True or False, got 1",
        env="neuromotor/Ant-Walk-v1"),
]  # fmt: skip


@pytest.mark.parametrize(("env_id", "kwargs", "says"), MAKE)
def test_gym_make_refuses(env_id, kwargs, says):
    refuse_call(gym.make, env_id, says=says, **kwargs)


REGISTER = [
    row("min_torso_height-negative", {"min_torso_height": -1},
        "min_torso_height must be a finite number >= 0 (m), got -1"),
    row("feet-string", {"feet": "foot_r"}, "body 'Refused': feet must be a list of geom names, got a string 'foot_r'"),
    row("feet-not-names", {"feet": ["foot_r", 3]}, "feet must be a list of geom names, got ['foot_r', 3]"),
    row("foot_labels-string", {"foot_labels": "right"},
        "foot_labels must be a list of labels, one per foot, got a string 'right'"),
    row("foot_labels-short", {"foot_labels": ["right"]},
        "foot_labels must give one label per foot, 2 in all, got 1: ('right',)"),
    row("walk_speed-0", {"walk_speed": 0}, "walk_speed must be a finite number > 0 (m/s), got 0"),
    row("walk_speed-negative", {"walk_speed": -1.0}, "walk_speed must be a finite number > 0 (m/s), got -1.0"),
    row("walk_speed-nan", {"walk_speed": NAN}, "walk_speed must be a finite number, got nan"),
    row("max_torso_pitch-0", {"max_torso_pitch": 0.0},
        "max_torso_pitch must be a number in (0, pi] (rad) or None, got 0.0"),
    row("min_torso_upright-below-minus-1", {"min_torso_upright": -2},
        "min_torso_upright must be a number in [-1, 1] or None, got -2"),
    row("standing_settle_time-negative", {"standing_settle_time": -1.0},
        "standing_settle_time must be a finite number >= 0 (s), got -1.0"),
    row("frame_skip-0", {"frame_skip": 0}, "frame_skip must be a whole number >= 1, got 0"),
    row("base-number-nan", {"reset_noise_scale": NAN}, "reset_noise_scale must be a finite number, got nan"),
    row("base-unknown", {"frame_skp": 2}, "unknown keyword argument(s) 'frame_skp' for register_body; valid:",
        "frame_skip"),
    row("xml_file-not-a-path", {"xml_file": 3}, "xml_file must be the path of an MJCF file, got 3"),
]  # fmt: skip


@pytest.mark.parametrize(("env_id", "kwargs", "says"), REGISTER)
def test_register_body_refuses_before_reading_the_file(tmp_path, env_id, kwargs, says):
    # The file does not exist: each refusal must come before it is looked at.
    args = {"xml_file": tmp_path / "missing.xml", "torso": "pelvis", "feet": ["foot_r", "foot_l"], "floor": "ground"}
    refuse_call(envs.register_body, "Refused", says=says, **{**args, **kwargs})
    assert "Refused" not in envs.BODIES
    assert not any(i.startswith("neuromotor/Refused-") for i in gym.registry)


TRAIN = [
    case("env_kwargs.body", ["--set", "env_kwargs.body=Ant"],
         "body='Ant' is not a setting of it", "make neuromotor/Ant-Walk-v1 instead"),
    case("env_kwargs.task", ["--set", "env_kwargs.task=jump"], "task='jump' is not a setting of it"),
    case("env_kwargs.frame_skip", ["--set", "env_kwargs.frame_skip=0"],
         "frame_skip must be a whole number >= 1, got 0"),
    case("env_kwargs.healthy_z_range", ["--set", "env_kwargs.healthy_z_range=abc"],
         "healthy_z_range must be (low, high), two finite numbers with low <= high, got 'abc'"),
]  # fmt: skip


@pytest.mark.parametrize("bad", TRAIN)
def test_train_refuses_before_training(bad, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--env", WALK, "--run-dir", str(run), *TINY_FLAGS, *bad.args(tmp=tmp_path)]
    refuse(train_main, argv, capsys, says=bad.says, watch=[tmp_path])
    assert not run.exists()


ENVS_CLI = [
    case("seed-negative", ["--seed", "-3"], "--seed must be a whole number >= 0, got -3"),
    case("steps-0", ["--steps", "0"], "--steps must be a whole number >= 1, got 0"),
    case("seed-not-a-number", ["--seed", "x"], "argument --seed: invalid int value: 'x'"),
]


@pytest.mark.parametrize("bad", ENVS_CLI)
def test_envs_command_refuses(bad, capsys):
    refuse(envs_main, bad.args(), capsys, says=bad.says)


def test_an_id_still_takes_its_own_body_and_task_and_round_trips():
    env = gym.make(WALK, speed=0.7)
    assert gym.spec(WALK).kwargs == {"body": "Walker2d", "task": "walk"}
    as_json = gym.envs.registration.EnvSpec.from_json(env.spec.to_json())  # plain data, as dataset tools store it
    for spec in (env.spec, pickle.loads(pickle.dumps(env.spec)), as_json):
        again = gym.make(spec).unwrapped
        assert (again.body_spec.name, again.task.name, again.task.speed) == ("Walker2d", "walk", 0.7)
    assert gym.make(WALK, body="Walker2d", task="walk").unwrapped.body_spec.name == "Walker2d"


def test_a_plugin_id_fixes_its_body():
    ids = envs.register_body("FixedBiped", ASSETS / "biped.xml", torso="pelvis", feet=["foot_r", "foot_l"],
                             floor="ground", foot_labels=("right", "left"))  # fmt: skip
    assert gym.make(ids[0]).unwrapped.body_spec.name == "FixedBiped"
    refuse_call(gym.make, ids[0], body="Walker2d", says=("make neuromotor/Walker2d-Walk-v1 instead",))
