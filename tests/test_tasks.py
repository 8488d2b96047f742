"""Reward design on synthetic body readings: a walk beats a shuffle, a run and a limp; a jump needs flight."""

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.bodies import BodyReading
from envs.catalog import BODIES
from envs.rewards import tolerance
from envs.tasks import JumpTask, WalkTask

STANDING = 1.0
DT = 0.008


def reading(vx=1.0, pitch=0.0, height=0.97, contacts=(True, False), x=0.0, fallen=False, vz=0.0) -> BodyReading:
    return BodyReading(
        time=0.0,
        com_position=np.array([x, 0.0, height]),
        com_velocity=np.array([vx, 0.0, vz]),
        torso_height=height + 0.3,
        torso_pitch=pitch,
        torso_upright=math.cos(pitch),
        foot_contacts=np.array(contacts),
        standing_com_height=STANDING,
        fallen=fallen,
    )


def mean_reward(task, cycle, seconds=4.0):
    """Mean per-step reward of a gait given as a repeating list of readings."""
    task.reset(cycle[0], np.random.default_rng(0))
    steps = int(seconds / DT)
    action = np.full(6, 0.3)
    total = sum(sum(task.reward_terms(cycle[i % len(cycle)], action, {}).values()) for i in range(steps))
    return total / steps


def walk_task(**kwargs):
    task = WalkTask(**kwargs)
    task.setup(BODIES["Walker2d"], DT)
    return task


def phases(left_on, right_on, n=100, **kw):
    """One gait cycle of ``n`` steps; ``left_on(i)``/``right_on(i)`` say which feet are down at step i."""
    return [reading(contacts=(right_on(i), left_on(i)), **kw) for i in range(n)]


# Alternating walk: each foot down 60% of the cycle, double support at the hand-overs.
WALK = phases(lambda i: i % 100 < 60, lambda i: (i + 50) % 100 < 60)


def test_walk_beats_bent_over_shuffle():
    shuffle = phases(lambda i: True, lambda i: True, pitch=0.8, height=0.75)
    assert mean_reward(walk_task(), WALK) > mean_reward(walk_task(), shuffle) + 0.5


def test_walk_beats_run_with_flight_phases():
    # Each foot down 35% of the cycle: two flight phases per cycle, at the commanded speed and at a faster one.
    run = phases(lambda i: i % 100 < 35, lambda i: (i + 50) % 100 < 35, height=0.95)
    fast_run = phases(lambda i: i % 100 < 35, lambda i: (i + 50) % 100 < 35, height=0.95, vx=2.0)
    walk = mean_reward(walk_task(), WALK)
    assert walk > mean_reward(walk_task(), run) + 0.1
    assert walk > mean_reward(walk_task(), fast_run) + 0.5


def test_walk_beats_limp():
    # The limp seen in practice: one foot down 33% of the time, the other dragging 76%.
    limp = phases(lambda i: i % 100 < 33, lambda i: (i + 20) % 100 < 76)
    assert mean_reward(walk_task(), WALK) > mean_reward(walk_task(), limp) + 0.1


def test_walk_beats_scooting():
    # The limp a quick reward produced: one leg steps, the other shuffles along in short lifts (24 ms, 6 per stride).
    scoot = phases(lambda i: (i % 17) >= 3, lambda i: (i + 50) % 100 < 60)
    task = walk_task()
    assert mean_reward(task, WALK) > mean_reward(walk_task(), scoot) + 0.2
    terms = task.reward_terms(reading(contacts=(True, True)), np.zeros(6), {})
    assert set(terms) == set(WalkTask.terms) == {"speed", "upright", "height", "support", "symmetry", "stride", "ctrl",
                                              "smooth", "bounce"}  # fmt: skip


def test_stride_pays_real_swings_and_charges_shuffles():
    task = walk_task(stride_weight=10.0, min_swing_time=0.1, max_swing_time=0.4)
    task.reset(reading(contacts=(True, True)), np.random.default_rng(0))

    def swing(foot, steps):
        lifted = (foot != 0, foot != 1)
        for _ in range(steps):
            task.reward_terms(reading(contacts=lifted), np.zeros(6), {})
        return task.reward_terms(reading(contacts=(True, True)), np.zeros(6), {})["stride"]

    assert swing(1, int(0.3 / DT)) == pytest.approx(10.0 * (0.3 - 0.1), abs=0.1)
    assert swing(0, int(1.0 / DT)) == pytest.approx(10.0 * (0.4 - 0.1))
    assert swing(1, 3) == pytest.approx(10.0 * (3 * DT - 0.1))
    # A foot landing twice in a row is charged as a lift of no length, however long its swing.
    assert swing(1, int(0.3 / DT)) == pytest.approx(-10.0 * 0.1)
    assert swing(0, int(0.3 / DT)) == pytest.approx(10.0 * (0.3 - 0.1), abs=0.1)
    # Flight time is not swing time: a hop (both feet up together) earns nothing for its air time.
    for _ in range(int(0.3 / DT)):
        task.reward_terms(reading(contacts=(False, False)), np.zeros(6), {})
    assert task.reward_terms(reading(contacts=(True, True)), np.zeros(6), {})["stride"] == pytest.approx(-2 * 1.0)
    # A foot that starts in the air (the spawn drop) earns and pays nothing when it lands.
    task.reset(reading(contacts=(False, False)), np.random.default_rng(0))
    task.reward_terms(reading(contacts=(False, False)), np.zeros(6), {})
    assert task.reward_terms(reading(contacts=(True, True)), np.zeros(6), {})["stride"] == 0.0


def test_walk_beats_an_extra_step_with_one_foot():
    # The gait walk-v0 learned: the left foot lands twice (a short step during the right stance) per right step.
    extra = phases(lambda i: not (55 <= i < 60 or 70 <= i < 88), lambda i: i >= 50 or i < 5)
    assert mean_reward(walk_task(), WALK) > mean_reward(walk_task(), extra) + 0.1


def test_walk_speed_defaults_to_body_and_is_the_command():
    task = walk_task()
    assert task.command.tolist() == [BODIES["Walker2d"].walk_speed]
    task = walk_task(speed=0.5)
    assert task.command.tolist() == [0.5]
    slow = mean_reward(task, phases(lambda i: i % 100 < 60, lambda i: (i + 50) % 100 < 60, vx=0.5))
    assert slow > mean_reward(walk_task(speed=0.5), WALK)


def test_walk_smooth_and_bounce_charge_jitter_and_vertical_speed():
    task = walk_task(smooth_weight=2.0, bounce_weight=3.0)
    task.reset(reading(), np.random.default_rng(0))
    first = task.reward_terms(reading(vz=0.5), np.full(6, 0.5), {})
    assert first["smooth"] == 0.0  # no earlier action to change from
    assert first["bounce"] == pytest.approx(-3.0 * 0.25)
    changed = task.reward_terms(reading(), np.full(6, -0.5), {})
    assert changed["smooth"] == pytest.approx(-2.0 * 1.0) and changed["bounce"] == 0.0
    task.reset(reading(), np.random.default_rng(0))
    assert task.reward_terms(reading(), np.full(6, 0.9), {})["smooth"] == 0.0
    # Off by default: the biped's walk is unchanged.
    default = walk_task()
    default.reset(reading(), np.random.default_rng(0))
    default.reward_terms(reading(), np.full(6, 1.0), {})
    assert default.reward_terms(reading(vz=2.0), np.full(6, -1.0), {})["smooth"] == 0.0
    assert default.reward_terms(reading(vz=2.0), np.full(6, -1.0), {})["bounce"] == 0.0


def test_the_ant_walk_charges_jitter_and_the_walker_walk_does_not():
    for env_id, on in (("neuromotor/Ant-Walk-v1", True), ("neuromotor/Walker2d-Walk-v1", False)):
        env = gym.make(env_id)
        task = env.unwrapped.task
        assert (task.smooth_weight > 0) is on and (task.bounce_weight > 0) is on, env_id
        env.close()


def test_walk_support_pays_each_foot_down_up_to_support_feet():
    task = WalkTask(support_weight=2.0, support_feet=2)
    task.setup(BODIES["Ant"], 0.05)
    task.reset(reading(contacts=(True,) * 4), np.random.default_rng(0))
    paid = {n: task.reward_terms(reading(contacts=(True,) * n + (False,) * (4 - n)), np.zeros(8), {})["support"]
            for n in range(5)}  # fmt: skip
    assert paid == {0: 0.0, 1: 1.0, 2: 2.0, 3: 2.0, 4: 2.0}
    # The biped's default (one foot) pays any support in full, as before.
    biped = walk_task(support_weight=0.5)
    biped.reset(reading(), np.random.default_rng(0))
    assert biped.reward_terms(reading(contacts=(True, False)), np.zeros(6), {})["support"] == 0.5
    assert gym.make("neuromotor/Ant-Walk-v1").unwrapped.task.support_feet == 2
    with pytest.raises(ValueError, match="support_feet must be a whole number >= 1, got 0"):
        WalkTask(support_feet=0)
    with pytest.raises(ValueError, match="support_feet must be at most the body's 2 feet, got 3"):
        walk_task(support_feet=3)


def test_grounded_speed_pays_progress_only_with_a_foot_down():
    task = walk_task(grounded_speed=True)
    task.reset(reading(), np.random.default_rng(0))
    assert task.reward_terms(reading(contacts=(False, True)), np.zeros(6), {})["speed"] == task.speed_weight
    assert task.reward_terms(reading(contacts=(False, False)), np.zeros(6), {})["speed"] == 0.0
    ungrounded = walk_task()
    ungrounded.reset(reading(), np.random.default_rng(0))
    assert ungrounded.reward_terms(reading(contacts=(False, False)), np.zeros(6), {})["speed"] == task.speed_weight
    assert gym.make("neuromotor/Ant-Walk-v1").unwrapped.task.grounded_speed
    assert not gym.make("neuromotor/Walker2d-Walk-v1").unwrapped.task.grounded_speed


def jump_task(**kwargs):
    task = JumpTask(**kwargs)
    task.setup(BODIES["Walker2d"], DT)
    return task


def test_jump_pays_nothing_for_height_on_the_ground():
    terms = jump_task().reward_terms(reading(height=1.3, contacts=(True, True)), np.zeros(6), {})
    assert terms["height"] == 0.0


def test_jump_pays_height_in_flight_and_is_bounded():
    task = jump_task(target_rise=0.3, max_rise_ratio=2.0, height_weight=2.0)
    task.reset(reading(vx=0.0), np.random.default_rng(0))
    low = task.reward_terms(reading(height=1.15, contacts=(False, False), vx=0.0), np.zeros(6), {})["height"]
    high = task.reward_terms(reading(height=1.3, contacts=(False, False), vx=0.0), np.zeros(6), {})["height"]
    huge = task.reward_terms(reading(height=9.0, contacts=(False, False), vx=0.0), np.zeros(6), {})["height"]
    assert low == pytest.approx(1.0)
    assert high == pytest.approx(2.0)
    assert huge == pytest.approx(4.0)


def test_jumping_beats_standing_still():
    stand = [reading(height=1.0, contacts=(True, True), vx=0.0)]
    # A 0.35 m hop every second: 0.5 s of flight, 0.5 s crouched on the ground.
    hop = [
        reading(height=1.0 + 0.35 * math.sin(math.pi * i / 62), contacts=(False, False), vx=0.0)
        if i < 62
        else reading(height=0.85, contacts=(True, True), pitch=0.2, vx=0.0)
        for i in range(125)
    ]
    assert mean_reward(jump_task(), hop) > 2 * mean_reward(jump_task(), stand)


def test_jump_height_and_launch_are_paid_only_near_the_start():
    task = jump_task(target_rise=0.3, max_drift=0.3, drift_margin=0.7)
    task.reset(reading(x=2.0), np.random.default_rng(0))
    flight = {"height": 1.3, "contacts": (False, False), "vz": 1.0}
    here = task.reward_terms(reading(x=2.2, **flight), np.zeros(6), {})
    away = task.reward_terms(reading(x=3.0, **flight), np.zeros(6), {})
    assert here["height"] == pytest.approx(task.height_weight)
    assert away["height"] == pytest.approx(0.1 * task.height_weight)
    assert away["launch"] == pytest.approx(0.1 * here["launch"]) and here["launch"] > 0


def test_jump_launch_pays_going_up_never_coming_down():
    task = jump_task(target_rise=0.3, launch_weight=1.0)
    up = task.reward_terms(reading(vz=1.0), np.zeros(6), {})["launch"]
    takeoff = task.reward_terms(reading(vz=math.sqrt(2 * 9.81 * 0.3)), np.zeros(6), {})["launch"]
    faster = task.reward_terms(reading(vz=9.0), np.zeros(6), {})["launch"]
    down = task.reward_terms(reading(vz=-3.0), np.zeros(6), {})["launch"]
    assert 0 < up < takeoff == pytest.approx(1.0)
    assert faster == 1.0 and down == 0.0


def test_jump_drift_is_measured_from_the_start():
    task = jump_task()
    task.reset(reading(x=5.0), np.random.default_rng(0))
    here = task.reward_terms(reading(x=5.0), np.zeros(6), {})["drift"]
    away = task.reward_terms(reading(x=7.0), np.zeros(6), {})["drift"]
    assert here == pytest.approx(task.drift_weight)
    assert away < 0.1 * task.drift_weight


def test_jump_spot_lead_puts_the_spot_where_a_moving_body_can_stop():
    task = jump_task(spot_lead=0.5, max_stray=1.0)
    task.reset(reading(x=5.0, vx=1.2), np.random.default_rng(0))
    np.testing.assert_allclose(task.command, [0.6, 0.0])
    assert task.reward_terms(reading(x=5.6, vx=0.0), np.zeros(6), {})["drift"] == pytest.approx(task.drift_weight)
    assert not task.terminated(reading(x=6.5), False) and task.terminated(reading(x=4.5), False)
    rest = jump_task(spot_lead=0.5)
    rest.reset(reading(x=5.0, vx=0.0), np.random.default_rng(0))
    np.testing.assert_array_equal(rest.command, [0.0, 0.0])
    with pytest.raises(ValueError, match="spot_lead"):
        JumpTask(spot_lead=-1.0)


def test_jump_episode_ends_on_straying_or_falling():
    task = jump_task(max_stray=1.0)
    task.reset(reading(x=5.0), np.random.default_rng(0))
    assert not task.terminated(reading(x=5.9), False)
    assert task.terminated(reading(x=6.1), False)
    assert task.terminated(reading(x=4.0 - 0.01), False)
    assert task.terminated(reading(x=5.0, fallen=True), False)
    free = jump_task(max_stray=None)
    free.reset(reading(x=5.0), np.random.default_rng(0))
    assert not free.terminated(reading(x=50.0), False)
    with pytest.raises(ValueError, match="max_stray"):
        JumpTask(max_stray=0.0)


def test_jump_pays_no_rise_above_the_target():
    task = jump_task()
    task.reset(reading(vx=0.0), np.random.default_rng(0))
    flight = {"contacts": (False, False), "vx": 0.0}
    at_target = task.reward_terms(reading(height=STANDING + task.target_rise, **flight), np.zeros(6), {})["height"]
    higher = task.reward_terms(reading(height=STANDING + 2 * task.target_rise, **flight), np.zeros(6), {})["height"]
    assert at_target == pytest.approx(task.height_weight) == pytest.approx(higher)


@pytest.mark.parametrize(
    ("x", "bounds", "margin", "sigmoid", "expected"),
    [
        (0.5, (0.0, 1.0), 1.0, "gaussian", 1.0),
        (2.0, (0.0, 1.0), 1.0, "gaussian", 0.1),
        (2.0, (0.0, 1.0), 0.0, "gaussian", 0.0),
        (-1.0, (0.0, 1.0), 1.0, "linear", 0.1),
        (-5.0, (0.0, 1.0), 1.0, "linear", 0.0),
        (1e9, (0.0, math.inf), 1.0, "gaussian", 1.0),
    ],
)
def test_tolerance(x, bounds, margin, sigmoid, expected):
    assert tolerance(x, bounds, margin, sigmoid) == pytest.approx(expected)


def test_tolerance_is_monotone_outside_bounds():
    values = [tolerance(x, (0.0, 1.0), 0.5) for x in np.linspace(1.0, 3.0, 20)]
    assert all(a >= b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bounds": (1.0, 0.0)}, "lower <= upper"),
        ({"margin": -1.0}, "margin"),
        ({"sigmoid": "cosine"}, "valid: gaussian, linear"),
        ({"value_at_margin": 1.5}, "value_at_margin"),
    ],
)
def test_tolerance_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tolerance(0.0, **kwargs)
