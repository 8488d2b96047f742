"""Bad input to the envs API is a one-line ``ValueError`` that names the bad value and what is valid."""

import re

import gymnasium as gym
import numpy as np
import pytest
from conftest import ALL_IDS, ASSETS, BUILTIN, TEST_BODY

import envs
from envs.senses import MAX_DELAY, Senses
from envs.tasks.gait import GaitTask, parse_schedule

WALK_IDS = [i for i in ALL_IDS if "-Walk-" in i]
GAIT_IDS = [i for i in ALL_IDS if "-Gait-" in i]
NOT_NUMBERS = [float("nan"), float("inf"), -float("inf"), "fast", True, [1.0]]


def raises(message: str):
    """``pytest.raises`` for a one-line ``ValueError`` whose message starts with ``message`` (matched literally)."""
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("env_id", WALK_IDS)
@pytest.mark.parametrize("value", NOT_NUMBERS, ids=repr)
def test_speed_must_be_a_finite_number(env_id, value):
    with raises(f"speed must be a finite number or None, got {value!r}"):
        gym.make(env_id, speed=value)


@pytest.mark.parametrize(
    ("env_id", "name"),
    [
        ("neuromotor/Walker2d-Walk-v1", "speed_weight"),
        ("neuromotor/Ant-Walk-v1", "max_duty_gap"),
        ("neuromotor/Hopper-Jump-v3", "target_rise"),
        ("neuromotor/Humanoid-Jump-v3", "height_weight"),
        ("neuromotor/Walker2d-Native-v0", "contact_force_threshold"),
        (f"neuromotor/{TEST_BODY}-Walk-v1", "stride_weight"),
    ],
)
@pytest.mark.parametrize("value", NOT_NUMBERS, ids=repr)
def test_task_and_body_numbers_must_be_finite(env_id, name, value):
    with raises(f"{name} must be a finite number, got {value!r}"):
        gym.make(env_id, **{name: value})


def test_optional_numbers_take_none_but_not_nan():
    assert gym.make("neuromotor/Walker2d-Jump-v3", max_stray=None).unwrapped.task.max_stray is None
    with raises("max_stray must be a finite number or None, got nan"):
        gym.make("neuromotor/Walker2d-Jump-v3", max_stray=float("nan"))
    with raises("max_torso_pitch must be a finite number or None, got inf"):
        gym.make("neuromotor/Walker2d-Walk-v1", max_torso_pitch=float("inf"))


@pytest.mark.parametrize("value", [1.5, 2.0, "2", True])
def test_whole_numbers_must_be_integers(value):
    with raises(f"support_feet must be a whole number, got {value!r}"):
        gym.make("neuromotor/Ant-Walk-v1", support_feet=value)


def test_every_env_checks_body_numbers(env_id):
    with raises("min_torso_height must be a finite number, got nan"):
        gym.make(env_id, min_torso_height=float("nan"))


@pytest.mark.parametrize("env_id", GAIT_IDS)
@pytest.mark.parametrize("name", ["speed_range", "switch_interval"])
@pytest.mark.parametrize("value", [(2.0, 1.0), (0.5, float("nan")), (float("-inf"), 1.0), (1.0,), (1, 2, 3), "ab", 1.0])
def test_ranges_must_be_two_ordered_finite_numbers(env_id, name, value):
    with raises(f"{name} must be (low, high), two finite numbers with low <= high, got {value!r}"):
        gym.make(env_id, **{name: value})


def test_ranges_from_config_files_are_lists():
    task = gym.make("neuromotor/Walker2d-Gait-v2", speed_range=[0.6, 1.2], switch_interval=np.array([1.5, 4.0]))
    assert task.unwrapped.task.speed_range == (0.6, 1.2)
    assert task.unwrapped.task.switch_interval == (1.5, 4.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"walk": {"stride_weight": float("inf")}}, "walk.stride_weight must be a finite number, got inf"),
        ({"jump": {"spot_lead": "far"}}, "jump.spot_lead must be a finite number, got 'far'"),
        ({"jump": {"max_stray": float("nan")}}, "jump.max_stray must be a finite number or None, got nan"),
        ({"walk": {"support_feet": 1.0}}, "walk.support_feet must be a whole number, got 1.0"),
        ({"jump": {"target": 0.4}}, "unknown jump task argument(s) 'target'; valid: ctrl_cost_weight, drift_margin"),
        ({"walk": "fast"}, "walk must be a dict of walk task arguments, got 'fast'"),
    ],
)
def test_gait_subtask_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)) as error:
        gym.make("neuromotor/Walker2d-Gait-v2", **kwargs)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        GaitTask(**kwargs)


@pytest.mark.parametrize("speed", ["nan", "inf", "-inf", "fast", "1e999", "0", "-1"])
def test_schedule_speeds_must_be_finite_numbers(speed):
    text = f"walk:{speed}@0,jump@10"
    message = f"bad command 'walk:{speed}@0': the speed must be a number > 0 (m/s) and finite, got {speed!r}"
    with raises(message):
        parse_schedule(text)
    with raises(message):
        gym.make("neuromotor/Walker2d-Gait-v2", schedule=text)


@pytest.mark.parametrize("step", ["nan", "1.5", "²", "-3"])
def test_schedule_steps_must_be_whole_numbers(step):
    with raises(f"bad command 'jump@{step}': the step after @ must be a whole number >= 0"):
        parse_schedule(f"walk@0,jump@{step}")


@pytest.mark.parametrize("env_id", GAIT_IDS)
def test_reset_option_commands_are_checked(env_id):
    env = gym.make(env_id)
    with raises("bad command 'walk:nan@0': the speed must be a number > 0 (m/s) and finite, got 'nan'"):
        env.reset(seed=0, options={"schedule": "walk:nan@0"})
    with raises("bad command 'walk:fast@0': the speed must be a number > 0 (m/s) and finite, got 'fast'"):
        env.reset(seed=0, options={"schedule": "walk:fast@0"})
    with raises("reset options must be a dict of option names to values, got 'walk@0'"):
        env.reset(seed=0, options="walk@0")
    # A good schedule after the bad ones is followed from the first step.
    _, info = env.reset(seed=0, options={"schedule": "jump@0"})
    assert info["command"][1] == 1.0


def register(name: str, **kwargs):
    args = {"xml_file": ASSETS / "biped.xml", "torso": "pelvis", "feet": ["foot_r", "foot_l"], "floor": "ground"}
    return envs.register_body(name, **{**args, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"feet": ["foot_r", "foot_r"]}, "feet must name each foot once, got 'foot_r' more than once"),
        (
            {"feet": ["foot_r", "foot_l", "foot_r"], "foot_labels": ["a", "b", "c"]},
            "feet must name each foot once, got 'foot_r' more than once in ('foot_r', 'foot_l', 'foot_r')",
        ),
        ({"foot_labels": ["left", "left"]}, "foot_labels must name each foot once, got 'left' more than once"),
    ],
)
def test_register_body_refuses_duplicate_feet(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(f"body 'Twice': {message}")):
        register("Twice", **kwargs)
    assert "Twice" not in envs.BODIES
    assert not any(i.startswith("neuromotor/Twice-") for i in gym.registry)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"walk_speed": float("nan")}, "walk_speed must be a finite number, got nan"),
        ({"min_torso_height": "low"}, "min_torso_height must be a finite number, got 'low'"),
        ({"max_torso_pitch": float("inf")}, "max_torso_pitch must be a finite number or None, got inf"),
        ({"frame_skip": 4.0}, "frame_skip must be a whole number, got 4.0"),
        ({"task_kwargs": {"wlak": {}}}, "task_kwargs names an unknown task 'wlak'; valid tasks: walk, jump"),
        (
            {"task_kwargs": {"walk": {"speed": float("nan")}}},
            "task_kwargs['walk'].speed must be a finite number or None, got nan",
        ),
    ],
)
def test_register_body_refuses_bad_numbers(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        register("BadNumbers", **kwargs)
    assert "BadNumbers" not in envs.BODIES


def test_step_refuses_a_wrong_shaped_action(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    n = env.action_space.shape[0]
    for action in (np.zeros(n - 1), np.zeros(n + 1), np.zeros((1, n)), 0.0):
        with raises(f"action must have shape ({n},), got {np.shape(action)}"):
            env.step(action)
    env.step(np.zeros(n))  # the env is still usable


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_step_refuses_non_finite_actions(env_id, bad):
    env = gym.make(env_id)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape[0])
    action[-1] = bad
    with raises(f"action entries must be finite numbers, got [{bad}] at index [{action.size - 1}]"):
        env.step(action)
    action[0] = bad
    with raises(f"action entries must be finite numbers, got [{bad}, {bad}] at index [0, {action.size - 1}]"):
        env.step(list(action))


def test_max_delay_is_the_episode_length():
    assert MAX_DELAY == envs.MAX_EPISODE_STEPS
    assert gym.spec("neuromotor/Walker2d-Walk-v1").max_episode_steps == MAX_DELAY


@pytest.mark.parametrize("env_id", ["neuromotor/Walker2d-Walk-v1", f"neuromotor/{TEST_BODY}-Gait-v2"])
@pytest.mark.parametrize("delay", [10**9, MAX_DELAY + 1])
def test_obs_delay_beyond_the_episode_is_refused(env_id, delay):
    with raises(f"obs_delay must be at most {MAX_DELAY} steps (the episode length), got {delay}"):
        gym.make(env_id, obs_delay=delay)


def test_obs_delay_up_to_the_episode_length_is_accepted():
    env = gym.make("neuromotor/Hopper-Walk-v1", obs_delay=MAX_DELAY)
    first, _ = env.reset(seed=0)
    obs = env.step(np.zeros(3))[0]
    np.testing.assert_array_equal(obs, first)  # still the initial state


@pytest.mark.parametrize("delay", [-1, 1.5, 2.0, "3", True, None])
def test_obs_delay_must_be_a_whole_number_of_steps(delay):
    with raises(f"obs_delay must be an integer number of steps >= 0, got {delay!r}"):
        Senses(delay=delay)
    with raises(f"obs_delay must be an integer number of steps >= 0, got {delay!r}"):
        gym.make("neuromotor/Walker2d-Walk-v1", obs_delay=delay)


@pytest.mark.parametrize("name", ["obs_noise", "action_noise"])
@pytest.mark.parametrize("value", [*NOT_NUMBERS, -0.1, None])
def test_noise_std_must_be_a_finite_number_at_least_zero(name, value):
    with raises(f"{name} must be a finite number >= 0, got {value!r}"):
        gym.make("neuromotor/Walker2d-Walk-v1", **{name: value})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1", True, 0, 1.5])
def test_strength_must_be_a_number_in_zero_one(value):
    with raises(f"strength must be a number in (0, 1], got {value!r}"):
        gym.make("neuromotor/Walker2d-Walk-v1", strength=value)


@pytest.mark.parametrize(("kwarg", "value"), [("body", ["Walker2d"]), ("task", {"walk": 1})])
def test_unhashable_names_are_unknown_names(kwarg, value):
    with pytest.raises(ValueError, match=f"^unknown {kwarg} "):
        envs.LocomotionEnv(**{kwarg: value})


@pytest.mark.parametrize("body", BUILTIN)
def test_numpy_numbers_are_numbers(body):
    env = gym.make(
        envs.env_id(body, "walk"), speed=np.float32(0.5), speed_weight=np.int64(2), obs_noise=np.float64(0.0)
    )
    assert env.unwrapped.task.speed == np.float32(0.5)
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))


def test_huge_finite_actions_are_clipped_not_refused():
    env = gym.make("neuromotor/Walker2d-Walk-v1")
    env.reset(seed=0)
    env.step(np.full(env.action_space.shape, 1e308))  # the sum overflows; every entry is finite


@pytest.mark.parametrize(
    ("env_id", "name"),
    [
        ("neuromotor/Walker2d-Walk-v1", "max_pitch"),
        ("neuromotor/Walker2d-Walk-v1", "speed_band"),
        ("neuromotor/Ant-Walk-v1", "duty_gap_margin"),
        ("neuromotor/Hopper-Jump-v3", "drift_margin"),
        ("neuromotor/Hopper-Jump-v3", "max_drift"),
    ],
)
def test_bands_and_margins_must_not_be_negative(env_id, name):
    with raises(f"{name} must be >= 0, got -0.1"):
        gym.make(env_id, **{name: -0.1})
