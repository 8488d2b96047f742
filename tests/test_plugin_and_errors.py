"""Plugging in a body of one's own, resolving env ids, and the errors users see for bad input."""

import re
import shutil

import gymnasium as gym
import numpy as np
import pytest
from conftest import ASSETS, TEST_BODY, register_test_body
from gymnasium.utils.env_checker import check_env

import envs


def test_plugin_body_registers_every_task():
    ids = register_test_body()
    assert ids == [f"neuromotor/{TEST_BODY}-{t}" for t in ("Walk-v1", "Jump-v3", "Native-v0", "Gait-v2", "Clock-v4")]
    for env_id in ids:
        env = gym.make(env_id, obs="proprio")
        check_env(env.unwrapped, skip_render_check=True)
        assert env.unwrapped.foot_labels == ("right", "left")


def test_plugin_body_measures_itself():
    env = gym.make(f"neuromotor/{TEST_BODY}-Walk-v1")
    env.reset(seed=0)
    body = env.unwrapped.body
    # Pelvis at 0.85 m, feet (spheres of radius 0.05) 0.77 m below it: standing is about 0.06 m lower than the pose.
    assert 0.4 < body.standing_com_height < 0.85
    for _ in range(150):
        info = env.step(np.zeros(4))[-1]
    assert info["foot_contacts"].all(), "a body standing on both feet should feel both"


def test_plugin_body_with_a_free_root_and_renders(tmp_path):
    xml = (ASSETS / "biped.xml").read_text()
    free = xml.replace(
        '<joint name="rootx" type="slide" axis="1 0 0" limited="false" damping="0" armature="0"/>', "<freejoint/>"
    )
    for name in ("rootz", "rooty"):
        free = "\n".join(line for line in free.splitlines() if f'name="{name}"' not in line)
    path = tmp_path / "free_biped.xml"
    path.write_text(free)
    ids = envs.register_body("FreeBiped", path, torso="pelvis", feet=["foot_r", "foot_l"], floor="ground")
    env = gym.make(ids[0], render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    assert env.unwrapped.body.n_root_xy == 2
    assert env.render().shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"torso": "chest"}, "torso body 'chest' is not in the model; valid body names: world, pelvis"),
        ({"feet": ["foot_r", "hoof"]}, "foot geom 'hoof' is not in the model; valid geom names: ground"),
        ({"floor": "floor"}, "floor geom 'floor' is not in the model; valid geom names: ground"),
        ({"feet": []}, "feet must name at least one foot geom; valid geom names: ground"),
        ({"xml_file": "nowhere.xml"}, "xml_file 'nowhere.xml' does not exist"),
        ({"name": TEST_BODY}, f"body '{TEST_BODY}' is already registered; registered bodies: Walker2d"),
        ({"name": "bad name!"}, "body name must be letters"),
    ],
)
def test_register_body_bad_input(kwargs, message):
    register_test_body()
    args = {
        "name": "Broken",
        "xml_file": ASSETS / "biped.xml",
        "torso": "pelvis",
        "feet": ["foot_r", "foot_l"],
        "floor": "ground",
        **kwargs,
    }
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        envs.register_body(**args)
    assert "Broken" not in envs.BODIES


def test_register_body_rejects_invalid_mjcf(tmp_path):
    bad = tmp_path / "bad.xml"
    shutil.copy(ASSETS / "biped.xml", bad)
    bad.write_text(bad.read_text().replace("</mujoco>", ""))
    with pytest.raises(ValueError, match="is not a valid MJCF model"):
        envs.register_body("Bad", bad, torso="pelvis", feet=["foot_r"], floor="ground")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body": "Dog"}, "unknown body 'Dog'; valid bodies: Walker2d, Hopper, HalfCheetah, Ant, Humanoid"),
        ({"task": "swim"}, "unknown task 'swim'; valid tasks: walk, jump, native"),
        ({"obs": "vision"}, "unknown obs mode 'vision'; valid: full, proprio"),
        ({"obs_noise": -0.1}, "obs_noise must be a finite number >= 0, got -0.1"),
        ({"obs_noise": float("nan")}, "obs_noise must be a finite number >= 0"),
        ({"obs_delay": -1}, "obs_delay must be an integer number of steps >= 0, got -1"),
        ({"obs_delay": 1.5}, "obs_delay must be an integer number of steps >= 0, got 1.5"),
        ({"action_noise": -1}, "action_noise must be a finite number >= 0, got -1"),
        ({"strength": 0}, "strength must be a number in (0, 1], got 0"),
        ({"strength": 1.5}, "strength must be a number in (0, 1], got 1.5"),
        ({"sped": 1.0}, "unknown keyword argument(s) 'sped' for body 'Walker2d' and task 'walk'; valid: "),
        ({"speed": -1.0}, "speed must be > 0 (m/s), got -1.0"),
        ({"terminate_when_unhealthy": True}, "unknown keyword argument(s) 'terminate_when_unhealthy'"),
    ],
)
def test_env_bad_input(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        envs.LocomotionEnv(**kwargs)


def test_unknown_kwarg_lists_every_valid_one():
    with pytest.raises(ValueError) as err:
        gym.make("neuromotor/Walker2d-Jump-v3", hieght_weight=3.0)
    message = str(err.value)
    for valid in ("height_weight", "target_rise", "min_torso_height", "reset_noise_scale", "obs_delay"):
        assert valid in message


def test_kwargs_route_to_task_body_and_base():
    env = gym.make(
        "neuromotor/Walker2d-Walk-v1",
        speed=0.7,
        min_torso_height=0.5,
        reset_noise_scale=0.0,
        ctrl_cost_weight=0.5,
    ).unwrapped
    assert env.task.speed == 0.7
    assert env.task.ctrl_cost_weight == 0.5
    assert env.body.min_torso_height == 0.5
    assert env.base._reset_noise_scale == 0.0
    # In the native task ctrl_cost_weight is Gymnasium's own.
    native = gym.make("neuromotor/Walker2d-Native-v0", ctrl_cost_weight=0.5).unwrapped
    assert native.base._ctrl_cost_weight == 0.5


def test_resolve_env_id():
    assert envs.resolve_env_id("neuromotor/Walker2d-Walk-v1") == "neuromotor/Walker2d-Walk-v1"
    assert envs.resolve_env_id("Hopper-v5") == "Hopper-v5"
    assert envs.resolve_env_id("envs:neuromotor/Ant-Jump-v3") == "neuromotor/Ant-Jump-v3"
    with pytest.raises(ValueError, match=r"^unknown env id 'neuromotor/Walker-Walk-v1'; closest: .*Walker2d-Walk"):
        envs.resolve_env_id("neuromotor/Walker-Walk-v1")
    with pytest.raises(ValueError, match=r"^cannot import module 'no_such_module'"):
        envs.resolve_env_id("no_such_module:Thing-v0")
