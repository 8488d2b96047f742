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
CLOCK = "neuromotor/Walker2d-Clock-v4"
#: The clock env's inputs: 19 senses, 4 of the clock, then the gait in force (swing ratio, frequency, two offsets)
#: and the speed.
SWING, SPEED = 23, 27


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
    brain = store.find_brain("walker2d-jump")
    source = store.load_model(brain)
    kwargs = {"gaits": ["walk", "jump"]}
    config = resolve_config(CLOCK, "rppo", {"n_envs": 1, "batch_size": 256, "init_from": "walker2d-jump",
                                            "env_kwargs": kwargs})  # fmt: skip
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    line = warm_start(model, config, "walker2d-jump")
    # The jump's gait parameters and its speed (0) never changed in its training: they start anew.
    assert line == "warm start from walker2d-jump: 23 inputs carried over, 5 new or never varied (zero weight)"
    # A jump observation, and the same senses and clock under random gait and speed inputs.
    rng = np.random.default_rng(0)
    source_stats = evaluation.make_env(brain)
    jump_obs = rng.normal(size=(5, 28))
    jump_obs[:, SWING:] = source_stats.obs_rms.mean[SWING:]  # as they always were (normalised to 0)
    gait_obs = jump_obs.copy()
    gait_obs[:, SWING:] = rng.uniform(0, 2, size=(5, 5))
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
        ({"init_from": "walker2d-jump", "algo": "ppo"}, "init_from 'walker2d-jump' is a rppo brain; this run is ppo"),
        ({"init_from": "walker2d-jump", "normalize": False}, "one of the two normalises observations"),
    ],
)
def test_bad_init_from_is_caught_before_training(overrides, message):
    algo = overrides.pop("algo", "rppo")
    config = resolve_config(CLOCK, algo, overrides)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_env_config(config)


def test_an_input_that_never_varied_starts_at_zero_weight():
    # walker2d-walk walked only: the gait parameters (swing ratio, frequency, offsets) carry no meaning for it, and
    # their weights are where they began, though both layouts are the same width.
    config = resolve_config(CLOCK, "rppo", {"n_envs": 1, "batch_size": 256, "env_kwargs": {"gaits": ["walk", "jump"]}})
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    line = warm_start(model, config, "walker2d-walk")
    assert line == "warm start from walker2d-walk: 24 inputs carried over, 4 new or never varied (zero weight)"
    for weights in (model.policy.state_dict()[f"lstm_{part}.weight_ih_l0"] for part in ("actor", "critic")):
        assert weights.shape[1] == 28 and not weights[:, SWING:SPEED].any()
        assert weights[:, :SWING].abs().sum() > 0 and weights[:, SPEED].abs().sum() > 0
    assert env.obs_rms.mean[SWING] == 0 and env.obs_rms.var[SWING] == 1
    env.close()


def test_init_min_log_std_raises_only_the_low_ones():
    source = store.load_model(store.find_brain("walker2d-jump")).policy.log_std.detach()
    floor = float(source.median())
    config = resolve_config(
        CLOCK, "rppo", {"n_envs": 1, "batch_size": 256, "init_from": "walker2d-jump", "init_min_log_std": floor}
    )
    env = build_vec_env(config, 1, 0)
    model = build_model(config, env, None)
    assert warm_start(model, config, "walker2d-jump").endswith(f"action log std raised to at least {floor:g}")
    th.testing.assert_close(model.policy.log_std.detach(), th.clamp(source, min=floor))
    assert (source < floor).any() and (source > floor).any()
    env.close()


def test_a_different_network_is_refused():
    config = resolve_config(CLOCK, "rppo", {"n_envs": 1, "batch_size": 256, "policy.lstm_hidden_size": 16})
    env = build_vec_env(config, 1, 0)
    with pytest.raises(ConfigError, match=r"its network differs \(policy .*use the same policy settings"):
        warm_start(build_model(config, env, None), config, "walker2d-jump")
    env.close()
