"""Left-right mirrors: a body's reflection in its observation and action, and the mirror loss."""

import re

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.vec_env import VecNormalize
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from agents.brains.algorithm import FastRecurrentPPO
from agents.brains.models import build_model
from agents.config import ConfigError, resolve_config
from agents.recipes.templates import MIRROR_WEIGHT, for_body
from agents.training.trainer import apply_mirror, check_env_config, env_mirror, train, training_env
from envs.mirror import BodyMirror, Mirror, SignedPermutation, body_maps

CLOCK = "neuromotor/Walker2d-Clock-v4"
TINY = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy.lstm_hidden_size": 8,
        "eval_freq": 0, "checkpoint_freq": 0, "total_steps": 128}  # fmt: skip


def _walked(env, steps: int, seed: int = 0) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-0.3, 0.3, env.action_space.shape))
    return obs


def test_the_walker_mirror_trades_each_right_entry_for_its_left_twin():
    env = gym.make(CLOCK)
    mirror = env.unwrapped.mirror
    labels = env.unwrapped.command_labels
    # Gymnasium's Walker2d observation: z, pitch, right thigh, leg, foot, left thigh, leg, foot, then velocities.
    body = [0, 1, 5, 6, 7, 2, 3, 4, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    contacts = [18, 17]
    command = 19 + np.array([labels.index(n.replace("right", "@").replace("left", "right").replace("@", "left"))
                             for n in labels])  # fmt: skip
    assert mirror.obs.index.tolist() == [*body, *contacts, *command.tolist()]
    assert np.all(mirror.obs.sign == 1) and mirror.act.index.tolist() == [3, 4, 5, 0, 1, 2]
    assert [labels[i - 19] for i in mirror.offsets] == ["offset_right", "offset_left"]
    obs = _walked(env, 40)
    assert np.allclose(mirror.observation(mirror.observation(obs)), obs)


def _symmetric(model, maps) -> None:
    """Give twin dofs the larger of their armatures and stiffnesses: Gymnasium's Humanoid is not quite symmetric
    (right hip_y armature 0.008, left 0.01; left knee stiffness 1, right 0), which changes its contact forces."""
    model.dof_armature[:] = np.maximum(model.dof_armature, model.dof_armature[maps["qvel"].index])
    for j in range(model.njnt):
        dof = model.jnt_dofadr[j]
        twin = np.flatnonzero(model.jnt_dofadr == maps["qvel"].index[dof])
        if len(twin):
            model.jnt_stiffness[j] = max(model.jnt_stiffness[j], model.jnt_stiffness[twin[0]])


@pytest.mark.parametrize("body", ["Walker2d", "Ant", "Humanoid"])
def test_a_mirrored_observation_is_the_observation_of_the_mirrored_body(body):
    env = gym.make(f"neuromotor/{body}-Clock-v4")
    unwrapped = env.unwrapped
    mirror, base = unwrapped.mirror, unwrapped.base
    model, data = base.model, base.data
    maps = body_maps(model, unwrapped.body_spec.mirror, unwrapped.body_spec.foot_labels)
    _symmetric(model, maps)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(200):  # until something touches the floor, so the contact forces are compared too
        env.step(rng.uniform(-1, 1, env.action_space.shape))
        if np.abs(data.cfrc_ext[1:]).max() > 1.0:
            break
    assert np.abs(data.cfrc_ext[1:]).max() > 1.0
    ctrl = data.ctrl.copy()
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    obs = np.concatenate([unwrapped.sensed_state(), unwrapped.task.command])
    for name, perm in (("qpos", maps["qpos"]), ("qvel", maps["qvel"]), ("qacc_warmstart", maps["qvel"])):
        getattr(data, name)[:] = getattr(data, name)[perm.index] * perm.sign
    data.ctrl[:] = ctrl[maps["action"].index] * maps["action"].sign
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    sensed = unwrapped.sensed_state()
    mirrored = mirror.observation(obs)[: len(sensed)]
    # Contact forces (the Ant's and Humanoid's last per-body rows, before the foot contacts) agree to 1e-5 of their
    # size: the Humanoid's solver (PGS) stops short of exact convergence. Everything else agrees exactly.
    forces = np.zeros(len(sensed), dtype=bool)
    if getattr(base, "_include_cfrc_ext_in_observation", False):
        end = len(sensed) - len(unwrapped.foot_labels)
        forces[end - 6 * (model.nbody - 1) : end] = True
    np.testing.assert_allclose(mirrored[~forces], sensed[~forces], rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        mirrored[forces], sensed[forces], rtol=0, atol=1e-5 * np.abs(sensed[forces]).max(initial=1)
    )


def test_joint_signs_come_from_the_model():
    humanoid = gym.make("neuromotor/Humanoid-Clock-v4").unwrapped
    motors = [humanoid.base.model.actuator(i).name for i in range(humanoid.base.model.nu)]
    signs = dict(zip(motors, humanoid.mirror.act.sign, strict=True))
    # The abdomen's twist and roll and the shoulders turn the other way; its bend, the hips, knees and elbows do not.
    assert [signs[m] for m in ("abdomen_z", "abdomen_x", "right_shoulder1", "abdomen_y", "right_knee")] == [
        -1,
        -1,
        -1,
        1,
        1,
    ]
    ant = gym.make("neuromotor/Ant-Clock-v4").unwrapped
    assert ant.mirror.act.sign.tolist() == [-1, 1] * 4  # each hip turns the other way, each ankle bends alike


def test_a_mirrored_clock_is_the_walks_clock_half_a_cycle_on():
    env = gym.make(CLOCK, gaits=["walk"], stand_first=False, switch_interval=[100.0, 100.0])
    mirror = env.unwrapped.mirror
    obs, _ = env.reset(seed=1)
    seen = [obs]
    for _ in range(80):
        seen.append(env.step(np.zeros(6))[0])
    task = env.unwrapped.task
    half = task.clock.gait.period / 2 / env.unwrapped.dt  # 31.25 steps: the clocks differ by a quarter step
    start = 19
    for t in (5, 20, 40):
        ahead = seen[t + round(half)][start:]
        assert np.allclose(mirror.observation(seen[t])[start:], ahead, atol=0.03), t
    # Its offsets are the walk's own: a mirrored walk is the walk, not a new command.
    assert mirror.observation(seen[5])[mirror.offsets].tolist() == list(task.clock.gait.offsets)


def test_numpy_and_torch_mirror_alike_and_an_offset_lands_in_the_unit_cycle():
    mirror = Mirror(SignedPermutation(np.array([1, 0, 3, 2]), np.array([1.0, -1.0, 1.0, 1.0])),
                    SignedPermutation(np.array([1, 0]), np.ones(2)), offsets=np.array([2, 3]))  # fmt: skip
    # The second row's offsets come back from unnormalising a jump's (0, 0) a little off.
    x = np.array([[0.3, -2.0, 0.25, 0.75], [1.0, 2.0, 3e-4, -5e-4]])
    y = mirror.observation(x)
    assert np.allclose(y, [[-2.0, -0.3, 0.25, 0.75], [2.0, -1.0, 3e-4, 1.1e-3]], atol=1e-6)
    assert np.allclose(mirror.observation(th.tensor(x, dtype=th.float32)).numpy(), y, atol=1e-6)
    assert mirror.action(th.tensor([[1.0, 2.0]])).tolist() == [[2.0, 1.0]]


def test_bodies_without_a_mirror_have_none_and_bad_mirrors_are_refused():
    for body in ("Hopper", "HalfCheetah"):
        assert gym.make(f"neuromotor/{body}-Clock-v4").unwrapped.mirror is None
    # The old walk task's command has no mirror.
    assert gym.make("neuromotor/Walker2d-Walk-v1").unwrapped.mirror is None
    model = gym.make(CLOCK).unwrapped.base.model
    with pytest.raises(ValueError, match="no joint 'hip'; valid joints: rootx"):
        body_maps(model, BodyMirror(joints=(("hip", "thigh_joint"),)), ("right", "left"))
    with pytest.raises(ValueError, match="names a joint twice"):
        body_maps(model, BodyMirror(joints=(("leg_joint", "leg_left_joint"), ("leg_joint", "foot_joint"))), ())
    with pytest.raises(ValueError, match="no foot 'front'; valid feet: right, left"):
        body_maps(model, BodyMirror(joints=(), feet=(("front", "left"),)), ("right", "left"))
    with pytest.raises(
        ValueError, match="joint 'rootz' pairs with joint 'thigh_joint', but its mirror image is not along that axis"
    ):
        body_maps(model, BodyMirror(joints=(("thigh_joint", "rootz"),)), ())
    lopsided = gym.make(CLOCK).unwrapped.base.model
    lopsided.jnt_range[lopsided.joint("leg_left_joint").id] = [-1.0, 0.0]
    with pytest.raises(
        ValueError, match="the range of joint 'leg_joint' does not mirror that of joint 'leg_left_joint'"
    ):
        body_maps(lopsided, envs.BODIES["Walker2d"].mirror, ("right", "left"))
    with pytest.raises(ValueError, match="mirroring twice"):
        SignedPermutation(np.array([1, 2, 0]), np.ones(3)).check("three")


def _model(**settings) -> FastRecurrentPPO:
    config = resolve_config(CLOCK, "rppo", {**TINY, **settings})
    model = build_model(config, training_env(config, config.n_envs, config.seed), None)
    apply_mirror(model, config)
    return model


def test_mirrored_minibatches_are_normalised_as_the_mirrored_raw_observations():
    model = _model(mirror_weight=1.0)
    model.learn(128)
    normaliser = model.get_vec_normalize_env()
    assert isinstance(normaliser, VecNormalize)
    raw = np.stack([_walked(gym.make(CLOCK), n, seed=n) for n in (5, 30)])
    normalised = th.tensor(normaliser.normalize_obs(raw), dtype=th.float32)
    expected = normaliser.normalize_obs(model.mirror.observation(raw))
    assert np.allclose(model._mirrored_observations(normalised).numpy(), expected, atol=1e-4)


def test_the_mirror_loss_is_zero_for_the_identity_from_episode_starts_and_its_burn_in_masks_the_rest():
    model = _model(mirror_weight=1.0)
    model.learn(256)  # the buffer holds the second rollout: its sequences begin mid-episode or at a reset
    identity = Mirror(SignedPermutation.identity(model.observation_space.shape[0]), SignedPermutation.identity(6))
    with th.no_grad():
        data = next(model.rollout_buffer.get(None))
        model.policy.evaluate_actions(data.observations, data.actions, data.lstm_states, data.episode_starts)
        mean = model.policy.action_dist.distribution.mean
        starts = data.episode_starts.reshape(data.lstm_states.pi[0].shape[1], -1)[:, 0] > 0.5
        assert bool(starts.any()) and not bool(starts.all())
        model.set_mirror(identity, 1.0, burn_in=0)
        unmasked = model.mirror_loss(data, mean).item()
        # Past the burn-in only sequences that begin an episode count: run from a zero state, as the policy's own.
        model.set_mirror(identity, 1.0, burn_in=10_000)
        masked = model.mirror_loss(data, mean).item()
    assert unmasked > 1e-8 and masked < 1e-10


def test_minimising_the_mirror_loss_makes_the_actor_act_as_its_own_mirror():
    model = _model(mirror_weight=1.0, learning_rate=3e-3)
    model.learn(128)
    data = next(model.rollout_buffer.get(64))

    def loss() -> th.Tensor:
        model.policy.evaluate_actions(data.observations, data.actions, data.lstm_states, data.episode_starts)
        return model.mirror_loss(data, model.policy.action_dist.distribution.mean)

    with th.no_grad():
        model.policy.action_net.weight.mul_(50.0)  # actions far from symmetric
        before = loss().item()
    for _ in range(30):
        model.policy.optimizer.zero_grad()
        loss().backward()
        model.policy.optimizer.step()
    with th.no_grad():
        assert loss().item() < 0.5 * before


def test_a_mirrored_run_logs_its_loss_and_a_body_without_a_mirror_is_a_one_line_error(tmp_path):
    train(
        resolve_config(CLOCK, "rppo", {**TINY, "mirror_weight": 2.0, "total_steps": 384}),
        tmp_path / "m",
        progress=False,
    )
    events = EventAccumulator(str(next((tmp_path / "m" / "tb").iterdir())))
    events.Reload()
    assert [e.value > 0 for e in events.Scalars("train/mirror_loss")] == [True, True]
    config = resolve_config("neuromotor/Hopper-Clock-v4", "rppo", {**TINY, "mirror_weight": 2.0})
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "mirror_weight: neuromotor/Hopper-Clock-v4 has no left-right mirror: the Hopper's BodySpec names none"
        ),
    ):
        check_env_config(config)
    for bad, message in (({"mirror_weight": -1.0}, "mirror_weight must be >= 0"),
                         ({"mirror_burn_in": -2}, "mirror_burn_in must be >= 0")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            resolve_config(CLOCK, "rppo", {**TINY, **bad})
    with pytest.raises(ConfigError, match="mirror_weight trains rppo brains, not ppo"):
        resolve_config(CLOCK, "ppo", {"mirror_weight": 1.0})


def test_templates_use_the_mirror_on_a_body_that_has_one():
    for kind in ("walk", "jump"):
        assert for_body(kind, "Walker2d")[1]["settings"]["mirror_weight"] == MIRROR_WEIGHT
    assert "mirror_weight" not in for_body("jump", "Hopper")[1]["settings"]
    assert env_mirror(gym.make(CLOCK)) is not None


def test_a_plug_in_body_names_its_mirror_and_a_bad_one_is_refused_at_registration():
    import tests.plugin_env  # noqa: F401  (registers PluginBiped, with its mirror)

    env = gym.make("neuromotor/PluginBiped-Clock-v4")
    mirror, base = env.unwrapped.mirror, env.unwrapped.base
    assert mirror.act.index.tolist() == [2, 3, 0, 1]
    obs = _walked(env, 20)
    maps = body_maps(base.model, envs.BODIES["PluginBiped"].mirror, ("foot_r", "foot_l"))
    base.set_state(base.data.qpos[maps["qpos"].index], base.data.qvel[maps["qvel"].index])
    mujoco.mj_forward(base.model, base.data)
    sensed = env.unwrapped.sensed_state()
    assert np.allclose(mirror.observation(obs)[: len(sensed)], sensed)
    assert "mirror_weight" in for_body("walk", "tests.plugin_env:PluginBiped")[1]["settings"]
    with pytest.raises(ValueError, match="no joint 'hip_x'"):
        envs.register_body("BadMirror", xml_file="tests/assets/biped.xml", torso="pelvis", feet=["foot_r", "foot_l"],
                           floor="ground", mirror=envs.BodyMirror(joints=(("hip_x", "hip_l"),)))  # fmt: skip
    assert "BadMirror" not in envs.BODIES


PADS = """<mujoco><worldbody><geom name="floor" type="plane" size="5 5 .1"/>
  <body name="torso" pos="0 0 1"><freejoint name="root"/><geom type="sphere" size=".1"/>
    <body name="left_pad" pos="0 .1 0"><geom type="sphere" size=".05"/></body>
    <body name="right_pad" pos="0 -.1 0"><geom type="sphere" size=".05" density="DENSITY"/></body>
    <body name="left_leg" pos="0 .2 0"><joint name="hip_l" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -.5" size=".04"/></body>
    <body name="right_leg" pos="0 -.2 0"><joint name="hip_r" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -.5" size=".04"/></body>
  </body></worldbody><actuator><motor joint="hip_l"/><motor joint="hip_r"/></actuator></mujoco>"""


def test_jointless_twins_on_a_free_root_pair_by_place_and_a_lopsided_twin_is_refused():
    model = mujoco.MjModel.from_xml_string(PADS.replace("DENSITY", "1000"))
    maps = body_maps(model, BodyMirror(joints=(("hip_l", "hip_r"),)), ())
    names = [model.body(int(b)).name for b in maps["bodies"]]
    assert names == ["world", "torso", "right_pad", "left_pad", "right_leg", "left_leg"]
    assert maps["action"].index.tolist() == [1, 0] and maps["qpos"].sign[:7].tolist() == [1, -1, 1, 1, -1, 1, -1]
    heavy = mujoco.MjModel.from_xml_string(PADS.replace("DENSITY", "4000"))
    with pytest.raises(
        ValueError, match="body 'left_pad' does not mirror the mass and inertia of its twin 'right_pad'"
    ):
        body_maps(heavy, BodyMirror(joints=(("hip_l", "hip_r"),)), ())


def test_an_env_says_why_it_has_no_mirror():
    assert gym.make(CLOCK).unwrapped.mirror_refusal is None
    cases = {
        "neuromotor/Hopper-Clock-v4": ({}, "the Hopper's BodySpec names none"),
        "neuromotor/Walker2d-Walk-v1": ({}, "the walk task's command has none"),
        "neuromotor/Ant-Clock-v4": (
            {"contact_force_range": (-0.5, 1.0)},
            "contact_force_range (-0.5, 1.0) is not symmetric",
        ),
    }
    for env_id, (kwargs, reason) in cases.items():
        env = gym.make(env_id, **kwargs).unwrapped
        assert env.mirror is None and reason in env.mirror_refusal
