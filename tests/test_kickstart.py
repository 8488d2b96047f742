"""Kickstarting: PPO plus an annealed loss towards the commanded gait's teacher."""

import copy
import re

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.brains.algorithm import FastRecurrentPPO
from agents.brains.models import build_model, load_algorithm
from agents.brains.policies import FAST_POLICY
from agents.config import ConfigError, check_kickstart, resolve_config
from agents.training import distill
from agents.training.kickstart import (
    KickstartPPO,
    KickstartRolloutBuffer,
    TeacherVecEnv,
    find_teacher_env,
    kickstart_weight,
    pending_switches,
    teacher_loss,
)
from agents.training.trainer import check_env_config, train, training_env
from agents.vecenvs import EnvFactory

CLOCK = "neuromotor/Walker2d-Clock-v4"
TEACHERS = {"walk": "walker2d-walk", "jump": "walker2d-jump"}
TINY = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 2, "policy.lstm_hidden_size": 8,
        "eval_freq": 0, "checkpoint_freq": 0,
        "env_kwargs": {"gaits": ["walk", "jump"], "switch_interval": [0.1, 0.3]}}  # fmt: skip


def config(kickstart: dict | None = None, **settings):
    """The tiny run's settings, kickstarted by ``TEACHERS`` updated with ``kickstart`` (none: not kickstarted)."""
    if kickstart is not None:
        settings["kickstart"] = {"teachers": TEACHERS, **kickstart}
    return resolve_config(CLOCK, "rppo", {**TINY, **settings})


def test_the_weight_falls_linearly_to_zero_and_stays_there():
    assert kickstart_weight(2.0, 100, 0) == 2.0
    assert kickstart_weight(2.0, 100, 25) == pytest.approx(1.5)
    assert kickstart_weight(2.0, 100, 100) == 0.0 and kickstart_weight(2.0, 100, 1000) == 0.0
    assert kickstart_weight(2.0, 0, 0) == 0.0


def test_the_loss_counts_taught_rows_only_and_not_means_past_a_bound_the_teacher_is_at():
    mean = th.tensor([[0.5, 1.5], [-2.0, 0.0], [9.0, 9.0]], requires_grad=True)
    target = th.tensor([[0.0, 1.0], [-1.0, 1.0], [0.0, 0.0]])
    mask = th.tensor([True, True, False])
    loss = teacher_loss(mean, target, mask)
    # Rows 0 and 1: errors 0.5, 0 (past the bound), 0 (past the bound), 1; row 2 untaught.
    assert loss.item() == pytest.approx((0.25 + 1.0) / 4)
    nobody = teacher_loss(mean, target, th.zeros(3, dtype=bool))
    nobody.backward()
    assert nobody.item() == 0.0 and th.all(mean.grad == 0)


def test_each_observation_is_labelled_by_its_gaits_teacher_except_just_after_a_switch():
    venv = training_env(config({}), 2, seed=0)
    labelled = find_teacher_env(venv)
    assert isinstance(labelled, TeacherVecEnv) and venv is not labelled
    labelled.switch_grace = 5
    replay = distill.Teachers(CLOCK, TINY["env_kwargs"], TEACHERS, 2)
    rng = np.random.default_rng(0)
    obs = labelled.reset()
    starts = np.ones(2, dtype=bool)
    pending = np.zeros(2, dtype=bool)
    since = np.full(2, 5)
    gait = replay.reader(obs)
    seen_switch = seen_taught = False
    for _ in range(200):
        expected = replay.act(obs, starts)
        taught = ~np.isnan(labelled.labels).any(axis=1)
        np.testing.assert_allclose(labelled.labels[taught], expected[taught], atol=1e-5)
        assert np.all(taught == ((since >= 5) & ~(pending & ~starts)))
        seen_switch |= bool((~taught & (since < 5)).any())
        seen_taught |= bool(taught.any())
        before = labelled.labels.copy()
        obs, _, dones, infos = labelled.step(rng.uniform(-0.3, 0.3, (2, 6)))
        np.testing.assert_array_equal(labelled.acted_on, before)
        now = replay.reader(obs)
        since = np.where(dones | (now == gait), since + 1, 0)
        since[dones] = 5
        gait, starts, pending = now, dones.astype(bool), pending_switches(infos)
    assert seen_switch and seen_taught
    venv.close()


def test_nobody_teaches_while_a_commanded_gait_waits_for_the_clock():
    # A fixed schedule makes the switches (a jump commanded mid-walk waits for the walk's clock); small actions keep
    # the body up through them.
    env_kwargs = {"gaits": ["walk", "jump"], "schedule": "walk:1.0@0,jump@10,walk:1.0@70,jump@90"}
    venv = DummyVecEnv([EnvFactory(CLOCK, env_kwargs) for _ in range(2)])
    labelled = TeacherVecEnv(venv, CLOCK, env_kwargs, TEACHERS, switch_grace=0)
    venv.seed(0)
    rng = np.random.default_rng(0)
    labelled.reset()
    seen_pending = seen_taught = 0
    for _ in range(150):
        _, _, dones, infos = labelled.step(rng.uniform(-0.1, 0.1, (2, 6)))
        pending = pending_switches(infos) & ~dones
        taught = ~np.isnan(labelled.labels).any(axis=1)
        assert not (taught & pending).any()
        assert np.all(taught[~pending & ~dones])
        seen_pending += int(pending.sum())
        seen_taught += int(taught.sum())
    assert seen_pending > 0 and seen_taught > 0
    assert not pending_switches([{}, {"commanded_gait": "walk"}]).any()
    labelled.close()


class _Source:
    teaching = True

    def __init__(self) -> None:
        self.acted_on = np.zeros((2, 1), dtype=np.float32)


def test_a_minibatchs_teacher_actions_line_up_with_its_padded_observations():
    box = spaces.Box(-1e9, 1e9, (1,))
    buffer = KickstartRolloutBuffer(16, box, box, (16, 1, 2, 4), "cpu", n_envs=2)
    buffer.source = _Source()
    rng = np.random.default_rng(0)
    zeros = th.zeros(1, 2, 4)
    for t in range(16):
        obs = np.array([[100.0 * t], [100.0 * t + 1]], dtype=np.float32)
        buffer.source.acted_on = obs + 0.5
        starts = rng.random(2) < 0.2
        buffer.add(obs, np.zeros((2, 1)), np.zeros(2), starts, th.zeros(2), th.zeros(2),
                   lstm_states=RNNStates((zeros, zeros), (zeros, zeros)))  # fmt: skip
    for samples in buffer.get(8):
        valid = samples.mask > 0
        labels = buffer.last_teacher_actions
        assert labels.shape == samples.observations.shape
        th.testing.assert_close(labels[valid], samples.observations[valid] + 0.5)
        assert th.isnan(labels[~valid]).all()


def _learned(model_config, algo_cls, weight=0.0):
    env = training_env(model_config, model_config.n_envs, model_config.seed)
    model = build_model(model_config, env, None, (algo_cls, FAST_POLICY))
    if algo_cls is KickstartPPO:
        model.set_kickstart(weight, 10_000)
    return model


def test_at_weight_zero_the_update_is_recurrent_ppos():
    # Each built and trained in turn: a model's seed is torch's global one, reseeded when a model is built.
    plain = _learned(config(), FastRecurrentPPO)
    plain.learn(128)
    kicked = _learned(config({"weight": 0.0}), KickstartPPO, weight=0.0)
    kicked.learn(128)
    for (name, a), b in zip(plain.policy.state_dict().items(), kicked.policy.state_dict().values(), strict=True):
        th.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # Nobody taught: the teachers labelled nothing the buffer kept.
    assert np.isnan(kicked.rollout_buffer.teacher_actions).all()


def _teacher_loss_on_buffer(model) -> float:
    losses = []
    with th.no_grad():
        for data in model.rollout_buffer.get(model.batch_size):
            model.policy.evaluate_actions(data.observations, data.actions, data.lstm_states, data.episode_starts)
            target = model.rollout_buffer.last_teacher_actions
            taught = ~th.isnan(target).any(dim=1)
            mean = model.policy.action_dist.distribution.mean
            losses.append(teacher_loss(mean, th.nan_to_num(target), taught).item())
    return float(np.mean(losses))


def test_an_update_moves_the_students_actions_towards_the_teachers():
    model = _learned(config({"switch_grace": 0}, n_epochs=8, learning_rate=3e-3), KickstartPPO, weight=5.0)
    before = copy.deepcopy(model.policy.state_dict())
    model.learn(64)
    taught = ~np.isnan(model.rollout_buffer.teacher_actions).any(axis=-1)
    assert taught.mean() > 0.9
    after_loss = _teacher_loss_on_buffer(model)
    model.policy.load_state_dict(before)
    assert after_loss < 0.7 * _teacher_loss_on_buffer(model)


def test_a_kickstarted_run_trains_resumes_and_saves_a_plain_brain(tmp_path):
    run = tmp_path / "ks"
    settings = {**TINY, "total_steps": 128, "checkpoint_freq": 64, "eval_freq": 128, "eval_episodes": 1,
                "kickstart": {"teachers": TEACHERS}}  # fmt: skip
    train(resolve_config(CLOCK, "rppo", settings), run, progress=False)
    train(resolve_config(CLOCK, "rppo", {**settings, "total_steps": 256}), run, resume=True, progress=False)
    model = load_algorithm(run / "model.zip", "rppo")
    assert type(model) is FastRecurrentPPO and model.num_timesteps == 256
    assert not hasattr(model, "kick_weight") or "kick_weight" not in model.__dict__


@pytest.mark.parametrize(
    "value, message",
    [
        ({"teacher": TEACHERS}, "unknown kickstart key(s) teacher"),
        ({"teachers": {}}, "kickstart.teachers must map gaits to brains"),
        ({"teachers": TEACHERS, "weight": -1}, "kickstart.weight must be a finite number >= 0"),
        ({"teachers": TEACHERS, "weight": float("inf")}, "kickstart.weight must be a finite number >= 0"),
        ({"teachers": TEACHERS, "anneal_steps": 1.5}, "kickstart.anneal_steps must be a whole number"),
        ({"teachers": TEACHERS, "anneal_steps": 0}, "kickstart.anneal_steps must be a whole number of env steps >= 1"),
        ({"teachers": {True: "walker2d-walk"}}, "kickstart.teachers must map gaits to brains"),
        ({"teachers": TEACHERS, "switch_grace": -1}, "kickstart.switch_grace must be a whole number"),
        ({"teachers": TEACHERS, "fresh": "yes"}, "kickstart.fresh must be true or false"),
        ([1], "kickstart must be"),
    ],
)
def test_bad_kickstart_settings_are_one_line_errors(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_kickstart(value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(CLOCK, "rppo", {"kickstart": value})


def test_kickstart_needs_an_rppo_brain_a_gait_env_and_teachers_of_its_body():
    with pytest.raises(ConfigError, match="kickstart trains rppo brains, not ppo"):
        resolve_config(CLOCK, "ppo", {"kickstart": {"teachers": TEACHERS}})
    walk_only = resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", {"kickstart": {"teachers": TEACHERS}})
    with pytest.raises(ConfigError, match="has no gait command"):
        check_env_config(walk_only, warm_start=False)
    with pytest.raises(ConfigError, match=re.escape("teacher walk=ant-walk senses")):
        check_env_config(config({"teachers": {"walk": "ant-walk"}}), warm_start=False)


def test_the_stored_clock_walk_teachers_teach_the_gait_recipe():
    """walker2d-gait's recipe names stored clock walks (and the bundled clock jump) as its teachers and start."""
    from agents.recipes.book import load_recipes

    recipe = load_recipes()["walker2d-gait"]
    (gait_stage,) = recipe["chain"]
    assert gait_stage["init_from"] == gait_stage["kickstart"]["teachers"]["walk"]
    for settings in (gait_stage, recipe["settings"]):
        config = resolve_config(CLOCK, "rppo", {**settings, "n_envs": 1, "batch_size": 256})
        check_env_config(config)  # the start and both teachers load and read this env's observation
        teachers = distill.Teachers(CLOCK, config.env_kwargs, config.kickstart["teachers"], 1)
        env = EnvFactory(CLOCK, {**config.env_kwargs, "schedule": "walk:1.0@0"})()
        obs, _ = env.reset(seed=0)
        action = teachers.act(obs[None], np.ones(1, dtype=bool))[0]
        assert action.shape == (6,) and np.all(np.abs(action) <= 1.0) and np.any(action != 0.0)
