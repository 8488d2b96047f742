"""The gait task: commands in the observation, schedules, and a reward that follows the active command."""

import math

import gymnasium as gym
import numpy as np
import pytest
from test_tasks import DT, reading

import envs
from envs.catalog import BODIES
from envs.tasks.gait import Command, GaitTask, parse_schedule
from envs.tasks.jump import JumpTask
from envs.tasks.walk import WalkTask


def test_parse_schedule():
    assert parse_schedule("walk:1.0@0, jump@300,walk:0.5@600") == (
        Command(0, "walk", 1.0),
        Command(300, "jump"),
        Command(600, "walk", 0.5),
    )
    assert parse_schedule("jump@0") == (Command(0, "jump"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run@0", "gait must be one of walk, jump"),
        ("walk:1.0@0,jump", r"expected GAIT\[:SPEED\]@STEP"),
        ("walk@10", "must start at step 0"),
        ("walk@0,jump@300,walk@200", "steps must increase"),
        ("walk:-1@0", "the speed must be a number > 0"),
        ("walk:fast@0", "the speed must be a number > 0"),
        ("jump:1.0@0", "only walk takes a speed"),
        ("walk@0,jump@1.5", "whole number"),
    ],
)
def test_bad_schedules_are_one_line_errors(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_schedule(text)
    assert "\n" not in str(error.value)


def gait_task(**kwargs):
    task = GaitTask(**kwargs)
    task.setup(BODIES["Walker2d"], DT)
    return task


def test_reward_is_the_active_tasks_terms_and_a_switch_changes_them():
    steps = [reading(vx=0.8, contacts=(i % 60 < 35, (i + 30) % 60 < 35), x=0.01 * i) for i in range(20)]
    steps += [reading(vx=0.0, contacts=(False, False), height=1.2, vz=1.0, x=0.2) for _ in range(10)]
    task = gait_task(schedule="walk:0.8@0,jump@20")
    walk, jump = WalkTask(speed=0.8), JumpTask()
    for sub in (walk, jump):
        sub.setup(BODIES["Walker2d"], DT)
    rng = np.random.default_rng(0)
    task.reset(steps[0], rng)
    walk.reset(steps[0], rng)
    np.testing.assert_array_equal(task.command, [1.0, 0.0, 0.8, 0.0, 0.0])
    for i, r in enumerate(steps):
        terms = task.reward_terms(r, np.zeros(6), {})
        assert set(terms) == set(GaitTask.terms)
        if i < 20:
            expected = {f"walk_{k}": v for k, v in walk.reward_terms(r, np.zeros(6), {}).items()}
            if i == 19:
                jump.reset(r, rng)  # the jump starts from where the walk ended
        else:
            expected = {f"jump_{k}": v for k, v in jump.reward_terms(r, np.zeros(6), {}).items()}
        paid = {k: v for k, v in terms.items() if k.split("_")[0] == ("walk" if i < 20 else "jump")}
        assert paid == pytest.approx(expected), i
        assert all(v == 0.0 for k, v in terms.items() if k not in paid)
    # Jumping: the vector to the jump's spot (where the walk ended, x = 0.19) is part of the command.
    np.testing.assert_allclose(task.command, [0.0, 1.0, 0.0, 0.19 - 0.2, 0.0])
    np.testing.assert_allclose(task.command[3:], jump.command)
    assert terms["jump_height"] > 0 and terms["jump_launch"] > 0


def test_random_commands_switch_within_the_interval():
    task = gait_task(switch_interval=(0.1, 0.1), speed_range=(0.5, 1.5))
    task.reset(reading(), np.random.default_rng(0))
    commands = []
    for _ in range(200):
        task.reward_terms(reading(), np.zeros(6), {})
        commands.append(task.command.copy())
    changes = [i for i in range(1, 200) if not np.array_equal(commands[i], commands[i - 1])]
    assert len(changes) >= 10
    assert all(np.diff(changes) % round(0.1 / DT) == 0)
    speeds = [c[2] for c in commands if c[0] == 1.0]
    assert speeds and all(0.5 <= s <= 1.5 for s in speeds)
    assert {tuple(c[:2]) for c in commands} == {(1.0, 0.0), (0.0, 1.0)}


def test_the_command_is_in_the_observation():
    env = gym.make("neuromotor/Walker2d-Gait-v2", schedule="walk:1.2@0,jump@3")
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs[-5:], [1.0, 0.0, 1.2, 0.0, 0.0])
    np.testing.assert_array_equal(info["command"], obs[-5:])
    for _ in range(3):
        obs, _, _, _, info = env.step(np.zeros(6))
    # The observation before step 3 already carries its command; step 3 is paid as a jump.
    np.testing.assert_array_equal(obs[-5:], [0.0, 1.0, 0.0, 0.0, 0.0])
    assert info["reward_walk_speed"] != 0.0
    _, _, _, _, info = env.step(np.zeros(6))
    assert info["reward_walk_speed"] == 0.0 and info["reward_jump_drift"] > 0.0


def test_a_reset_option_gives_one_episode_its_own_schedule():
    env = gym.make("neuromotor/Walker2d-Gait-v2", schedule="walk:1.2@0")
    obs, _ = env.reset(seed=0, options={"schedule": "jump@0,walk:0.8@2"})
    np.testing.assert_array_equal(obs[-5:], [0.0, 1.0, 0.0, 0.0, 0.0])
    for _ in range(2):
        obs, *_ = env.step(np.zeros(6))
    np.testing.assert_array_equal(obs[-5:], [1.0, 0.0, 0.8, 0.0, 0.0])
    obs, _ = env.reset(seed=0)  # the next episode without options: the env's own schedule again
    np.testing.assert_array_equal(obs[-5:], [1.0, 0.0, 1.2, 0.0, 0.0])
    with pytest.raises(ValueError, match="bad command 'fly@0'"):
        env.reset(options={"schedule": "fly@0"})
    with pytest.raises(ValueError, match=r"unknown reset option.*speed.*valid: schedule"):
        env.reset(options={"speed": 1.0})
    with pytest.raises(ValueError, match="the walk task takes no reset options"):
        gym.make("neuromotor/Walker2d-Walk-v1").reset(options={"schedule": "walk@0"})


def test_the_jump_command_points_back_to_the_starting_spot():
    env = gym.make("neuromotor/Walker2d-Jump-v3")
    obs, info = env.reset(seed=1)
    start = np.array([info["com_x"], info["com_y"]])
    np.testing.assert_array_equal(obs[-2:], [0.0, 0.0])
    rng = np.random.default_rng(0)
    for _ in range(40):
        obs, _, terminated, _, info = env.step(rng.uniform(-1, 1, 6))
        np.testing.assert_allclose(obs[-2:], start - [info["com_x"], info["com_y"]], atol=1e-12)
        if terminated:
            break
    assert abs(obs[-2]) > 1e-3  # the body moved and the command followed


def test_bad_gait_settings_are_clear():
    with pytest.raises(ValueError, match="gaits must be some of walk, jump"):
        GaitTask(gaits=("walk", "swim"))
    with pytest.raises(ValueError, match="switch_interval"):
        GaitTask(switch_interval=(2.0, 1.0))
    with pytest.raises(ValueError, match="bad command"):
        gym.make("neuromotor/Walker2d-Gait-v2", schedule="fly@0")
    with pytest.raises(ValueError, match="comes from the command"):
        GaitTask(walk={"speed": 2.0})
    assert "neuromotor/Hopper-Gait-v2" in envs.env_ids()


def test_evaluate_follows_scripted_commands(tmp_path):
    import json

    from conftest import evaluate_cli, tiny_run

    run = tiny_run("neuromotor/Walker2d-Gait-v2", tmp_path / "gait")

    def evaluate(*args):
        return evaluate_cli(run, *args)

    done = evaluate("--steps", "60", "--commands", "walk:0.8@0,jump@20,walk@40", "--json", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    episode = report["episodes"][0]
    distribution = report["summary"]["switch_latency_distribution"]
    assert distribution["switches"] == episode["switches"]
    assert distribution["never_followed"] == sum(math.isnan(x) for x in episode["switch_latencies"])
    if episode["length"] > 40:  # an untrained walker may fall first; then fewer switches happened
        assert episode["switches"] == 2
    assert episode["switches"] == len(episode["switch_latencies"]) >= 1
    bad = evaluate("--commands", "walk@0,fly@10")
    assert bad.returncode == 2 and "gait must be one of walk, jump" in bad.stderr and "Traceback" not in bad.stderr


def test_the_active_task_ends_the_episode():
    task = gait_task(schedule="walk:1.0@0,jump@5")
    task.reset(reading(x=0.0), np.random.default_rng(0))
    for i in range(5):
        task.reward_terms(reading(x=0.5 * i), np.zeros(6), {})
    # Walking 2 m is no stray; the jump starts where the switch happened and ends the episode 1 m further on.
    assert task.active == "jump"
    assert not task.terminated(reading(x=2.5), False)
    assert task.terminated(reading(x=3.1), False)
    assert task.terminated(reading(x=2.0, fallen=True), False)


def test_summary_names_the_gait_an_episode_ended_early_in():
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.evaluation import rollout as evaluation
    from agents.vecenvs import EnvFactory

    class Limp:  # no torque: the walker collapses, in its jump segment
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.zeros((len(obs), 6)), None

    schedule = {"schedule": "walk:1.0@0,jump@5"}
    venv = DummyVecEnv([EnvFactory("neuromotor/Walker2d-Gait-v2", schedule)])
    fell = evaluation.rollout(Limp(), venv, seed=0)
    assert fell.terminated and fell.length < 1000
    venv = DummyVecEnv([EnvFactory("neuromotor/Walker2d-Gait-v2", {**schedule, "max_episode_steps": 3})])
    cut = evaluation.rollout(Limp(), venv, seed=0)
    assert not cut.terminated and cut.length == 3
    summary = evaluation.summarize([fell, cut, fell])["summary"]
    assert summary["ended_early_in"] == {"jump": 2}
