"""Datasets of recorded gaits and brains fitted to them: recorded, split by seed and read back (as Minari reads
them too); a fitted brain's loss falls and it acts in the body like any brain; bad datasets get one line."""

from __future__ import annotations

import dataclasses
import json
import shutil

import minari
import numpy as np
import pytest
from badinput import refuse

from agents.cli.evaluate import evaluate_main
from agents.cli.imitate import dataset_main, imitate_main
from agents.config import ConfigError, resolve_config
from agents.evaluation.dataset import GAIT_LABELS, record_dataset
from agents.training.imitate import imitate
from agents.training.trainer import train

BRAIN = "walker2d-walk"  # a bundled brain, on the clock
STEPS = {"max_episode_steps": 40}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "walks"
    return record_dataset([BRAIN], out, episodes=5, test_every=5, seed=7, env_kwargs=STEPS)


def test_a_dataset_is_recorded_split_by_seed_and_read_back(recorded):
    assert recorded.brains == [BRAIN] and recorded.env_id == "neuromotor/Walker2d-Clock-v4"
    assert recorded.train.seeds == [7, 8, 9, 10] and recorded.test.seeds == [11]
    assert len(recorded.train.actions) == 4 and len(recorded.test.actions) == 1
    for split in (recorded.train, recorded.test):
        for obs, actions in zip(split.observations, split.actions, strict=True):
            assert obs.shape == (len(actions) + 1, recorded.observation_size) and actions.shape[1] == 6
    # Raw observations (not the brain's normalised ones): the torso's height at the start, about 1.25 m.
    assert 1.1 < recorded.train.observations[0][0, 0] < 1.4
    # Minari reads the same episodes, with the gait information per step.
    data = minari.MinariDataset(recorded.path / "train" / "data")
    assert data.total_episodes == 4 and data.total_steps == recorded.train.steps
    episode = next(data.iterate_episodes())
    np.testing.assert_array_equal(episode.actions, recorded.train.actions[0])
    assert episode.infos["foot_contacts"].shape == (len(episode.actions) + 1, 2)
    assert set(np.unique(episode.infos["gait_label"])) <= set(range(len(GAIT_LABELS)))
    assert json.loads((recorded.path / "neuromotor.json").read_text())["env_kwargs"]["max_episode_steps"] == 40


def test_the_recorded_pairs_are_what_the_brain_saw_and_did(recorded):
    """Each recorded action is the teacher's answer to the recorded observation before it (normalised as the teacher
    normalises), and the last observation is the env's raw one after the last action (replayed from the seed)."""
    import gymnasium as gym

    from agents.brains.store import find_brain, load_model
    from agents.runs import read_vecnormalize

    brain = find_brain(BRAIN)
    model, stats = load_model(brain), read_vecnormalize(brain.vecnormalize_path)
    obs, actions = recorded.train.observations[0], recorded.train.actions[0]
    state, start = None, np.ones(1, dtype=bool)
    for t in range(len(actions)):
        action, state = model.predict(stats.normalize_obs(obs[t : t + 1]), state=state, episode_start=start,
                                      deterministic=True)  # fmt: skip
        start = np.zeros(1, dtype=bool)
        np.testing.assert_allclose(action[0], actions[t], atol=1e-5)
    env = gym.make(recorded.env_id, **recorded.env_kwargs)
    first, _ = env.reset(seed=recorded.train.seeds[0])
    np.testing.assert_allclose(first, obs[0], rtol=1e-5, atol=1e-5)
    for action in actions:
        last, *_ = env.step(action)
    np.testing.assert_allclose(last, obs[-1], rtol=1e-4, atol=1e-4)


def test_a_fitted_brain_learns_and_acts_in_the_body(recorded, tmp_path, capsys):
    fit = imitate(recorded, tmp_path / "fit", epochs=15, batch_size=2, progress=False)
    assert fit.train_loss[-1] < 0.8 * fit.train_loss[0] and fit.test_loss[-1] < fit.test_loss[0]
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())["imitation"]
    assert summary["test_loss"] == pytest.approx(fit.test_loss[-1]) and summary["cell"] == "lstm"
    assert evaluate_main([str(tmp_path / "fit"), "--episodes", "1", "--steps", "30"]) == 0
    # In the body it answers the first observation as it did in the fit (the same normalisation, saved with it).
    from agents.brains.store import find_brain, load_model
    from agents.evaluation.rollout import evaluate_brain
    from agents.runs import read_vecnormalize

    fitted = find_brain(str(tmp_path / "fit"))
    model, stats = load_model(fitted), read_vecnormalize(fitted.vecnormalize_path)
    first = evaluate_brain(fitted, episodes=1, seed=recorded.test.seeds[0], max_episode_steps=2).episodes[0]
    # (atol 1e-4: an input that never varied in the recording, the walk's swing ratio, has a variance near zero, so
    # its normalised value shows the float32 rounding of the stored observation.)
    np.testing.assert_allclose(first.observations[0], stats.normalize_obs(recorded.test.observations[0][0]), atol=1e-4)
    action, _ = model.predict(stats.normalize_obs(recorded.test.observations[0][:1]), episode_start=np.ones(1, bool),
                              deterministic=True)  # fmt: skip
    np.testing.assert_allclose(first.actions[0], action[0], atol=1e-6)
    # A fitted GRU starts a RecurrentPPO run like any brain; an LSTM run cannot start from it.
    imitate(recorded, tmp_path / "gru", cell="gru", hidden=8, epochs=1, progress=False)
    tiny = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "total_steps": 64, "eval_freq": 0,
            "checkpoint_freq": 0, "env_kwargs": STEPS, "init_from": str(tmp_path / "gru")}  # fmt: skip
    policy = {"lstm_hidden_size": 8, "net_arch": {"pi": [], "vf": [64, 64]}, "enable_critic_lstm": False}
    config = resolve_config(recorded.env_id, "rppo", {**tiny, "policy": {**policy, "cell": "gru"}})
    assert train(config, tmp_path / "tuned", progress=False)["steps"] == 64
    with pytest.raises(ConfigError, match=r"is a brain with a gru cell; this run's policy\.cell is lstm"):
        train(resolve_config(recorded.env_id, "rppo", {**tiny, "policy": policy}), tmp_path / "x", progress=False)


def test_dagger_adds_the_students_own_episodes_labelled_by_the_teacher(recorded, tmp_path):
    from agents.brains.store import find_brain, load_model
    from agents.runs import read_vecnormalize
    from agents.training.imitate import student_episodes

    fit = imitate(recorded, tmp_path / "d", hidden=8, epochs=2, dagger=2, dagger_episodes=1, dagger_epochs=2,
                  progress=False)  # fmt: skip
    assert len(fit.test_loss) == 6
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())["imitation"]
    assert summary["train_episodes"] == 4 + 2 and summary["dagger"] == 2
    # The labels are the teacher's answers along the student's own episode (beta 0: the student acts throughout).
    student = load_model(find_brain(str(tmp_path / "d")))
    norm = read_vecnormalize(tmp_path / "d" / "vecnormalize.pkl")
    split = student_episodes(student, norm, BRAIN, recorded, episodes=1, seed=5, beta=0.0, rng=np.random.default_rng())
    teacher = find_brain(BRAIN)
    tutor, stats = load_model(teacher), read_vecnormalize(teacher.vecnormalize_path)
    state, start = None, np.ones(1, dtype=bool)
    for obs, label in zip(split.observations[0], split.actions[0], strict=False):
        action, state = tutor.predict(stats.normalize_obs(obs[None]), state=state, episode_start=start,
                                      deterministic=True)  # fmt: skip
        start = np.zeros(1, dtype=bool)
        np.testing.assert_allclose(action[0], label, atol=1e-5)
    with pytest.raises(ConfigError, match="DAgger needs one teacher"):
        imitate(dataclasses.replace(recorded, brains=[BRAIN, "other"]), tmp_path / "e", dagger=1, progress=False)


def test_the_commands_record_fit_and_report(recorded, tmp_path, capsys):
    out = tmp_path / "d"
    argv = [BRAIN, "--episodes", "5", "--out", str(out), "--env-kwargs", json.dumps(STEPS)]
    assert dataset_main(argv) == 0
    assert "4 training episodes" in capsys.readouterr().out
    assert imitate_main([str(out), "--out", str(tmp_path / "fit"), "--epochs", "2", "--episodes", "1"]) == 0
    said = capsys.readouterr().out
    assert "test loss" in said and f"against {BRAIN}'s definition" in said
    assert any(line.split()[1:2] == ["fell"] for line in said.splitlines() if line.startswith("  "))


def _damaged(recorded, tmp_path, how):
    copy = tmp_path / "copy"
    shutil.copytree(recorded.path, copy)
    if how == "corrupt":
        part = next((copy / "train" / "data").rglob("*.arrow"))
        part.write_bytes(b"not arrow")
    elif how == "no test episodes":
        meta = json.loads((copy / "neuromotor.json").read_text())
        shutil.rmtree(copy / "test")
        from minari.dataset.minari_storage import MinariStorage

        (copy / "test").mkdir()
        data = minari.MinariDataset(copy / "train" / "data")
        empty = MinariStorage.new(copy / "test" / "data", observation_space=data.observation_space,
                                  action_space=data.action_space, data_format="arrow")  # fmt: skip
        empty.update_metadata({"dataset_id": "neuromotor/copy-test-v0", "minari_version": minari.__version__})
        meta["episodes"]["test"] = []
        (copy / "neuromotor.json").write_text(json.dumps(meta))
    elif how == "another body":
        meta = json.loads((copy / "neuromotor.json").read_text())
        meta["env_id"] = "neuromotor/Hopper-Clock-v4"
        (copy / "neuromotor.json").write_text(json.dumps(meta))
    return copy


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("corrupt", "is damaged"),
        ("no test episodes", "its test split has no episodes"),
        ("another body", "has 28 observations a step; its env neuromotor/Hopper-Clock-v4 now has 18"),
    ],
)
def test_bad_datasets_are_refused_in_one_line(recorded, tmp_path, capsys, how, says):
    data = _damaged(recorded, tmp_path, how)
    refuse(imitate_main, [str(data), "--out", str(tmp_path / "fit"), "--epochs", "1"], capsys, says=[says],
           watch=[tmp_path / "fit"])  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["walker2d-walk", "ant-walk", "--episodes", "5"], "a dataset holds one env's episodes"),
        (["walker2d-jump", "walker2d-gait", "--episodes", "5"], "acts in neuromotor/Walker2d-Clock-v4 {"),
        ([BRAIN, "--episodes", "5", "--test-every", "1"], "--test-every must be >= 2"),
        ([BRAIN, "--episodes", "5", "--env-kwargs", "[1]"], "--env-kwargs must be a JSON object"),
        ([BRAIN, "--episodes", "3"], "--episodes 3 leaves the test split empty"),
        ([BRAIN, "--episodes", "0"], "--episodes must be >= 1"),
        (["nobrain", "--episodes", "5"], "nobrain"),
    ],
)
def test_bad_recordings_are_refused_in_one_line(tmp_path, capsys, argv, says):
    refuse(dataset_main, [*argv, "--out", str(tmp_path / "d")], capsys, says=[says], watch=[tmp_path / "d"])


def test_not_a_dataset(tmp_path, capsys):
    refuse(imitate_main, [str(tmp_path), "--out", str(tmp_path / "fit")], capsys, says=["is not a neuromotor dataset"],
           watch=[tmp_path / "fit"])  # fmt: skip


def test_the_imitation_benchmark_prints_cloning_against_dagger(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    loader = importlib.util.spec_from_file_location("imitation_benchmark", root / "benchmarks" / "imitation.py")
    bench = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(bench)
    argv = [BRAIN, "--episodes", "5", "--epochs", "1", "--dagger", "1", "--dagger-episodes", "1", "--dagger-epochs",
            "1", "--test-episodes", "1", "--run-dir", str(tmp_path), "--out", str(tmp_path / "t.md")]  # fmt: skip
    assert bench.main(argv) == 0
    rows = (tmp_path / "t.md").read_text().splitlines()
    assert rows[0].startswith("| teacher | method | test loss (MSE) | falls in 1 test episodes")
    assert [row.split(" | ")[1] for row in rows[2:]] == ["cloning", "cloning + 1 DAgger"]
