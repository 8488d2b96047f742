"""Gait metrics on scripted motions: a real drop, standing, synthetic walking and jumping footfalls."""

import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import move_root

from agents.evaluation import metrics as gait

DT = 0.008


def pattern(n_steps, *feet):
    """Contacts from per-foot predicates of the step index."""
    return np.array([[foot(t) for foot in feet] for t in range(n_steps)], dtype=bool)


def metrics(contacts, com_z=None, pitch=0.0, speed=0.0, standing=1.0, **kwargs):
    steps = len(contacts)
    com = np.zeros((steps, 3))
    com[:, 0] = speed * DT * np.arange(steps)
    com[:, 2] = standing if com_z is None else com_z
    return gait.episode_metrics(contacts, com, np.full(steps, pitch), standing, DT, **kwargs)


def test_drop_from_height_is_one_flight_then_contact():
    env = gym.make("neuromotor/Walker2d-Jump-v3")
    env.reset(seed=0)
    move_root(env, dz=0.6)
    contacts, com = [], []
    for _ in range(250):
        info = env.step(np.zeros(6))[-1]
        contacts.append(info["foot_contacts"])
        com.append([info["com_x"], info["com_y"], info["com_height"]])
    standing = env.unwrapped.body.standing_com_height
    m = gait.episode_metrics(np.array(contacts), np.array(com), np.zeros(250), standing, env.unwrapped.dt)
    flights = gait.flight_phases(np.array(contacts))
    assert len(flights) == 1 and flights[0][0] == 0
    assert m["flight_phases_per_1000"] == pytest.approx(4.0)
    assert m["mean_apex_rise"] == pytest.approx(0.6, abs=0.05)
    assert np.array(contacts)[flights[0][1] :].any(axis=1).mean() > 0.9
    # Measured from the first contact, the drop is not part of the gait.
    assert (
        gait.episode_metrics(np.array(contacts), np.array(com), np.zeros(250), standing, DT, from_first_contact=True)[
            "flight_phases_per_1000"
        ]
        == 0.0
    )


def test_standing_still():
    m = metrics(pattern(500, lambda t: True, lambda t: True), foot_labels=("right", "left"))
    assert m["duty_factor"] == {"right": 1.0, "left": 1.0}
    assert m["flight_phases_per_1000"] == 0.0
    assert m["ground_contact_fraction"] == 1.0
    assert m["touchdowns_per_second"] == {"right": 0.0, "left": 0.0}
    assert math.isnan(m["alternation"])
    assert m["gait"] == "stand"


def test_alternating_footfalls_are_a_walk():
    # 1 s stride (125 steps), each foot down 60%: double support at the hand-overs, never a flight.
    contacts = pattern(1000, lambda t: t % 125 < 75, lambda t: (t + 62) % 125 < 75)
    m = metrics(contacts, speed=1.0, foot_labels=("right", "left"))
    assert m["duty_factor"]["right"] == pytest.approx(0.6, abs=0.01)
    assert m["alternation"] == 1.0
    assert m["stride_frequency"] == pytest.approx(1.0, rel=0.01)
    assert m["touchdowns_per_second"]["left"] == pytest.approx(1.0, rel=0.15)
    assert m["flight_phases_per_1000"] == 0.0
    assert m["forward_speed"] == pytest.approx(1.0, rel=0.01)
    assert m["gait"] == "walk"


def test_contact_chatter_is_not_a_step():
    clean = pattern(1000, lambda t: t % 125 < 75, lambda t: (t + 62) % 125 < 75)
    chattery = clean.copy()
    chattery[10::125, 0] = False  # one-step blips in the middle of each stance
    a, b = metrics(clean, speed=1.0), metrics(chattery, speed=1.0)
    assert a["touchdowns_per_second"] == b["touchdowns_per_second"]
    assert a["alternation"] == b["alternation"] == 1.0


def test_limp_is_measured():
    # One foot steps (down 33%), the other drags (down 76%) and rarely lifts.
    contacts = pattern(1000, lambda t: t % 100 < 76, lambda t: (t + 50) % 100 < 33)
    m = metrics(contacts, speed=0.9)
    duty = list(m["duty_factor"].values())
    assert abs(duty[0] - duty[1]) > 0.4


def test_double_support_jumps_are_a_jump():
    # Both feet take off and land together every second; 0.35 m ballistic flights of 0.5 s.
    contacts = pattern(1000, lambda t: t % 125 >= 62, lambda t: t % 125 >= 62)
    phase = (np.arange(1000) % 125) / 62
    com_z = 1.0 + np.where(phase < 1, 4 * 0.35 * phase * (1 - phase), 0.0)
    m = metrics(contacts, com_z=com_z)
    assert m["flight_phases_per_1000"] == pytest.approx(8.0)
    assert m["mean_apex_rise"] == pytest.approx(0.35, abs=0.01)
    assert len(m["apex_rises"]) == 8
    assert m["gait"] == "jump"
    assert metrics(contacts, com_z=com_z, speed=1.0)["gait"] == "hop"


def test_running_with_flights_is_a_run():
    contacts = pattern(1000, lambda t: t % 100 < 35, lambda t: (t + 50) % 100 < 35)
    m = metrics(contacts, speed=2.0)
    assert m["flight_phases_per_1000"] == pytest.approx(20.0)
    assert m["gait"] == "run"


def test_shuffle_without_steps_is_not_a_walk():
    m = metrics(pattern(500, lambda t: True, lambda t: True), speed=0.8)
    assert m["gait"] == "other"


def test_aggregate():
    a = {"return": 1.0, "fell": False, "gait": "walk", "duty_factor": {"l": 0.5}, "apex_rises": [], "x": math.nan}
    b = {"return": 3.0, "fell": True, "gait": "walk", "duty_factor": {"l": 0.7}, "apex_rises": [0.2], "x": 1.0}
    s = gait.aggregate([a, b])
    assert s["return"] == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    assert s["fell"] == 1
    assert s["gait"] == "walk" and s["gait_counts"] == {"walk": 2}
    assert s["duty_factor"]["l"]["mean"] == pytest.approx(0.6)
    assert s["apex_rises"] == {"mean": 0.2, "std": 0.0, "min": 0.2, "max": 0.2}
    assert s["x"] == {"mean": 1.0, "std": 0.0, "min": 1.0, "max": 1.0}  # NaNs ignored


def test_runs_and_touchdowns():
    mask = np.array([0, 1, 1, 0, 0, 0, 1, 0, 1], dtype=bool)
    assert gait.runs(mask) == [(1, 3), (6, 7), (8, 9)]
    assert gait.touchdown_steps(mask, min_swing_steps=2).tolist() == [6]
    assert gait.touchdown_steps(mask, min_swing_steps=1).tolist() == [1, 6, 8]


def test_gait_phase_runs_from_touchdown_to_touchdown():
    contact = np.arange(300) % 100 >= 40  # touchdowns at 40, 140, 240
    phase = gait.gait_phase(contact)
    assert np.isnan(phase[:40]).all() and np.isnan(phase[240:]).all()
    assert phase[40] == 0.0 and phase[90] == pytest.approx(0.5) and phase[139] == pytest.approx(0.99)
    assert phase[140] == 0.0


def test_windowed_labels_follow_a_switch_from_walk_to_jump():
    walk = pattern(500, lambda t: t % 125 < 75, lambda t: (t + 62) % 125 < 75)
    jump = pattern(500, lambda t: t % 125 >= 62, lambda t: t % 125 >= 62)
    contacts = np.vstack([walk, jump])
    com = np.zeros((1000, 3))
    com[:500, 0] = DT * np.arange(500)  # walking at 1 m/s, then jumping in place
    com[500:, 0] = com[499, 0]
    labels = gait.windowed_labels(contacts, com, DT, window=1.0)
    assert (labels[:124] == "").all()
    assert (labels[130:500] == "walk").all()
    assert (labels[760:] == "jump").all()
    assert set(labels[500:760]) <= {"walk", "other", "hop", "jump"}


def test_command_following_measures_switch_latency_and_segments():
    walk = pattern(500, lambda t: t % 125 < 75, lambda t: (t + 62) % 125 < 75)
    jump = pattern(500, lambda t: t % 125 >= 62, lambda t: t % 125 >= 62)
    contacts = np.vstack([walk, jump])
    com = np.zeros((1000, 3))
    com[:, 2] = 1.0
    com[:500, 0] = DT * np.arange(500)
    com[500:, 0] = com[499, 0]
    phase = (np.arange(500) % 125) / 62
    com[500:, 2] = 1.0 + np.where(phase < 1, 4 * 0.35 * phase * (1 - phase), 0.0)
    # Commanded jumps from step 440: the body obeys 60 steps (0.48 s) late.
    commanded = np.array(["walk"] * 440 + ["jump"] * 560)
    result = gait.command_following(commanded, contacts, com, 1.0, DT, window=0.5)
    (latency,) = result["switch_latencies"]
    assert 0.48 <= latency <= 0.48 + 0.5 + 0.1
    walk_segment, jump_segment = result["segments"]
    assert walk_segment["gait"] == "walk" and walk_segment["forward_speed"] == pytest.approx(1.0, rel=0.01)
    assert jump_segment["gait"] == "jump" and jump_segment["mean_apex_rise"] == pytest.approx(0.35, abs=0.01)
    # A command never followed has no latency.
    never = gait.command_following(np.array(["walk"] * 500 + ["jump"] * 500), walk.repeat(2, axis=0), com, 1.0, DT)
    assert np.isnan(never["switch_latencies"][0])
    # A change of walking speed starts a segment (measured against its own speed) but is no gait switch.
    speeds = np.where(np.arange(1000) < 250, 0.5, 1.0)
    split = gait.command_following(commanded, contacts, com, 1.0, DT, window=0.5, speeds=speeds)
    assert split["switch_latencies"] == result["switch_latencies"]
    assert [(s["commanded"], s["start"], s["stop"]) for s in split["segments"]] == [
        ("walk", 0, 250), ("walk", 250, 440), ("jump", 440, 1000)
    ]  # fmt: skip


def test_latency_distribution_counts_switches_never_followed():
    dist = gait.latency_distribution([0.2, float("nan"), 0.4, 0.6, 1.0])
    assert dist["switches"] == 5 and dist["never_followed"] == 1
    assert dist["p50"] == pytest.approx(0.5)  # median of the four followed
    assert dist["p10"] < dist["p50"] < dist["p90"] <= 1.0
    empty = gait.latency_distribution([float("nan")])
    assert empty["never_followed"] == 1 and math.isnan(empty["p50"])
