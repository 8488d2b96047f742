"""Every registered env, tested the same way: API conformance, reward terms, determinism, senses, falls."""

import gymnasium as gym
import numpy as np
import pytest
from conftest import ALL_IDS, BUILTIN, move_root
from gymnasium.utils.env_checker import check_env

import envs


def rollout(env, seed: int, steps: int, action_seed: int = 0):
    """Obs, rewards and infos of ``steps`` steps of fixed random actions, resetting on episode end."""
    actions = np.random.default_rng(action_seed).uniform(
        env.action_space.low, env.action_space.high, size=(steps, *env.action_space.shape)
    )
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rewards, infos = [], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return np.array(out), np.array(rewards), infos


def test_every_body_has_every_task():
    tasks = ("Walk-v1", "Jump-v3", "Native-v0", "Gait-v2")
    expected = {f"neuromotor/{body}-{task}" for body in BUILTIN for task in tasks}
    assert expected <= set(ALL_IDS)
    for env_id in expected:
        assert gym.spec(env_id).max_episode_steps == 1000


@pytest.mark.parametrize("obs", envs.OBS_MODES)
def test_check_env(env_id, obs):
    env = gym.make(env_id, obs=obs)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space.shape == env.reset(seed=0)[0].shape
    # The command, last in the observation, names its entries (warm starts match inputs by them).
    labels = env.unwrapped.command_labels
    assert labels == env.unwrapped.task.command_labels  # every built-in task names its command's entries
    assert len(labels) == len(set(labels)) == env.unwrapped.task.command.size
    env.close()


def test_reward_is_sum_of_named_terms(env_id):
    env = gym.make(env_id)
    _, rewards, infos = rollout(env, seed=1, steps=60)
    for reward, info in zip(rewards, infos, strict=True):
        terms = {k: v for k, v in info.items() if k.startswith("reward_")}
        assert len(terms) >= 2
        assert reward == pytest.approx(sum(terms.values()), abs=1e-9)


@pytest.mark.parametrize("body", BUILTIN)
def test_native_reward_matches_gymnasium(body):
    ours = gym.make(f"neuromotor/{body}-Native-v0")
    theirs = gym.make(f"{body}-v5")
    ours.reset(seed=3)
    theirs.reset(seed=0)
    # Put both simulations in the same state, then compare rewards, terminations and observations.
    state = (ours.unwrapped.data.qpos.copy(), ours.unwrapped.data.qvel.copy())
    theirs.unwrapped.set_state(*state)
    for action in np.random.default_rng(0).uniform(-0.4, 0.4, size=(40, *ours.action_space.shape)):
        o1, r1, t1, _, _ = ours.step(action)
        o2, r2, t2, _, _ = theirs.step(action)
        assert r1 == pytest.approx(r2, abs=1e-9)
        assert t1 == t2
        np.testing.assert_allclose(o1[: o2.size], o2)
        if t1:
            break


@pytest.mark.parametrize("kwargs", [{}, {"obs_noise": 0.1, "obs_delay": 2, "action_noise": 0.2}])
def test_same_seed_same_trajectory(env_id, kwargs):
    a = rollout(gym.make(env_id, **kwargs), seed=7, steps=80)
    b = rollout(gym.make(env_id, **kwargs), seed=7, steps=80)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = rollout(gym.make(env_id, **kwargs), seed=8, steps=80)
    assert not np.array_equal(a[0][:10], c[0][:10])


@pytest.mark.parametrize("body", [*BUILTIN, "TestBiped"])
def test_proprio_ignores_velocities(body):
    env = gym.make(envs.env_id(body, "walk"), obs="proprio").unwrapped
    full = gym.make(envs.env_id(body, "walk")).unwrapped
    for e in (env, full):
        e.reset(seed=0)
    before = env.sensed_state()
    full_before = full.sensed_state()
    rng = np.random.default_rng(0)
    env.base.set_state(env.data.qpos.copy(), rng.normal(size=env.model.nv))
    full.base.set_state(full.data.qpos.copy(), rng.normal(size=full.model.nv))
    np.testing.assert_array_equal(env.sensed_state(), before)
    assert not np.array_equal(full.sensed_state(), full_before)
    # Joint positions, foot contacts and the command, nothing else.
    n_feet, n_cmd = env.body.n_feet, env.task.command.size
    assert env.observation_space.shape[0] == env.model.nq - env.body.n_root_xy + n_feet + n_cmd


def test_observation_layout_contacts_and_command():
    env = gym.make("neuromotor/Walker2d-Walk-v1", speed=1.3)
    obs, info = env.reset(seed=0)
    base_size = env.unwrapped.base.observation_space.shape[0]
    assert obs.shape == (base_size + 2 + 1,)
    assert obs[-1] == 1.3
    np.testing.assert_array_equal(obs[base_size : base_size + 2], info["foot_contacts"].astype(float))
    obs, *_ = env.step(np.zeros(6))
    assert obs[-1] == 1.3


def test_obs_delay_delivers_old_sensations():
    delayed = gym.make("neuromotor/Hopper-Walk-v1", obs_delay=3)
    prompt = gym.make("neuromotor/Hopper-Walk-v1")
    d, _ = delayed.reset(seed=0)
    p, _ = prompt.reset(seed=0)
    seen = [p]
    delivered = [d]
    for action in np.random.default_rng(1).uniform(-1, 1, size=(8, 3)):
        seen.append(prompt.step(action)[0])
        delivered.append(delayed.step(action)[0])
    for t in range(len(seen)):
        np.testing.assert_array_equal(delivered[t], seen[max(0, t - 3)])


def test_obs_noise_is_noise_on_senses_not_command():
    clean = gym.make("neuromotor/Walker2d-Walk-v1")
    noisy = gym.make("neuromotor/Walker2d-Walk-v1", obs_noise=0.05)
    c, _ = clean.reset(seed=0)
    n, _ = noisy.reset(seed=0)
    assert n[-1] == c[-1]
    diff = n[:-1] - c[:-1]
    assert 0.01 < diff.std() < 0.1


def test_action_noise_changes_motion_not_reward_cost():
    quiet = gym.make("neuromotor/Walker2d-Walk-v1")
    shaky = gym.make("neuromotor/Walker2d-Walk-v1", action_noise=0.5)
    quiet.reset(seed=0)
    shaky.reset(seed=0)
    action = np.full(6, 0.3)
    oq, _, _, _, iq = quiet.step(action)
    os_, _, _, _, is_ = shaky.step(action)
    assert not np.allclose(oq, os_)
    assert iq["reward_ctrl"] == is_["reward_ctrl"]


def test_strength_scales_what_the_body_gets_not_the_cost():
    weak = gym.make("neuromotor/Ant-Walk-v1", strength=0.5)
    full = gym.make("neuromotor/Ant-Walk-v1")
    weak.reset(seed=0)
    full.reset(seed=0)
    action = np.linspace(-0.8, 0.8, 8)
    for _ in range(3):
        ow, _, _, _, iw = weak.step(action)
        oh, _, _, _, ih = full.step(action / 2)
    np.testing.assert_allclose(ow, oh)  # half strength moves the body as half the action does
    np.testing.assert_allclose(weak.unwrapped.data.ctrl, action / 2)
    assert iw["reward_ctrl"] == 4 * ih["reward_ctrl"]  # the brain pays for the action it chose


@pytest.mark.parametrize("body", [*BUILTIN, "TestBiped"])
def test_jump_is_not_ended_by_height(body):
    env = gym.make(envs.env_id(body, "jump"))
    env.reset(seed=0)
    move_root(env, dz=1.0)
    _, _, terminated, _, info = env.step(np.zeros(env.action_space.shape))
    assert not terminated
    assert info["com_rise"] > 0.8
    assert info["airborne"] == 1.0


def test_gymnasium_walker_would_end_that_jump():
    """The contrast: Gymnasium's own Walker2d ends an episode with the torso above 2 m."""
    env = gym.make("neuromotor/Walker2d-Native-v0")
    env.reset(seed=0)
    move_root(env, dz=1.0)
    assert env.step(np.zeros(6))[2]


@pytest.mark.parametrize("task", ["walk", "jump"])
@pytest.mark.parametrize("body", [*BUILTIN, "TestBiped"])
def test_upside_down_body_is_terminated(body, task):
    env = gym.make(envs.env_id(body, task))
    env.reset(seed=0)
    move_root(env, dz=0.3, pitch=np.pi)
    for _ in range(300):
        _, _, terminated, _, info = env.step(np.zeros(env.action_space.shape))
        if terminated:
            break
    assert terminated, f"{body} upside down was not terminated"
    assert info["fallen"] == 1.0


@pytest.mark.parametrize("body", ["Walker2d", "Hopper", "Humanoid"])
def test_passive_collapse_is_a_fall(body):
    env = gym.make(envs.env_id(body, "walk"))
    env.reset(seed=0)
    for _ in range(1000):
        if env.step(np.zeros(env.action_space.shape))[2]:
            return
    pytest.fail(f"{body} with no muscle tone never fell")


@pytest.mark.parametrize("body", [*BUILTIN, "TestBiped"])
def test_contacts_on_a_scripted_drop(body):
    env = gym.make(envs.env_id(body, "jump"))
    env.reset(seed=0)
    move_root(env, dz=0.5)
    contacts, heights = [], []
    for _ in range(int(1.0 / env.unwrapped.dt)):
        _, _, terminated, _, info = env.step(np.zeros(env.action_space.shape))
        contacts.append(info["foot_contacts"].copy())
        heights.append(info["com_rise"])
        if terminated:
            break
    contacts = np.array(contacts)
    landed = np.flatnonzero(contacts.any(axis=1))
    assert landed.size, f"{body} never touched down"
    first = landed[0]
    assert first >= 3, "feet touched while still high in the air"
    assert not contacts[:first].any()
    # While falling the body was high above its standing height, and it came down.
    assert max(heights[:first]) > 0.3
    assert heights[first] < heights[0]


def test_body_task_defaults_yield_to_the_user():
    assert gym.make("neuromotor/Ant-Walk-v1").unwrapped.task.stride_weight == 0.0
    assert gym.make("neuromotor/Ant-Walk-v1", stride_weight=5.0).unwrapped.task.stride_weight == 5.0
    assert gym.make("neuromotor/Walker2d-Walk-v1").unwrapped.task.stride_weight > 0


def test_an_unnamed_command_gets_generic_labels():
    # A plug-in task may leave its command unnamed: the env still names each entry, so warm starts can match them.
    env = gym.make("neuromotor/Walker2d-Gait-v2").unwrapped
    env.task.command_labels = ()
    assert env.command_labels == tuple(f"command_{i}" for i in range(5))
    env.close()
