"""How deep a planar body can crouch standing still: the bound on a jump schedule's crouch."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.reach import deepest_crouch


def _body(name: str):
    return gym.make(f"neuromotor/{name}-Clock-v4").unwrapped.body


def test_the_walker_cannot_crouch_deep_on_flat_feet_and_leaning_back_lets_it_crouch_deeper():
    body = _body("Walker2d")
    upright = deepest_crouch(body, max_pitch=0.05, samples=4000)
    leaning = deepest_crouch(body, max_pitch=0.3, samples=4000)
    # Its hips only extend and its ankles turn 45 degrees: a few centimetres upright, under 0.15 m leaning back.
    assert 0.0 < upright.depth < 0.06
    assert upright.depth + 0.02 < leaning.depth < 0.15
    assert abs(leaning.pitch) <= 0.3 + 1e-9
    # Both legs take the same pose, within the joints' ranges.
    assert leaning.joints["leg_joint"] == leaning.joints["leg_left_joint"]
    model = body.model
    for name, angle in leaning.joints.items():
        low, high = model.jnt_range[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)]
        assert low <= angle <= high


def test_the_pose_found_stands_flat_footed_with_its_centre_of_mass_over_the_feet():
    body = _body("Hopper")
    crouch = deepest_crouch(body, max_pitch=0.3, samples=10000, seed=1)
    model, data = body.model, mujoco.MjData(body.model)
    for name, angle in crouch.joints.items():
        data.qpos[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)]] = angle
    data.qpos[2] = crouch.pitch  # the root hinge turns about +y, so its angle is the torso's pitch
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    up = data.xmat[body.torso_id].reshape(3, 3)[:, 2]
    assert np.arctan2(up[0], up[2]) == pytest.approx(crouch.pitch)
    foot = int(body.foot_ids[0])
    axis = data.geom_xmat[foot].reshape(3, 3)[:, 2] * model.geom_size[foot, 1]
    ends = [data.geom_xpos[foot] + axis, data.geom_xpos[foot] - axis]
    assert abs(ends[0][2] - ends[1][2]) <= 0.01
    com = data.subtree_com[body.root_id]
    assert min(e[0] for e in ends) < com[0] < max(e[0] for e in ends)
    sole = min(e[2] for e in ends) - model.geom_size[foot, 0]
    assert body.standing_com_height - (com[2] - sole) == pytest.approx(crouch.depth)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("Ant", {}, "needs a planar body"),
        ("HalfCheetah", {}, "one run of joints with the same ranges per foot"),
        ("Walker2d", {"max_pitch": -0.1}, "max_pitch must be in"),
        ("Walker2d", {"samples": 0}, "samples must be >= 1"),
    ],
)
def test_bodies_and_arguments_it_cannot_measure_are_named(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        deepest_crouch(_body(name), **{"samples": 10, **kwargs})
