"""Bad input and faults: one-line errors with exit code 2, atomic files, resume past damage, no debris."""

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import TINY_FLAGS, WALK
from sb3_contrib import RecurrentPPO

from agents.brains.models import load_algorithm
from agents.brains.policies import FastRecurrentActorCriticPolicy
from agents.brains.store import find_brain, load_model
from agents.cli import analyse
from agents.cli.evaluate import evaluate_main
from agents.cli.train import train_main
from agents.runs import RunError, atomic_open, checkpoint_steps, load_run_config, read_summary, resume_point


def one_line_error(main, argv, capsys) -> str:
    """``main(argv)`` must exit 2 with exactly one line on stderr (and so no traceback); returns that line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_truncated_or_garbage_vecnormalize_is_one_line_naming_the_file(run, capsys):
    truncate(run / "vecnormalize.pkl")
    line = one_line_error(evaluate_main, [str(run), "--episodes", "1", "--steps", "5"], capsys)
    assert "vecnormalize.pkl" in line and "not a readable vecnormalize file" in line
    (run / "vecnormalize.pkl").write_bytes(b"123 not a pickle at all")
    line = one_line_error(evaluate_main, [str(run), "--episodes", "1", "--steps", "5"], capsys)
    assert str(run / "vecnormalize.pkl") in line


def test_a_damaged_model_is_one_line_naming_the_file(run, capsys):
    truncate(run / "model.zip")
    line = one_line_error(evaluate_main, [str(run), "--episodes", "1"], capsys)
    assert "model.zip" in line and "is damaged or not a model archive" in line


def test_a_corrupt_config_on_resume_is_one_line(run, capsys):
    (run / "config.yaml").write_text("env_id: [unclosed\nalgo: rppo\n")
    line = one_line_error(train_main, ["--resume", str(run), "--steps", "512"], capsys)
    assert "config.yaml is not valid YAML at line" in line
    with pytest.raises(RunError, match="not valid YAML"):
        load_run_config(run)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", str(10**23)], "total_steps must be at most 1e+10"),
        (["--set", "batch_size=4096"], "batch_size 4096 is larger than a rollout (n_steps x n_envs = 64)"),
        (["--set", "env_kwargs.speed=nan"], "speed must be a finite number"),
        (["--set", "env_kwargs.speed=fast"], "speed must be a finite number"),
        (["--set", "env_kwargs.obs_delay=1000000000"], "obs_delay must be at most"),
    ],
)
def test_bad_settings_are_one_line_errors(extra, message, tmp_path, capsys):
    argv = ["--env", WALK, "--run-dir", str(tmp_path / "r"), *TINY_FLAGS, *extra]
    assert message in one_line_error(train_main, argv, capsys)
    assert not (tmp_path / "r").exists()


def test_an_unusable_run_dir_or_out_is_one_line(finished, tmp_path, capsys):
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    argv = ["--env", WALK, "--steps", "64", *TINY_FLAGS]
    assert "is a file, not a folder" in one_line_error(train_main, [*argv, "--run-dir", str(occupied)], capsys)
    line = one_line_error(train_main, [*argv, "--run-dir", str(occupied / "run")], capsys)
    assert line.startswith("train.py: error: cannot use") and "a-file" in line
    line = one_line_error(analyse.main, [str(finished), "--out", str(occupied / "out")], capsys)
    assert line.startswith("neuromotor analyse: error: cannot use") and "a-file" in line


def test_a_failed_warm_start_leaves_nothing_that_blocks_the_rerun(run, tmp_path, capsys):
    truncate(run / "vecnormalize.pkl")
    target = tmp_path / "warm"
    argv = ["--env", WALK, "--steps", "64", *TINY_FLAGS, "--set", f"init_from={run}", "--run-dir", str(target)]
    first = one_line_error(train_main, argv, capsys)
    assert "not a readable vecnormalize file" in first and not target.exists()
    # The same command fails the same way, not with "already holds a run".
    assert one_line_error(train_main, argv, capsys) == first


def test_atomic_writes_keep_the_old_file_when_interrupted(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_open(path) as f:
        f.write("half of the new")
        raise KeyboardInterrupt
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_resume_skips_a_checkpoint_truncated_by_a_kill(run, capsys):
    # As if killed while writing the newest checkpoint, before the run finished.
    for name in ("model.zip", "vecnormalize.pkl", "summary.json"):
        (run / name).unlink()
    assert checkpoint_steps(run) == [64, 128, 192, 256]
    truncate(run / "checkpoints" / "ckpt_256_steps.zip")
    logged = []
    assert resume_point(run, normalize=True, log=logged.append).steps == 192
    assert logged == [
        "resume: skipping the checkpoint of 256 steps: ckpt_256_steps.zip is damaged or not a model archive "
        "(it lacks data, policy.pth)"
    ]
    assert train_main(["--resume", str(run)]) == 0
    assert "resume: skipping the checkpoint of 256 steps" in capsys.readouterr().out
    assert read_summary(run)["steps"] == 256 and load_model(find_brain(str(run))).num_timesteps == 256


def test_a_finished_run_trains_on_to_more_steps(run, capsys):
    with pytest.raises(SystemExit):
        train_main(["--resume", str(run)])  # already at its 256 steps: it needs a larger --steps
    assert "already reached 256 of 256 steps" in capsys.readouterr().err
    shutil.rmtree(run / "checkpoints")  # the final model alone is enough
    assert train_main(["--resume", str(run), "--steps", "384", "--checkpoint-freq", "0"]) == 0
    assert read_summary(run)["steps"] == 384
    assert load_model(find_brain(str(run))).num_timesteps == 384
    assert load_run_config(run).total_steps == 384
    assert (run / "command.txt").read_text().count("--resume") == 1


def test_the_script_exits_2_with_one_line_and_no_traceback(run):
    (run / "vecnormalize.pkl").write_bytes(b"garbage")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "evaluate.py"), str(run), "--episodes", "1"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "vecnormalize.pkl" in result.stderr


def test_sweeps_without_ray_name_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: importing it fails
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"env: {WALK}\nseeds: [0]\nsteps: 64\nsettings: {{n_envs: 2, n_steps: 32, batch_size: 32}}\n")
    line = one_line_error(train_main, ["--sweep", str(sweep), "--run-dir", str(tmp_path / "out")], capsys)
    assert 'sweeps need Ray Tune, which is not installed: pip install "neuromotor[sweeps]"' in line


def test_a_model_saved_when_the_policy_lived_elsewhere_still_loads(finished, tmp_path, monkeypatch):
    # A policy class importable at save time from a module that is gone at load time (as agents.policies is).
    legacy = types.ModuleType("legacy_policies")
    moved = type("FastRecurrentActorCriticPolicy", (FastRecurrentActorCriticPolicy,), {"__module__": "legacy_policies"})
    legacy.FastRecurrentActorCriticPolicy = moved
    monkeypatch.setitem(sys.modules, "legacy_policies", legacy)
    model = load_model(find_brain(str(finished)))
    model.policy_class = moved
    model.save(tmp_path / "old.zip")
    monkeypatch.delitem(sys.modules, "legacy_policies")
    with pytest.raises(Exception, match="legacy_policies"):
        RecurrentPPO.load(tmp_path / "old.zip")
    loaded = load_algorithm(tmp_path / "old.zip", "rppo")
    assert type(loaded.policy) is FastRecurrentActorCriticPolicy
    # Saved from a brain loaded to act (no optimizer), it still carries the optimizer's state for training.
    assert loaded.policy.optimizer.state_dict()["state"]


def test_resume_skips_a_checkpoint_whose_statistics_are_truncated(run):
    for name in ("model.zip", "vecnormalize.pkl", "summary.json"):
        (run / name).unlink()
    truncate(run / "checkpoints" / "ckpt_vecnormalize_256_steps.pkl")
    logged = []
    assert resume_point(run, normalize=True, log=logged.append).steps == 192
    assert logged == [
        "resume: skipping the checkpoint of 256 steps: ckpt_vecnormalize_256_steps.pkl is missing or unreadable"
    ]


def test_a_failed_start_in_an_existing_folder_keeps_what_was_there(run, tmp_path, capsys):
    truncate(run / "vecnormalize.pkl")
    target = tmp_path / "mine"
    (target / "tb").mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    argv = ["--env", WALK, "--steps", "64", *TINY_FLAGS, "--set", f"init_from={run}", "--run-dir", str(target)]
    assert "not a readable vecnormalize file" in one_line_error(train_main, argv, capsys)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "tb"]


def test_a_bad_base_env_setting_or_recording_is_one_line(finished, tmp_path, capsys):
    argv = ["--env", WALK, "--run-dir", str(tmp_path / "r"), *TINY_FLAGS, "--set", "env_kwargs.reset_noise_scale=abc"]
    assert "with env_kwargs {'reset_noise_scale': 'abc'}" in one_line_error(train_main, argv, capsys)
    assert not (tmp_path / "r").exists()
    recording = tmp_path / "rec.npz"
    assert evaluate_main([str(finished), "--episodes", "1", "--steps", "20", "--record", str(recording)]) == 0
    capsys.readouterr()
    truncate(recording)
    line = one_line_error(analyse.main, [str(recording), "--out", str(tmp_path / "o")], capsys)
    assert "cannot read recording" in line
