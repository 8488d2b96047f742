"""Warm starts: a brain's weights carried onto another task of the same body, inputs matched by name."""

import re

import numpy as np
import pytest
import torch as th

from agents.brains import store
from agents.brains.models import build_model
from agents.brains.warmstart import input_layout, input_map, warm_start
from agents.config import ConfigError, resolve_config
from agents.evaluation import rollout as evaluation
from agents.training.trainer import check_env_config
from agents.vecenvs import build_vec_env

GAIT = "neuromotor/Walker2d-Gait-v2"


def test_input_map_matches_commands_by_name():
    jump = input_layout("neuromotor/Walker2d-Jump-v3", {})
    gait = input_layout(GAIT, {})
    assert jump == (8 + 9 + 2, ("spot_x", "spot_y"))
    assert gait == (19, ("walk", "jump", "speed", "spot_x", "spot_y"))
    np.testing.assert_array_equal(input_map(jump, gait), [*range(19), -1, -1, -1, 19, 20])
    walk = input_layout("neuromotor/Walker2d-Walk-v1", {})
    np.testing.assert_array_equal(input_map(walk, gait)[19:], [-1, -1, 19, -1, -1])
    with pytest.raises(ConfigError, match=re.escape("the brain senses 19 inputs and this env 10")):
        input_map(jump, input_layout(GAIT, {"obs": "proprio"}))


def test_warm_started_brain_acts_as_its_source_whatever_the_new_command():
    brain = store.find_brain("walker2d-split-leap")
    source = store.load_model(brain)
    config = resolve_config(GAIT, "rppo", {"n_envs": 1, "batch_size": 256, "init_from": "walker2d-split-leap"})
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    line = warm_start(model, config, "walker2d-split-leap")
    # Walker2d is planar: the sideways distance to the jump's spot was always 0, and starts anew.
    assert line == "warm start from walker2d-split-leap: 20 inputs carried over, 4 new or never varied (zero weight)"
    # A jump observation, and the gait observation with the same senses and spot under random gait and speed inputs.
    rng = np.random.default_rng(0)
    source_stats = evaluation.make_env(brain)
    jump_obs = rng.normal(size=(5, 21))
    jump_obs[:, 20] = source_stats.obs_rms.mean[20]  # as it always was (normalised to 0)
    gait, speed, spot_y = rng.uniform(0, 2, size=(5, 2)), rng.uniform(0, 2, size=(5, 1)), rng.normal(size=(5, 1))
    gait_obs = np.concatenate([jump_obs[:, :19], gait, speed, jump_obs[:, 19:20], spot_y], axis=1)
    expected, _ = source.predict(source_stats.normalize_obs(jump_obs), episode_start=np.ones(5), deterministic=True)
    got, _ = model.predict(env.normalize_obs(gait_obs), episode_start=np.ones(5), deterministic=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The critic carries over too, and the return scale with it.
    with th.no_grad():
        values = [
            m.policy.predict_values(
                th.as_tensor(e.normalize_obs(o), dtype=th.float32),
                (th.zeros(1, 5, 128), th.zeros(1, 5, 128)),
                th.ones(5),
            )
            for m, e, o in ((source, source_stats, jump_obs), (model, env, gait_obs))
        ]
    th.testing.assert_close(values[0], values[1])
    assert env.ret_rms.var == pytest.approx(source_stats.ret_rms.var)
    env.close()
    source_stats.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"init_from": "no-such-brain"},
            "init_from: 'no-such-brain' is not a run directory, a model .zip or a bundled",
        ),
        ({"init_from": "ant-walk"}, "init_from: the brain senses 109 inputs and this env 19"),
        (
            {"init_from": "walker2d-split-leap", "algo": "ppo"},
            "init_from 'walker2d-split-leap' is a rppo brain; this run is ppo",
        ),
        ({"init_from": "walker2d-split-leap", "normalize": False}, "one of the two normalises observations"),
    ],
)
def test_bad_init_from_is_caught_before_training(overrides, message):
    algo = overrides.pop("algo", "rppo")
    config = resolve_config(GAIT, algo, overrides)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_env_config(config)


def test_an_input_that_never_varied_starts_at_zero_weight():
    # walker2d-walk trained at one speed: its speed input carries no meaning, its weights are where they began.
    config = resolve_config(GAIT, "rppo", {"n_envs": 1, "batch_size": 256})
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    line = warm_start(model, config, "walker2d-walk")
    assert line == "warm start from walker2d-walk: 19 inputs carried over, 5 new or never varied (zero weight)"
    weights = model.policy.state_dict()["lstm_actor.weight_ih_l0"]
    assert weights.shape[1] == 24 and not weights[:, 19:].any() and weights[:, :19].abs().sum() > 0
    assert env.obs_rms.mean[21] == 0 and env.obs_rms.var[21] == 1
    env.close()


def test_init_min_log_std_raises_only_the_low_ones():
    source = store.load_model(store.find_brain("walker2d-split-leap")).policy.log_std.detach()
    config = resolve_config(
        GAIT, "rppo", {"n_envs": 1, "batch_size": 256, "init_from": "walker2d-split-leap", "init_min_log_std": -1.5}
    )
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    assert warm_start(model, config, "walker2d-split-leap").endswith("action log std raised to at least -1.5")
    th.testing.assert_close(model.policy.log_std.detach(), th.clamp(source, min=-1.5))
    assert (source < -1.5).any() and (source > -1.5).any()
    env.close()


def test_a_different_network_is_refused():
    config = resolve_config(GAIT, "rppo", {"n_envs": 1, "batch_size": 256, "policy.lstm_hidden_size": 16})
    env = build_vec_env(config, 1, 0)
    with pytest.raises(ConfigError, match=r"its network differs \(policy .*use the same policy settings"):
        warm_start(build_model(config, env, None), config, "walker2d-split-leap")
    env.close()


def test_a_same_width_input_layer_is_still_matched_by_name():
    # Walk to walk: the same inputs, but the speed (fixed at 1.0 in the source's training) starts anew.
    config = resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", {"n_envs": 1, "batch_size": 256})
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    line = warm_start(model, config, "walker2d-walk")
    assert line == "warm start from walker2d-walk: 19 inputs carried over, 1 new or never varied (zero weight)"
    weights = model.policy.state_dict()["lstm_critic.weight_ih_l0"]
    assert not weights[:, 19].any() and weights[:, :19].abs().sum() > 0
    env.close()
