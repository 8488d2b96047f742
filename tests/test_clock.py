"""The gait clock: a continuous phase across switches, indicators that are probabilities, schedules by name."""

import math

import numpy as np
import pytest

from envs.clock import Clock, Gait, stance_indicator

WALK = Gait("walk", period=0.5, offsets=(0.0, 0.5), swing_ratio=0.4)
JUMP = Gait("jump", period=0.7, offsets=(0.0, 0.0), swing_ratio=0.55)


def test_walk_has_no_flight_and_jump_has_one():
    assert WALK.flight_fraction() == 0.0
    assert JUMP.flight_fraction() == pytest.approx(0.55, abs=2e-3)


def test_phase_stays_continuous_across_a_switch_and_a_period_change():
    clock = Clock(WALK)
    dt = 0.008
    clock.reset(WALK, 0.2)  # the second foot in swing: the jump would put it down, so it waits
    seconds, switched_at = 0.0, None
    clock.request(JUMP)
    for step in range(300):
        before = clock.phase
        period = clock.gait.period
        if clock.advance(dt):
            switched_at = step
        seconds += dt
        # Each step moves the phase on by dt over the period in force (the old one up to the boundary, then the
        # new one): never a jump in the phase.
        moved = (clock.phase - before) % 1.0
        assert moved <= dt / min(period, clock.gait.period) + 1e-12
        assert moved >= dt / max(period, clock.gait.period) - 1e-12
    assert switched_at is not None and clock.gait is JUMP
    # The switch waited for the end of the walk's cycle (0.8 of its 0.5 s).
    assert switched_at == math.ceil(0.8 * 0.5 / dt) - 1


def test_a_jump_in_stance_walks_at_once_and_one_in_flight_lands_first():
    dt = 0.008
    for start, immediate in ((0.05, True), (0.3, True), (0.6, False), (0.95, False)):
        clock = Clock(JUMP)
        clock.reset(JUMP, start)
        clock.request(WALK)
        assert clock.advance(dt) is immediate, start
        if not immediate:
            # In flight: the walk waits for the landing at the cycle boundary.
            calls = 2
            while not clock.advance(dt):
                calls += 1
            assert abs(calls - (1.0 - start) * JUMP.period / dt) < 1.0


@pytest.mark.parametrize("old", [WALK, JUMP])
@pytest.mark.parametrize("new", [WALK, JUMP])
def test_a_take_over_never_puts_a_foot_in_the_air_down_nor_starts_a_flight(old, new):
    for phase in np.linspace(0.0, 1.0, 401, endpoint=False):
        if new.can_take_over(old, phase):
            before, after = old.swinging(phase), new.swinging(phase)
            assert not any(b and not a for b, a in zip(before, after, strict=True))
            assert not all(after) or all(before)
    # A walk can become a jump only where both its feet are down and the jump's stance has begun.
    assert JUMP.can_take_over(WALK, 0.05) and not JUMP.can_take_over(WALK, 0.2)
    assert not JUMP.can_take_over(WALK, 0.55)  # both feet down, but the jump would be in flight


@pytest.mark.parametrize("swing", [0.1, 0.4, 0.55, 0.9])
@pytest.mark.parametrize("width", [0.01, 0.04, 0.2])
def test_indicator_is_a_probability_whose_cycle_mean_is_the_stance_fraction(swing, width):
    values = [stance_indicator(float(phase), swing, width) for phase in np.linspace(-1.0, 2.0, 3001)]
    assert all(0.0 <= v <= 1.0 for v in values)
    # Blurring moves stance between neighbouring phases but keeps its share of the cycle.
    cycle = [stance_indicator(i / 2000, swing, width) for i in range(2000)]
    assert np.mean(cycle) == pytest.approx(1.0 - swing, abs=1e-3)


def test_indicator_follows_the_hard_schedule_away_from_its_edges():
    assert stance_indicator(0.3, 0.4, 0.02) == pytest.approx(1.0, abs=1e-6)  # stance is [0, 0.6)
    assert stance_indicator(0.8, 0.4, 0.02) == pytest.approx(0.0, abs=1e-6)
    assert stance_indicator(0.6, 0.4, 0.02) == pytest.approx(0.5, abs=1e-6)  # the edge: half


def test_feet_half_a_cycle_apart_in_a_walk():
    clock = Clock(WALK)
    clock.advance(0.1)
    left, right = clock.foot_phases()
    assert (right - left) % 1.0 == pytest.approx(0.5)
    features = clock.features()
    assert len(features) == 4 and all(-1 <= v <= 1 for v in features)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": 0.0}, "period must be a finite number > 0"),
        ({"offsets": (0.0, 1.0)}, "offsets must be numbers in [0, 1)"),
        ({"swing_ratio": 1.0}, "swing_ratio must be a number in (0, 1)"),
    ],
)
def test_bad_gaits_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Gait(**{"name": "x", "period": 0.5, "offsets": (0.0,), "swing_ratio": 0.4, **kwargs})


def test_a_switch_needs_the_same_feet():
    with pytest.raises(ValueError, match="has 1 feet"):
        Clock(WALK).request(Gait("hop", 0.5, (0.0,), 0.5))


def test_every_body_has_walk_and_jump_with_one_offset_per_foot():
    from envs.catalog import BODIES
    from envs.gaits import gaits_of

    for spec in BODIES.values():
        gaits = gaits_of(spec)
        assert {"walk", "jump"} <= set(gaits), spec.name
        for gait in gaits.values():
            assert len(gait.offsets) == len(spec.feet), (spec.name, gait.name)
        assert gaits["jump"].flight_fraction() > 0.3, spec.name
        if len(spec.feet) > 1:
            assert gaits["walk"].flight_fraction() == 0.0, spec.name
    assert "hop" in gaits_of(BODIES["Hopper"])
    assert {"trot", "pronk"} <= set(gaits_of(BODIES["Ant"]))


def test_a_trot_moves_diagonal_pairs_together():
    from envs.catalog import BODIES
    from envs.gaits import gaits_of

    trot = gaits_of(BODIES["Ant"])["trot"]
    clock = Clock(trot)
    clock.advance(0.1)
    front_left, back_left, back_right, front_right = clock.stance(width=0.01)
    assert front_left == pytest.approx(back_right) and back_left == pytest.approx(front_right)


@pytest.mark.parametrize("env_id", ["neuromotor/Walker2d-Walk-v1", "neuromotor/Ant-Walk-v1"])
def test_feet_at_rest_carry_the_body_weight_and_barely_move(env_id):
    import gymnasium as gym

    import envs  # noqa: F401

    env = gym.make(env_id)
    env.reset(seed=0)
    for _ in range(60):
        env.step(np.zeros(env.action_space.shape))
    body = env.unwrapped.body
    forces = body.foot_forces()
    assert forces.sum() == pytest.approx(1.0, abs=0.05)
    down = body.foot_contacts()
    # A foot that does not touch the floor carries nothing; a foot on it barely moves.
    assert np.all(forces[~down] == 0.0)
    assert np.all(body.foot_speeds()[down] < 0.05)


def test_ground_phases_cover_the_cycle_but_its_flights_evenly():
    us = np.linspace(0.0, 1.0, 2000, endpoint=False)
    walk = [WALK.ground_phase(u) for u in us]
    assert walk == pytest.approx(us)  # no flight: every phase
    jump = np.array([JUMP.ground_phase(u) for u in us])
    assert not any(JUMP.airborne(p) for p in jump)
    # Evenly over the 0.45 of the cycle on the ground.
    assert np.diff(jump) == pytest.approx(0.45 / 2000)
