"""The brain view: recordings, PCA, decoders, lesions, pushes, the figures and the command line."""

import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch as th
from conftest import call_cli

from agents.analysis import figures, perturb, population, recording
from agents.analysis.report import analyse
from agents.brains import store
from agents.cli.evaluate import evaluate_main
from agents.cli.main import main
from agents.config import resolve_config
from agents.evaluation import rollout as evaluation
from agents.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
UNITS = 16


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("analysis") / "walker"
    settings = {"total_steps": 256, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                "policy.lstm_hidden_size": UNITS, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), run)
    return run


@pytest.fixture(scope="module")
def brain(run_dir):
    brain = store.find_brain(str(run_dir))
    return brain, store.load_model(brain)


def episode(brain, steps=80, seed=3, **kwargs):
    brain, model = brain
    venv = evaluation.make_env(brain, max_episode_steps=steps)
    ep = evaluation.rollout(model, venv, seed=seed, **kwargs)
    venv.close()
    return ep


def test_recording_has_the_right_shapes_and_agrees_with_the_rollout(brain, tmp_path):
    eps = [episode(brain, steps=60, seed=1), episode(brain, steps=40, seed=2)]
    rec = recording.record(brain[1], eps)
    n = sum(ep.length for ep in eps)
    assert rec["actor_hidden"].shape == rec["actor_cell"].shape == (n, 1, UNITS)
    assert rec["critic_hidden"].shape == (n, 1, UNITS)  # the presets give the critic its own LSTM
    np.testing.assert_array_equal(rec["observations"], np.concatenate([ep.observations for ep in eps]))
    assert rec["actions"].shape == (n, 6)
    assert rec["foot_contacts"].shape == (n, 2) and rec["gait_phase"].shape == (n, 2)
    assert rec["com_position"].shape == rec["com_velocity"].shape == (n, 3)
    assert rec["command"].shape == (n, 1) and rec["gait_label"].shape == (n,)
    np.testing.assert_array_equal(rec["episode"], np.repeat([0, 1], [60, 40]))
    np.testing.assert_array_equal(rec["actor_hidden"][:60], eps[0].lstm_hidden)
    np.testing.assert_array_equal(rec["actions"][60:], eps[1].actions)
    # The critic's states are those of its LSTM run over the whole episode at once.
    policy = brain[1].policy
    with th.no_grad():
        features = policy.vf_features_extractor(th.as_tensor(eps[0].observations, dtype=th.float32))
        whole, _ = policy.lstm_critic(features.unsqueeze(1))
    np.testing.assert_allclose(rec["critic_hidden"][:60, -1], whole[:, 0].numpy(), atol=1e-5)
    path = recording.save_recording(tmp_path / "rec.npz", rec, target="x", env_id="neuromotor/Walker2d-Walk-v1")
    loaded = recording.load_recording(path)
    np.testing.assert_array_equal(loaded["actor_hidden"], rec["actor_hidden"])
    assert loaded["target"] == "x" and loaded["dt"] == pytest.approx(eps[0].dt)
    assert list(loaded["foot_labels"]) == ["right", "left"]


def test_not_a_recording_is_a_clear_error(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="is not a brain recording"):
        recording.load_recording(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(ValueError, match="cannot read recording"):
        recording.load_recording(tmp_path / "junk.npz")


def test_pca_variance_sums_to_one():
    hidden = np.random.default_rng(0).normal(size=(200, UNITS)) @ np.diag(np.arange(1, UNITS + 1))
    model, proj = population.pca(hidden)
    assert model.explained_variance_ratio_.sum() == pytest.approx(1.0)
    assert proj.shape == (200, UNITS)
    assert np.all(np.diff(model.explained_variance_ratio_) <= 1e-12)


def test_decoders_beat_shuffled_labels_on_a_synthetic_signal():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(600, UNITS))
    target = hidden @ rng.normal(size=UNITS) + 0.3 * rng.normal(size=600)
    continuous = population.decode_continuous(hidden, target, rng)
    assert continuous["r2"] > 0.9 and continuous["shuffled_r2"] < 0.1
    binary = population.decode_binary(hidden, target > 0, rng)
    assert binary["accuracy"] > 0.9 and binary["shuffled_accuracy"] < 0.65
    # Noise carries nothing: the decoder is no better than its control.
    noise = population.decode_continuous(hidden, rng.normal(size=600), rng)
    assert noise["r2"] < 0.1
    assert np.isnan(population.decode_binary(hidden, np.zeros(600), rng)["accuracy"])


def test_commanded_gait_is_decoded_and_drawn_for_a_gait_recording(tmp_path):
    rng = np.random.default_rng(0)
    jump = (np.arange(600) // 150) % 2 == 1  # walk, jump, walk, jump: 150 steps each
    command = np.stack([~jump, jump, np.where(jump, 0.0, 1.0)], axis=1).astype(float)
    hidden = rng.normal(size=(600, UNITS))
    hidden[:, 0] += 6.0 * jump  # one unit reports the command
    rec = {"command": command, "com_velocity": rng.normal(size=(600, 3)), "foot_contacts": np.zeros((600, 0)),
           "foot_labels": []}  # fmt: skip
    assert population.commanded_gait(rec).tolist() == jump.astype(int).tolist()
    decoded = population.decoding(rec, hidden, rng)["commanded_jump"]
    assert decoded["accuracy"] > 0.95 and decoded["shuffled_accuracy"] < 0.7
    _, proj = population.pca(hidden)
    figures.figure_commands(proj, population.commanded_gait(rec), decoded, tmp_path / "commands.png")
    assert (tmp_path / "commands.png").stat().st_size > 0
    # A walk brain's command (a speed) is not a gait command.
    assert population.commanded_gait({"command": np.ones((600, 1))}) is None
    assert "commanded_jump" not in population.decoding({**rec, "command": np.ones((600, 1))}, hidden, rng)


def test_tuning_finds_a_phase_tuned_unit():
    phase = np.tile(np.arange(100) / 100, 6)
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(600, 3)) * 0.1
    hidden[:, 0] += np.cos(2 * np.pi * (phase - 0.25))  # peaks a quarter into the cycle
    tuned = population.tuning(hidden, phase)
    assert tuned["strength"][0] > 0.9 > 0.2 > tuned["strength"][1]
    assert tuned["preferred_phase"][0] == pytest.approx(0.25, abs=1 / population.PHASE_BINS)
    assert perturb.most_tuned(tuned["strength"], 1 / 3).tolist() == [0]


def test_a_zero_lesion_changes_nothing_and_weights_come_back(brain):
    model = brain[1]
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    intact = episode(brain)
    with perturb.lesion(model, []):
        same = episode(brain)
    np.testing.assert_array_equal(same.actions, intact.actions)
    with perturb.lesion(model, range(UNITS)):
        silenced = episode(brain)
        assert not model.policy.lstm_actor.weight_hh_l0.any()
    assert not np.allclose(silenced.actions, intact.actions)
    for key, value in model.policy.state_dict().items():
        assert th.equal(value, before[key]), key
    with pytest.raises(ValueError, match=r"units must be in \[0, 16\)"), perturb.lesion(model, [UNITS]):
        pass


def test_a_zero_push_changes_nothing_and_a_push_moves_the_body(brain):
    still = episode(brain, steps=60)
    np.testing.assert_array_equal(episode(brain, steps=60, before_step=perturb.Push(20, 0.0)).actions, still.actions)
    pushed = episode(brain, steps=60, before_step=perturb.Push(20, 30.0, duration=0.04))
    assert pushed.com_velocity[30, 0] > still.com_velocity[30, 0] + 0.5
    np.testing.assert_array_equal(pushed.actions[:20], still.actions[:20])


def test_recovery_time():
    labels = np.array(["walk"] * 10 + ["other"] * 5 + ["walk"] * 5)
    assert perturb.recovery_time(labels, "walk", 10, 0.01) == pytest.approx(0.05)
    assert perturb.recovery_time(labels, "walk", 0, 0.01) == 0.0
    assert np.isnan(perturb.recovery_time(labels, "jump", 0, 0.01))


def test_analysis_writes_every_figure_and_the_report(run_dir, tmp_path):
    out = tmp_path / "view"
    report = analyse(
        str(run_dir), out, episodes=1, steps=60, lesion_fractions=(0.0, 0.5), push_impulses=(0.0, 5.0), push_step=20,
        noise_levels=(0.0, 0.1), delay_levels=(0, 1), video_steps=12,
    )  # fmt: skip
    for name in ("population.png", "tuning.png", "decoding.png", "lesions.png", "push.png", "senses.png",
                 "brain_and_body.mp4", "report.json", "recording.npz"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    film = imageio.get_reader(out / "brain_and_body.mp4")  # 12 steps at 125 Hz, every 3rd filmed: 0, 3, 6, 9
    assert film.count_frames() == 4 and film.get_meta_data()["fps"] == pytest.approx(125 / 3, abs=0.1)
    assert sum(report["pca"]["explained_variance_ratio"]) == pytest.approx(1.0)
    assert [row["fraction"] for row in report["lesions"]] == [0.0, 0.5, 0.0, 0.5]
    assert [row["impulse"] for row in report["perturbations"]["push"]] == [0.0, 5.0]
    # From the saved recording alone: the recorded analyses, no lesions.
    again = analyse(str(out / "recording.npz"), tmp_path / "from_npz")
    assert again["pca"] == report["pca"] and "lesions" not in again


def run_cli(*args):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "MUJOCO_GL": "egl"},
    )  # fmt: skip


def test_evaluate_record_and_bad_inputs(run_dir, tmp_path):
    path = tmp_path / "rec.npz"
    done = run_cli("evaluate.py", run_dir, "--episodes", "1", "--steps", "30", "--record", path)
    assert done.returncode == 0, done.stderr
    assert recording.load_recording(path)["actor_hidden"].shape == (30, 1, UNITS)
    # The bad inputs in this process, for speed (test_evaluate runs its first case as a process of its own).
    bad = call_cli(evaluate_main, run_dir, "--record", tmp_path / "rec.json")
    assert bad.returncode == 2 and "ending in .npz" in bad.stderr and "Traceback" not in bad.stderr
    missing = call_cli(main, "analyse", tmp_path / "none.npz", "--out", tmp_path / "o")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    fractions = call_cli(main, "analyse", run_dir, "--out", tmp_path / "o", "--lesions", "0,2")
    assert fractions.returncode == 2 and "fractions in [0, 1]" in fractions.stderr


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_the_brain_view_of_every_cell(cell, tmp_path):
    """Recording, PCA, tuning, decoding, lesions and pushes on a GRU and on a leaky RNN brain."""
    run = tmp_path / cell
    settings = {"total_steps": 128, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                "policy.lstm_hidden_size": UNITS, "policy.cell": cell, "eval_freq": 0, "checkpoint_freq": 0,
                **({"policy.leak": 0.5} if cell == "rnn" else {})}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), run, progress=False)
    report = analyse(str(run), tmp_path / "view", episodes=1, steps=60, lesion_fractions=(0.0, 0.5),
                     push_impulses=(0.0, 5.0), push_step=20, noise_levels=(0.0,), delay_levels=(0,),
                     video_steps=0)  # fmt: skip
    assert report["cell"] == cell and report["units"] == UNITS
    assert sum(report["pca"]["explained_variance_ratio"]) == pytest.approx(1.0)
    assert len(report["tuning"]["strength"]) == UNITS and report["decoding"]
    assert [row["fraction"] for row in report["lesions"]] == [0.0, 0.5, 0.0, 0.5]
    assert [row["impulse"] for row in report["perturbations"]["push"]] == [0.0, 5.0]
    rec = recording.load_recording(tmp_path / "view" / "recording.npz")
    assert rec["cell"] == cell and "actor_cell" not in rec and rec["critic_hidden"].shape == (60, 1, UNITS)
    # Silencing every unit silences the cell's recurrence and the brain acts differently; the weights come back.
    brain = store.find_brain(str(run))
    model = store.load_model(brain)
    intact = episode((brain, model))
    with perturb.lesion(model, range(UNITS)):
        assert not model.policy.lstm_actor.weight_hh_l0.any()
        silenced = episode((brain, model))
    steps = min(silenced.length, intact.length)
    assert not np.allclose(silenced.actions[:steps], intact.actions[:steps])
    np.testing.assert_array_equal(episode((brain, model)).actions, intact.actions)
