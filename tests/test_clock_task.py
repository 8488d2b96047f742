"""The clock task: periodic rewards that tell a walk from a jump by their footfalls, bounded terms, switches at
cycle boundaries, schedules and evaluation of clock brains."""

import math

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.bodies import BodyReading
from envs.catalog import BODIES
from envs.clock import GRAVITY, Gait, rise_reference, stance_indicator, swing_indicator
from envs.gaits import gaits_of
from envs.tasks.clock import ClockTask

DT = 0.008
CLOCK_IDS = [envs.env_id(body, "clock") for body in envs.BODIES]


@pytest.mark.parametrize("swing_ratio", [0.3, 0.5, 0.6])
@pytest.mark.parametrize("width", [0.01, 0.04, 0.2])
def test_stance_and_swing_indicators_are_probabilities_that_sum_to_one(swing_ratio, width):
    for phase in np.linspace(-1.0, 2.0, 301):
        stance = stance_indicator(phase, swing_ratio, width)
        swing = swing_indicator(phase, swing_ratio, width)
        assert 0.0 <= stance <= 1.0 and 0.0 <= swing <= 1.0
        assert stance + swing == pytest.approx(1.0, abs=1e-9)


def _task(schedule: str, **kwargs) -> ClockTask:
    task = ClockTask(schedule=schedule, random_phase=False, **kwargs)
    task.setup(BODIES["Walker2d"], DT)
    return task


def _reading(t: float, x: float, rise: float, forces: tuple, speeds: tuple) -> BodyReading:
    contacts = np.array([f > 0 for f in forces])
    standing = 1.0
    return BodyReading(t, np.array([x, 0.0, standing + rise]), np.zeros(3), 1.2 + rise, 0.0, 1.0, contacts, standing,
                       False, forces, speeds)  # fmt: skip


def _hop(step: int) -> BodyReading:
    """Both feet together: a stance crouching 0.12 m and carrying the body, then a flight rising 0.3 m, in place."""
    jump = gaits_of(BODIES["Walker2d"])["jump"]
    phase = (step * DT / jump.period) % 1.0
    stance = 1.0 - jump.swing_ratio
    if phase < stance:
        return _reading(step * DT, 0.0, -0.12 * math.sin(math.pi * phase / stance), (0.5, 0.5), (0.0, 0.0))
    u = (phase - stance) / jump.swing_ratio
    return _reading(step * DT, 0.0, 1.2 * u * (1.0 - u), (0.0, 0.0), (1.0, 1.0))


def _walk(step: int) -> BodyReading:
    """Feet half a cycle apart, each down 60% of a 0.5 s cycle (no flight), at 1 m/s."""
    walk = gaits_of(BODIES["Walker2d"])["walk"]
    phase = (step * DT / walk.period) % 1.0
    down = [((phase + o) % 1.0) < 1.0 - walk.swing_ratio for o in walk.offsets]
    forces = tuple(1.0 / sum(down) if d else 0.0 for d in down)
    speeds = tuple(0.0 if d else 2.5 for d in down)
    return _reading(step * DT, step * DT * 1.0, 0.0, forces, speeds)


def _score(task: ClockTask, motion, steps: int = 500) -> float:
    task.reset(motion(0), np.random.default_rng(0))
    action = np.zeros(6)
    return sum(sum(task.reward_terms(motion(t), action, {}).values()) for t in range(1, steps + 1))


def test_a_two_footed_hop_earns_more_as_a_jump_and_an_alternating_walk_more_as_a_walk():
    assert _score(_task("jump@0"), _hop) > 1.2 * _score(_task("walk:1.0@0"), _hop)
    assert _score(_task("walk:1.0@0"), _walk) > 1.2 * _score(_task("jump@0"), _walk)
    # A walk earns most of what every term but the take-off's launch can pay.
    weights = _task("walk:1.0@0").weights
    assert _score(_task("walk:1.0@0"), _walk) > 0.8 * 500 * (sum(weights.values()) - weights["launch"])


def test_standing_through_a_jump_schedule_earns_little_height_and_less_than_jumping():
    def stand(step: int) -> BodyReading:
        return _reading(step * DT, 0.0, 0.0, (0.5, 0.5), (0.0, 0.0))

    task = _task("jump@0")
    task.reset(stand(0), np.random.default_rng(0))
    height = [task.reward_terms(stand(t), np.zeros(6), {})["height"] for t in range(1, 101)]
    # Over one 0.8 s cycle (100 steps), standing tall earns under half of what tracking the schedule would.
    assert sum(height) < 0.5 * 100 * task.weights["height"]
    assert _score(_task("jump@0"), _hop) > 1.2 * _score(_task("jump@0"), stand)


def test_a_low_hop_earns_less_than_a_high_one():
    def low(step: int) -> BodyReading:
        reading = _hop(step)
        return reading._replace(com_position=reading.com_position * [1, 1, 0] + [0, 0, 1.0 + 0.2 * reading.com_rise])

    assert _score(_task("jump@0"), _hop) > _score(_task("jump@0"), low)


@pytest.mark.parametrize("env_id", CLOCK_IDS)
def test_every_term_is_bounded_by_its_weight(env_id):
    env = gym.make(env_id)
    weights = env.unwrapped.task.weights
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(300):
        _, reward, terminated, truncated, info = env.step(rng.uniform(env.action_space.low, env.action_space.high))
        for name, weight in weights.items():
            assert 0.0 <= info[f"reward_{name}"] <= weight, (name, info[f"reward_{name}"])
        assert reward == pytest.approx(sum(info[f"reward_{name}"] for name in weights))
        if terminated or truncated:
            env.reset()


def test_a_switch_waits_for_the_cycle_boundary_and_the_phase_runs_on():
    env = gym.make("neuromotor/Walker2d-Clock-v4", schedule="walk:1.0@0,jump@10", random_phase=False)
    env.reset(seed=0)
    walk = gaits_of(BODIES["Walker2d"])["walk"]
    rows = []
    for _ in range(150):
        _, _, _, _, info = env.step(np.zeros(6))
        task_speed = env.unwrapped.task.speed
        rows.append(
            (info["commanded_gait"], info["active_gait"], info["clock_phase"], info["commanded_speed"], task_speed)
        )
    assert rows[9][0] == "jump" and rows[9][1] == "walk" and rows[9][3] == 0.0
    # The speed applies at once (a walk told to jump slows to a stop); the gait waits for the boundary.
    assert rows[8][4] == 1.0 and rows[9][4] == 0.0
    switched = next(i for i, row in enumerate(rows) if row[1] == "jump")
    # The walk runs its cycle out (62.5 steps of 0.008 s), then the jump starts at the phase the step leaves over.
    assert switched == math.ceil(walk.period / DT) - 1
    phases = [row[2] for row in rows]
    steps = np.diff(phases) % 1.0
    assert np.all(steps > 0) and np.all(steps < 2 * DT / walk.period)
    command = env.unwrapped.task.command
    assert command[-1] == 0.0 and command[-3:-1].tolist() == [0.0, 0.0]


def test_a_new_speed_for_the_gait_in_force_applies_at_once():
    env = gym.make("neuromotor/Walker2d-Clock-v4", schedule="walk:1.0@0,walk:0.6@5", random_phase=False)
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.zeros(6))
    assert env.unwrapped.task.speed == pytest.approx(0.6)
    assert env.unwrapped.task.command[-1] == pytest.approx(0.6)


def test_random_commands_switch_gaits_within_an_episode():
    env = gym.make("neuromotor/Walker2d-Clock-v4", switch_interval=(0.2, 0.4))
    env.reset(seed=3)
    seen = set()
    for _ in range(400):
        _, _, terminated, truncated, info = env.step(np.zeros(6))
        seen.add(info["active_gait"])
        if terminated or truncated:
            env.reset()
    assert seen == {"walk", "jump"}


def test_jitter_randomises_random_commands_within_its_ranges_and_leaves_schedules_alone():
    walk, jump = gaits_of(BODIES["Walker2d"])["walk"], gaits_of(BODIES["Walker2d"])["jump"]
    env = gym.make("neuromotor/Walker2d-Clock-v4", switch_interval=(0.2, 0.4), period_jitter=0.2, swing_jitter=0.05)
    env.reset(seed=3)
    task = env.unwrapped.task
    seen = set()
    for _ in range(600):
        phase = task.clock.phase
        _, _, terminated, truncated, _ = env.step(np.zeros(6))
        gait = task.clock.gait
        nominal = walk if gait.name == "walk" else jump
        assert 0.8 * nominal.period <= gait.period <= 1.2 * nominal.period
        assert abs(gait.swing_ratio - nominal.swing_ratio) <= 0.05 and gait.offsets == nominal.offsets
        if terminated or truncated:
            env.reset()
        else:
            advance = (task.clock.phase - phase) % 1.0  # between the slowest and the fastest gait's step: no jump
            assert DT / 0.96 - 1e-9 <= advance <= DT / 0.4 + 1e-9
        seen.add((gait.period, gait.swing_ratio))
    assert len(seen) > 4  # the parameters change from command to command
    scripted = gym.make("neuromotor/Walker2d-Clock-v4", schedule="walk:1.0@0,jump@50", period_jitter=0.2)
    scripted.reset(seed=0)
    for _ in range(200):
        scripted.step(np.zeros(6))
        assert scripted.unwrapped.task.clock.gait in (walk, jump)


@pytest.mark.parametrize("moving", [0.0, 0.5])
def test_in_place_moving_gives_a_share_of_random_jumps_a_speed_and_schedules_none(moving):
    env = gym.make("neuromotor/Walker2d-Clock-v4", switch_interval=(0.1, 0.2), in_place_moving=moving)
    env.reset(seed=1)
    jump_speeds = []
    for _ in range(1500):
        _, _, terminated, truncated, info = env.step(np.zeros(6))
        if info["commanded_gait"] == "jump":
            jump_speeds.append(info["commanded_speed"])
        if terminated or truncated:
            env.reset()
    share = np.mean(np.array(jump_speeds) > 0)
    assert (share == 0) if moving == 0 else (0.3 < share < 0.7)
    assert all(s == 0 or 0.5 <= s <= 1.5 for s in jump_speeds)  # the default speed_range, times 1 m/s
    scripted = gym.make("neuromotor/Walker2d-Clock-v4", schedule="jump@0", in_place_moving=1.0)
    scripted.reset(seed=0)
    _, _, _, _, info = scripted.step(np.zeros(6))
    assert info["commanded_speed"] == 0.0


def test_the_observation_carries_the_clock_the_gait_and_the_speed():
    env = gym.make("neuromotor/Walker2d-Clock-v4", schedule="walk:0.8@0", random_phase=False)
    obs, _ = env.reset(seed=0)
    labels = env.unwrapped.command_labels
    command = dict(zip(labels, obs[-len(labels) :], strict=True))
    assert command["clock_right_sin"] == pytest.approx(0.0) and command["clock_right_cos"] == pytest.approx(1.0)
    assert command["clock_left_cos"] == pytest.approx(-1.0)
    assert command["swing_ratio"] == pytest.approx(0.4) and command["frequency"] == pytest.approx(2.0)
    assert command["offset_left"] == pytest.approx(0.5) and command["speed"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gaits": ["gallop"]}, "not gaits of Walker2d; valid: walk, jump"),
        ({"schedule": "jump:1.0@0"}, "only walk takes a speed"),
        ({"schedule": "trot@0"}, "gait must be one of walk, jump"),
        ({"indicator_width": 0.0}, "indicator_width must be a fraction of a cycle"),
        ({"height_weight": -1.0}, "height_weight must be >= 0"),
        ({"crouch": -0.1}, "crouch must be >= 0"),
        ({"stance_contact_weight": -1}, "stance_contact_weight must be >= 0"),
        ({"period_jitter": 0.5}, "period_jitter must be a fraction in"),
        ({"swing_jitter": -0.1}, "swing_jitter must be a fraction of a cycle"),
        ({"in_place_moving": 2}, "in_place_moving must be a fraction in"),
    ],
)
def test_bad_clock_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("neuromotor/Walker2d-Clock-v4", **kwargs)


def test_a_clock_env_renders_at_the_size_asked():
    env = gym.make("neuromotor/Walker2d-Clock-v4", render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    assert env.render().shape == (48, 64, 3)


def test_the_ants_gaits_are_its_own():
    env = gym.make("neuromotor/Ant-Clock-v4", gaits=["trot", "pronk"], schedule="trot:0.5@0,pronk@20")
    env.reset(seed=0)
    assert env.unwrapped.task.clock.gait.name == "trot"


def test_only_the_clock_task_pays_for_foot_dynamics():
    walk = gym.make("neuromotor/Walker2d-Walk-v1")
    walk.reset(seed=0)
    assert walk.unwrapped.body.read().foot_forces is None
    clock = gym.make("neuromotor/Walker2d-Clock-v4")
    clock.reset(seed=0)
    reading = clock.unwrapped.body.read(True)
    assert len(reading.foot_forces) == 2 and len(reading.foot_speeds) == 2
    assert reading.foot_contacts.tolist() == clock.unwrapped.body.foot_contacts().tolist()
    for _ in range(40):
        clock.step(np.zeros(6))
    body = clock.unwrapped.body
    reading = body.read(True)
    np.testing.assert_allclose(reading.foot_forces, body.foot_forces())
    np.testing.assert_allclose(reading.foot_speeds, body.foot_speeds())
    assert sum(reading.foot_forces) > 0.5


def test_two_footed_landings_count_landings_with_every_foot_down_together():
    from agents.evaluation.metrics import flight_phases, two_footed_landings

    # Three flights: landing on both feet at once, on both 3 steps apart, and on one foot for 10 steps.
    contacts = np.ones((60, 2), dtype=bool)
    contacts[5:10] = False
    contacts[20:25] = False
    contacts[25:28, 1] = False
    contacts[40:45] = False
    contacts[45:55, 1] = False
    flights = flight_phases(contacts)
    assert len(flights) == 3
    assert two_footed_landings(contacts, flights, together_steps=6) == pytest.approx(2 / 3)
    assert two_footed_landings(contacts, flights, together_steps=2) == pytest.approx(1 / 3)
    assert math.isnan(two_footed_landings(contacts[:, :1], flight_phases(contacts[:, :1]), 6))


def test_evaluate_follows_scripted_commands_of_a_clock_brain(tmp_path):
    import json

    from conftest import evaluate_cli, tiny_run

    run = tiny_run("neuromotor/Walker2d-Clock-v4", tmp_path / "clock")

    def evaluate(*args):
        return evaluate_cli(run, *args)

    done = evaluate("--steps", "60", "--commands", "walk:0.8@0,jump@20,walk@40", "--json", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    episode = json.loads((tmp_path / "m.json").read_text())["episodes"][0]
    assert "two_footed_landings" in episode
    if episode["length"] > 40:  # an untrained walker may fall first; then fewer switches happened
        assert episode["switches"] == 2
    assert episode["switches"] == len(episode["switch_latencies"]) >= 1
    bad = evaluate("--commands", "walk@0,trot@10")
    assert bad.returncode == 2 and "gait must be one of walk, jump" in bad.stderr and "Traceback" not in bad.stderr
    bad = evaluate("--commands", "walk@0,jump:1.0@10")
    assert bad.returncode == 2 and "only walk takes a speed" in bad.stderr


def test_launch_pays_going_up_in_a_scheduled_flight_never_coming_down():
    task = _task("jump@0")
    up, down = _hop(60)._replace(com_velocity=np.array([0.0, 0.0, 2.0])), _hop(60)
    down = down._replace(com_velocity=np.array([0.0, 0.0, -2.0]))
    task.reset(_hop(0), np.random.default_rng(0))
    for t in range(1, 60):
        task.reward_terms(_hop(t), np.zeros(6), {})
    assert task.reward_terms(up, np.zeros(6), {})["launch"] > 0.1
    assert task.reward_terms(down, np.zeros(6), {})["launch"] == 0.0
    standing = _task("jump@0")
    standing.reset(_hop(0), np.random.default_rng(0))
    for t in range(1, 20):
        standing.reward_terms(_hop(t), np.zeros(6), {})
    # In mid-stance (phase 0.25 of the schedule), rising pays nothing.
    rising = _hop(20)._replace(com_velocity=np.array([0.0, 0.0, 2.0]))
    assert standing.reward_terms(rising, np.zeros(6), {})["launch"] == pytest.approx(0.0, abs=1e-6)


def test_a_gaits_segments_are_its_flights_and_ground_phases():
    gaits = gaits_of(BODIES["Walker2d"])
    assert gaits["walk"].segments == ((0.0, 1.0, False),)
    jump = gaits["jump"]
    stance = 1.0 - jump.swing_ratio
    assert [s[2] for s in jump.segments] == [False, True]
    assert np.array([s[:2] for s in jump.segments]) == pytest.approx(np.array([[0.0, stance], [stance, 1 - stance]]))
    assert jump.flight_time() == pytest.approx(jump.period * jump.swing_ratio)
    # A run: feet half a cycle apart, each swinging 60% of it: two flights of a tenth of a cycle.
    run = Gait("run", period=0.5, offsets=(0.0, 0.5), swing_ratio=0.6)
    assert [s[2] for s in run.segments] == [False, True, False, True]
    assert sum(s[1] for s in run.segments) == pytest.approx(1.0)
    assert run.flight_time() == pytest.approx(0.05)
    # Feet 0.3 of a cycle ahead swing on clock phases [0.2, 0.7) and stand on [0.7, 1.2), across the cycle's end.
    wrapped = Gait("wrapped", period=1.0, offsets=(0.3, 0.3), swing_ratio=0.5)
    assert [s[2] for s in wrapped.segments] == [True, False]
    assert np.array([s[:2] for s in wrapped.segments]) == pytest.approx(np.array([[0.2, 0.5], [0.7, 0.5]]))


def test_episodes_start_at_a_random_phase_on_the_ground_never_in_a_flight():
    env = gym.make("neuromotor/Walker2d-Clock-v4", gaits=["jump"])
    task = env.unwrapped.task
    phases = []
    for seed in range(60):
        env.reset(seed=seed)
        phases.append(task.clock.phase)
        assert not task.clock.gait.airborne(task.clock.phase)
    assert np.ptp(phases) > 0.25  # spread over the 0.35 of the cycle on the ground


def test_the_rise_reference_is_a_ballistic_flight_and_a_crouch_continuous_round_the_cycle():
    jump = gaits_of(BODIES["Walker2d"])["jump"]
    phases = np.linspace(0.0, 1.0, 2001)
    rises = np.array([rise_reference(jump, p, crouch=0.15) for p in phases])
    flight = jump.flight_time()
    assert rises.max() == pytest.approx(GRAVITY * flight**2 / 8, rel=1e-3)
    assert rises.min() == pytest.approx(-0.15, rel=1e-3)
    assert np.abs(np.diff(rises)).max() < 0.01  # no jumps, the wrap at phase 1 included
    assert rises[0] == pytest.approx(0.0) and rises[-1] == pytest.approx(0.0, abs=1e-9)
    # The flight's arc is a free fall: constant acceleration -g.
    stance = 1.0 - jump.swing_ratio
    t = np.array([0.2, 0.5, 0.8]) * flight
    arc = [rise_reference(jump, stance + ti / jump.period) for ti in t]
    assert (arc[0] - 2 * arc[1] + arc[2]) / (0.3 * flight) ** 2 == pytest.approx(-GRAVITY, rel=1e-6)
    walk = gaits_of(BODIES["Walker2d"])["walk"]
    assert all(rise_reference(walk, p) == 0.0 for p in phases)


def test_a_foot_due_in_stance_is_paid_for_being_down_not_for_hovering():
    task = _task("walk:1.0@0")
    task.reset(_walk(0), np.random.default_rng(0))
    down = task.reward_terms(_walk(1), np.zeros(6), {})["stance_contact"]
    hovering = _walk(2)._replace(foot_contacts=np.array([False, False]))
    lifted = task.reward_terms(hovering, np.zeros(6), {})["stance_contact"]
    assert down == pytest.approx(task.weights["stance_contact"], rel=0.05)
    # Phase 0 of the walk has the first foot in stance and the second in late stance: hovering both loses most.
    assert lifted < 0.5 * down


def test_a_flight_the_schedule_does_not_have_costs_the_grounded_term_and_a_scheduled_one_does_not():
    def running(step: int) -> BodyReading:
        reading = _walk(step)
        # Both feet up for the first 0.1 of each foot's stance: a run's flight between steps.
        walk = gaits_of(BODIES["Walker2d"])["walk"]
        phase = (step * DT / walk.period) % 1.0
        if any(0.0 <= (phase + o) % 1.0 < 0.1 for o in walk.offsets):
            return reading._replace(foot_contacts=np.array([False, False]))
        return reading

    def grounded(task: ClockTask, motion) -> float:
        task.reset(motion(0), np.random.default_rng(0))
        return sum(task.reward_terms(motion(t), np.zeros(6), {})["grounded"] for t in range(1, 201))

    full = 200 * _task("walk:1.0@0").weights["grounded"]
    assert grounded(_task("walk:1.0@0"), _walk) == pytest.approx(full)
    # A fifth of the steps in the air costs about a fifth of the term.
    assert grounded(_task("walk:1.0@0"), running) < 0.85 * full
    # The jump's own flights cost nothing beyond the blur of the schedule's edges.
    assert grounded(_task("jump@0"), _hop) > 0.9 * full


def test_footfalls_exactly_on_the_schedule_are_named_as_commanded_and_follow_every_switch():
    from agents.evaluation.ideal import ideal_footfalls, ideal_switch_latencies
    from agents.evaluation.metrics import command_following, episode_metrics

    schedule = "walk:1.0@0,jump@250,walk:0.7@500,jump@750"
    run = ideal_footfalls(BODIES["Walker2d"], DT, schedule, seed=3)
    result = command_following(run["commanded"], run["contacts"], run["com_position"], 1.0, DT)
    assert [(s["commanded"], s["gait"]) for s in result["segments"]] == [("walk", "walk"), ("jump", "jump")] * 2
    # Jumping alone, every flight rises what its length allows.
    jumping = ideal_footfalls(BODIES["Walker2d"], DT, "jump@0")
    apexes = episode_metrics(jumping["contacts"], jumping["com_position"], np.zeros(1000), 1.0, DT)["apex_rises"]
    flight = gaits_of(BODIES["Walker2d"])["jump"].flight_time()
    # (the last flight may be cut short by the episode end)
    assert len(apexes) >= 9 and np.allclose(apexes[:-1], GRAVITY * flight**2 / 8, atol=0.005)
    best = ideal_switch_latencies(BODIES["Walker2d"], DT, schedule, episodes=8)
    assert len(best["latencies"]) == 24 and not np.isnan(best["latencies"]).any()
    # A switch waits for the cycle boundary, so no latency beats the wait plus the time to show the new gait.
    assert min(best["latencies"]) > 0.1
    assert best["by_kind"]["walk->jump"]["followed"] == 1.0


def test_stand_first_schedules_every_foot_in_stance_until_the_clock_passes_zero():
    env = gym.make("neuromotor/Walker2d-Clock-v4", gaits=["jump"], stand_first=True, grounded_weight=1.0)
    task = env.unwrapped.task
    env.reset(seed=3)
    start = task.clock.phase
    standing_steps, first_cycle = 0, []
    for _ in range(300):
        _, _, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
        first_cycle.append(info["standing_first"])
        if info["standing_first"]:
            standing_steps += 1
            # No flight is due: the launch term pays nothing and standing height is the reference.
            assert info["reward_launch"] == 0.0
        if terminated or truncated:
            break
    # Standing lasts exactly the rest of the first cycle, then the jump's own schedule takes over for good.
    assert standing_steps == pytest.approx((1.0 - start) * task.clock.gait.period / task.dt, abs=1)
    assert first_cycle[:standing_steps] == [True] * standing_steps and not any(first_cycle[standing_steps:])
    # Off by default: the schedule starts at once.
    plain = gym.make("neuromotor/Walker2d-Clock-v4", gaits=["jump"])
    plain.reset(seed=3)
    assert not plain.step(np.zeros(plain.action_space.shape))[4]["standing_first"]


def test_under_stand_first_a_flight_before_the_first_cycle_ends_costs_grounded():
    flying = _reading(0.0, 0.0, 0.2, (0.0, 0.0), (1.0, 1.0))
    costs = {}
    for stand_first in (False, True):
        task = _task("jump@0", stand_first=stand_first, grounded_weight=1.0)
        task.reset(flying, np.random.default_rng(0))
        task.clock.reset(task.clock.gait, 0.6)  # mid-flight of the jump's own schedule
        costs[stand_first] = 1.0 - task.reward_terms(flying, np.zeros(6), {})["grounded"]
    assert costs[False] == pytest.approx(0.0, abs=1e-6) and costs[True] == 1.0


def test_a_rebound_after_landing_costs_grounded_even_inside_the_scheduled_flight():
    flying = _reading(0.0, 0.0, 0.2, (0.0, 0.0), (1.0, 1.0))
    landed = _reading(0.0, 0.0, 0.0, (0.5, 0.5), (0.0, 0.0))
    task = _task("jump@0", grounded_weight=1.0)
    task.reset(landed, np.random.default_rng(0))
    jump = task.clock.gait
    flight_start = next(start for start, _, air in jump.segments if air)
    task.clock.reset(jump, flight_start + 0.1)  # well inside the scheduled flight
    steps = [flying] * 20 + [landed] * 3 + [flying] * 3
    paid = [task.reward_terms(r, np.zeros(6), {})["grounded"] for r in steps]
    assert task.clock.gait.airborne(task.clock.phase)  # still the scheduled flight's time
    assert min(paid[:23]) == pytest.approx(1.0, abs=0.01)  # the flight and the landing cost nothing
    assert paid[23:] == [0.0, 0.0, 0.0]  # leaving the floor again is a second flight
    # The next scheduled flight is free again, once the stance between has passed.
    task.clock.reset(jump, 0.1)
    task.reward_terms(landed, np.zeros(6), {})
    task.clock.reset(jump, flight_start + 0.1)
    assert task.reward_terms(flying, np.zeros(6), {})["grounded"] == pytest.approx(1.0, abs=0.01)
    # one_flight=False keeps v3's rule: the same rebound costs nothing inside the scheduled flight.
    v3 = _task("jump@0", grounded_weight=1.0, one_flight=False)
    v3.reset(landed, np.random.default_rng(0))
    v3.clock.reset(jump, flight_start + 0.1)
    assert min(v3.reward_terms(r, np.zeros(6), {})["grounded"] for r in steps) == pytest.approx(1.0, abs=0.01)


def test_a_swing_foot_that_scuffs_the_floor_costs_the_clearance_term():
    def lifted(step: int, height: float = 0.06) -> BodyReading:
        reading = _walk(step)
        return reading._replace(foot_clearances=tuple(0.0 if f > 0 else height for f in reading.foot_forces))

    def scuffing(step: int) -> BodyReading:
        return lifted(step, height=0.005)

    def paid(motion, **kwargs) -> float:
        task = _task("walk:1.0@0", **kwargs)
        task.reset(motion(0), np.random.default_rng(0))
        return sum(task.reward_terms(motion(t), np.zeros(6), {})["clearance"] for t in range(1, 201))

    assert paid(lifted) == paid(scuffing) == 0.0  # off by default
    full = 200 * 0.5
    assert paid(lifted, clearance_weight=0.5) > 0.95 * full
    assert paid(scuffing, clearance_weight=0.5) < 0.8 * paid(lifted, clearance_weight=0.5)
