"""Distillation: gait teachers' actions taught to one student brain (DAgger)."""

import json
import re

import numpy as np
import pytest
import torch as th

from agents.brains import store
from agents.cli import distill as distill_cli
from agents.config import ConfigError, resolve_config
from agents.evaluation import rollout as evaluation
from agents.training import distill
from agents.vecenvs import EnvFactory

GAIT = "neuromotor/Walker2d-Gait-v2"
CLOCK = "neuromotor/Walker2d-Clock-v4"
KWARGS = {"gaits": ["walk", "jump"], "switch_interval": [0.1, 0.2]}
TEACHERS = {"walk": "walker2d-walk", "jump": "walker2d-jump"}
LABELS = ("clock_right_sin", "clock_right_cos", "clock_left_sin", "clock_left_cos", "swing_ratio", "frequency",
          "offset_right", "offset_left", "speed")  # fmt: skip
SPEED = 19 + LABELS.index("speed")


def gait_obs(rng, gait: str, speed: float, spot=(0.0, 0.0)) -> np.ndarray:
    """A Gait-v2 observation: the senses, then the command (one input per gait, the speed, the spot)."""
    command = [float(gait == "walk"), float(gait == "jump"), speed if gait == "walk" else 0.0, *spot]
    return np.array([[*rng.normal(size=19), *command]])


def clock_obs(gait: str, speed: float = 1.0, steps: int = 1, seed: int = 0) -> np.ndarray:
    """Observations of a clock env holding ``gait`` (``steps`` of them, small random actions)."""
    env = EnvFactory(CLOCK, {"gaits": ["walk", "jump"]})()
    command = f"walk:{speed}@0" if gait == "walk" else "jump@0"
    obs, _ = env.reset(seed=seed, options={"schedule": command})
    rng = np.random.default_rng(seed)
    rows = [obs]
    for _ in range(steps - 1):
        obs, *_ = env.step(rng.uniform(-0.1, 0.1, env.action_space.shape))
        rows.append(obs)
    env.close()
    return np.array(rows, dtype=np.float64)


def test_teacher_sees_the_students_inputs_with_its_speed_held_while_another_gait_is_in_force():
    walk = distill.Teacher("walk", "walker2d-walk", LABELS, 19, 1)
    stats = walk.stats
    jumping = clock_obs("jump")
    # The walk brain's speed input, before any walking: its training mean, not the jump's zero.
    expected = jumping.copy()
    expected[0, SPEED] = stats.obs_rms.mean[SPEED]
    np.testing.assert_allclose(walk.view(jumping, np.array([False])), stats.normalize_obs(expected))
    walking = clock_obs("walk", speed=0.7)
    np.testing.assert_allclose(walk.view(walking, np.array([True])), stats.normalize_obs(walking))
    # Back in the jump, the speed it last walked at is held.
    held = jumping.copy()
    held[0, SPEED] = 0.7
    np.testing.assert_allclose(walk.view(jumping, np.array([False])), stats.normalize_obs(held))


def test_teacher_of_another_body_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=re.escape("teacher walk=ant-walk senses")):
        distill.Teacher("walk", "ant-walk", LABELS, 19, 1)
    with pytest.raises(ConfigError, match="teacher walk=nope"):
        distill.Teacher("walk", "nope", LABELS, 19, 1)


def test_teacher_whose_env_is_gone_is_named_in_the_error(tmp_path):
    """A brain trained on a retired task version (its env id no longer registered) is refused as the teacher it is,
    not as an ``init_from``."""
    brain = store.find_brain("walker2d-walk")
    old = tmp_path / "old-walk"
    old.mkdir()
    for path in (brain.model_path, brain.vecnormalize_path):
        (old / path.name).write_bytes(path.read_bytes())
    config = (brain.model_path.parent / "config.yaml").read_text()
    (old / "config.yaml").write_text(config.replace("neuromotor/Walker2d-Clock-v4", "neuromotor/Walker2d-Clock-v0"))
    with pytest.raises(
        ConfigError, match=re.escape(f"teacher walk={old}: cannot build the env 'neuromotor/Walker2d-Clock-v0'")
    ):
        distill.Teacher("walk", str(old), LABELS, 19, 1)


def test_action_loss_ignores_means_past_the_bound_the_teacher_is_at():
    target = th.tensor([[1.0, -1.0, 0.5, 1.0]])
    assert float(distill.action_loss(th.tensor([[3.0, -2.0, 0.5, 1.0]]), target)) == 0.0
    # Short of the bound, on the wrong side, or away from an unsaturated target: charged.
    assert float(distill.action_loss(th.tensor([[0.0, 0.0, 0.5, 1.0]]), target)) == pytest.approx(0.5)
    assert float(distill.action_loss(th.tensor([[1.0, -1.0, 2.5, 1.0]]), target)) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def distiller():
    config = resolve_config(CLOCK, "rppo", {"env_kwargs": KWARGS, "clip_obs": 1.0e6})
    d = distill.Distiller(config, TEACHERS, n_envs=2, chunk=16, action_noise=0.0)
    d.collect(256, beta=1.0)
    return d


def test_collected_labels_are_the_active_teachers_actions(distiller):
    data = distiller.data
    assert len(distiller.data) == 32 and data.obs[0].shape == (2, 16, 28) and data.h0[0].shape == (1, 2, 128)
    obs = np.concatenate(data.obs)
    # Both gaits were in force (commands change every 0.1-0.2 s, gaits at the clock's next cycle).
    reader = distill.GaitReader(CLOCK, KWARGS)
    in_force = {reader.names[g] for g in reader(obs.reshape(-1, 28))}
    assert in_force == {"walk", "jump"}
    targets = np.concatenate(data.targets)
    assert np.all(np.abs(targets) <= 1.0)
    # Replaying the same observations through fresh teachers gives the same labels.
    raw = obs
    starts = np.concatenate(data.starts)
    fresh = distill.Teachers(CLOCK, KWARGS, TEACHERS, n_envs=2)
    for t in range(16):
        labels = fresh.act(raw[:2, t], starts[:2, t] | (t == 0))
        np.testing.assert_allclose(labels, targets[:2, t], atol=1e-4)


def test_training_fits_the_labels_and_the_student_is_a_loadable_brain(distiller, tmp_path):
    first = distiller.train(epochs=1)
    last = distiller.train(epochs=30)
    assert last < 0.5 * first
    # The student's input statistics are the data's (the clock env's), not those it started with.
    obs = np.concatenate(distiller.data.obs).reshape(-1, 28)
    np.testing.assert_allclose(distiller.norm.obs_rms.mean, obs.mean(axis=0))
    np.testing.assert_allclose(distiller.norm.obs_rms.var, obs.var(axis=0))
    brain = store.find_brain(str(distiller.save(tmp_path / "student")))
    assert brain.config.env_id == CLOCK
    model = store.load_model(brain)
    # Its action noise is the least of its teachers', per action.
    teachers = [store.load_model(store.find_brain(s)).policy.log_std for s in TEACHERS.values()]
    th.testing.assert_close(model.policy.log_std.data, th.minimum(*teachers).data)
    venv = evaluation.make_env(brain, {"schedule": "walk:1.0@0,jump@5"}, max_episode_steps=10)
    episode = evaluation.rollout(model, venv, seed=0)
    assert episode.length == 10 and episode.commanded_gaits()[-1] == "jump"


def test_cli_rejects_a_bad_teacher_in_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        distill_cli.main([str(tmp_path / "s"), "--env", CLOCK, "--teacher", "walk"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--teacher expects GAIT=BRAIN" in err
    with pytest.raises(SystemExit):
        distill_cli.main([str(tmp_path / "s"), "--env", CLOCK, "--teacher", "run=walker2d-walk"])
    assert "teachers must be given for gaits of walk, jump" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_an_env_without_a_gait_command_has_no_teacher_to_choose():
    with pytest.raises(ConfigError, match=re.escape("neuromotor/Walker2d-Walk-v1 has no gait command")):
        distill.Teachers("neuromotor/Walker2d-Walk-v1", {}, {"walk": "walker2d-walk"}, 1)


def test_cli_measures_fresh_teachers_switched_on_a_schedule(capsys, tmp_path):
    code = distill_cli.main([str(tmp_path / "s"), "--env", CLOCK, "--teacher", "walk=walker2d-walk", "--teacher",
                         "jump=walker2d-jump", "--measure-teachers", "walk:1.0@0,jump@100", "--episodes", "1",
                         "--fresh-teachers", "--set", "env_kwargs.gaits=[walk, jump]"])  # fmt: skip
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["switch_latency_distribution"]["switches"] == 1
    assert {"walk_speed_error", "segment_gaits", "switches_followed"} <= set(measured)
    assert not (tmp_path / "s").exists()


def test_the_gait_in_force_is_read_from_a_gait_envs_names_and_a_clock_envs_gait_parameters():
    clock = "neuromotor/Walker2d-Clock-v4"
    kwargs = {"gaits": ["walk", "jump"], "random_phase": False}
    reader = distill.GaitReader(clock, kwargs)
    assert set(reader.names) >= {"walk", "jump"}
    env = EnvFactory(clock, kwargs)()
    # A jump told to walk in its stance (the first third of its cycle) walks at once.
    obs, info = env.reset(seed=0, options={"schedule": "jump@0,walk:1.0@20"})
    seen = []
    for _ in range(60):
        assert reader.names[reader(obs[None])[0]] == info.get("active_gait", "jump")
        seen.append(reader.names[reader(obs[None])[0]])
        obs, _, terminated, _, info = env.step(np.zeros(env.action_space.shape))
        if terminated:
            break
    assert seen[0] == "jump" and seen[-1] == "walk"
    env.close()
    gait = distill.GaitReader(GAIT, {})
    assert gait.names == ("walk", "jump")
    assert gait.names[gait(gait_obs(np.random.default_rng(0), "jump", 0.0))[0]] == "jump"


def test_fresh_teachers_start_their_memory_when_their_gait_is_commanded():
    carried = distill.Teachers(CLOCK, KWARGS, TEACHERS, 1)
    fresh = distill.Teachers(CLOCK, KWARGS, TEACHERS, 1, fresh=True)
    alone = distill.Teachers(CLOCK, KWARGS, TEACHERS, 1)
    walking, jumping = clock_obs("walk", steps=20), clock_obs("jump", seed=1)
    for i, obs in enumerate(walking):
        start = np.array([i == 0])
        np.testing.assert_array_equal(carried.act(obs[None], start), fresh.act(obs[None], start))
    # At the switch the fresh jump teacher acts as one that has seen nothing before; the carried one does not.
    first_jump = alone.act(jumping, np.array([True]))
    np.testing.assert_allclose(fresh.act(jumping, np.array([False])), first_jump, atol=1e-6)
    assert not np.allclose(carried.act(jumping, np.array([False])), first_jump, atol=1e-3)
