"""Bad input to the commands that write runs (train, resume, distill): exit 2, one line, nothing written or changed;
and the faults a long run must survive: SIGTERM, two writers, a damaged time.json, a kill mid-write."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from badinput import case, refuse
from conftest import TINY, TINY_FLAGS, WALK

from agents.brains.store import find_brain, load_model
from agents.cli import distill
from agents.cli.train import train_main
from agents.config import resolve_config
from agents.runs import (
    LOCK_FILE,
    RunError,
    Terminated,
    checkpoint_steps,
    own_run,
    read_summary,
    record_seconds,
    seconds_at,
    training_seconds,
)
from agents.training import trainer
from agents.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
NEW = ["--env", WALK, "--run-dir", "{tmp}/new", *TINY_FLAGS]
NEW_CLOCK = ["--env", "neuromotor/Walker2d-Clock-v4", "--run-dir", "{tmp}/new", *TINY_FLAGS]
TEACH = ["--env", "neuromotor/Walker2d-Clock-v4", "--iterations", "1", "--steps-per-iteration", "8", "--n-envs", "1"]


TRAIN_CASES = [
    case("clip-range-overflows", [*NEW, "--set", "clip_range=1e400"], "clip_range must be a finite number, got inf"),
    case("max-grad-norm-nan", [*NEW, "--set", "max_grad_norm=nan"], "max_grad_norm must be a finite number, got nan"),
    case("init-min-log-std-nan", [*NEW, "--set", "init_min_log_std=nan"], "init_min_log_std must be a finite number"),
    case("lstm-size-negative", [*NEW, "--set", "policy.lstm_hidden_size=-3"], "policy.lstm_hidden_size must be >= 1"),
    case("net-arch-negative", [*NEW, "--set", "policy.net_arch=[-1]"], "policy.net_arch must be a list of layer sizes"),
    case("net-arch-unknown-part", [*NEW, "--set", "policy.net_arch={pi: [8], q: [8]}"], "takes the keys pi and vf"),
    case("threads-negative", [*NEW, "--threads", "-1"], "threads must be >= 0, got -1"),
    case("target-kl-zero", [*NEW, "--set", "target_kl=0"], "target_kl must be > 0"),
    case(
        "schedule-past-the-episode",
        [*NEW_CLOCK, "--set", "env_kwargs.schedule=walk:1.0@0,jump@5000"],
        "jump@5000 is due at step 5000, past the episode's last step 1000",
    ),
    case(
        "two-teachers-one-gait",
        [*NEW, "--set", "kickstart={teachers: {walk: walker2d-walk, walk: walker2d-gait}}"],
        "the key 'walk' is given twice in one mapping",
    ),
    case("rerun-into-a-run", ["--env", WALK, "--run-dir", "{run}", *TINY_FLAGS], "already holds a run; use --resume"),
    case("resume-a-model-file", ["--resume", "{run}/model.zip"], "model.zip' is a file, not a run directory", "walk"),
    case("resume-a-missing-dir", ["--resume", "{tmp}/nowhere"], "run directory", "does not exist"),
]


@pytest.mark.parametrize("bad", TRAIN_CASES)
def test_train_refuses_bad_input_before_any_work(bad, run, tmp_path, capsys):
    refuse(train_main, bad.args(tmp=tmp_path, run=run), capsys, says=bad.says, watch=[tmp_path])


DISTILL_CASES = [
    case("into-a-training-run", ["{run}", *TEACH, "--teacher", "walk=walker2d-walk"], "already holds a run"),
    case(
        "two-teachers-one-gait",
        ["{tmp}/student", *TEACH, "--teacher", "walk=walker2d-walk", "--teacher", "walk=walker2d-gait"],
        "--teacher names two teachers for 'walk'",
    ),
]


@pytest.mark.parametrize("bad", DISTILL_CASES)
def test_distill_refuses_bad_input_before_any_work(bad, run, tmp_path, capsys):
    refuse(distill.main, bad.args(tmp=tmp_path, run=run), capsys, says=bad.says, watch=[tmp_path])


def test_a_sweep_refuses_a_folder_that_holds_a_training_run(run, tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"env: {WALK}\nseeds: [0]\nsteps: 64\n")
    argv = ["--sweep", str(sweep), "--run-dir", str(run)]
    refuse(train_main, argv, capsys, says=["holds a training run, not a sweep"], watch=[run])


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigterm_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    run = tmp_path / "long"
    process = _start(["--env", WALK, "--steps", "1000000", "--checkpoint-freq", "0", "--run-dir", str(run),
                      *TINY_FLAGS])  # fmt: skip
    _wait_for(run / "tb", process)  # SB3 makes its log folder as learning starts
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "interrupted at step" in out
    (steps,) = checkpoint_steps(run)
    assert steps > 0 and training_seconds(run) > 0
    assert train_main(["--resume", str(run), "--steps", str(steps + 64)]) == 0
    assert read_summary(run)["steps"] == steps + 64


def test_a_kill_loses_the_work_since_the_last_checkpoint_and_not_its_time(tmp_path):
    """SIGKILL (no handler runs): the resume counts the time recorded with the checkpoint it starts from, so the
    total is the time of a run from a clean start, without the lost work, and without losing the earlier time."""
    run = tmp_path / "killed"
    process = _start(["--env", WALK, "--steps", "1000000", "--checkpoint-freq", "128", "--run-dir", str(run),
                      *TINY_FLAGS])  # fmt: skip
    deadline = time.monotonic() + 120
    while len(checkpoint_steps(run)) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.kill()
    process.communicate(timeout=60)
    at_checkpoint = json.loads((run / "time.json").read_text())["at_steps"]
    last = max(checkpoint_steps(run))
    assert at_checkpoint[str(last)] > 0
    assert train_main(["--resume", str(run), "--steps", str(last + 64)]) == 0
    summary = read_summary(run)
    assert summary["steps"] == last + 64
    assert summary["seconds_total"] == pytest.approx(at_checkpoint[str(last)] + summary["seconds"], abs=0.2)


def test_time_marks_of_checkpoints(tmp_path):
    record_seconds(tmp_path, 10.0, 100)
    record_seconds(tmp_path, 20.0, 200)
    record_seconds(tmp_path, 26.0)  # a Ctrl-C between checkpoints: the total, no mark
    assert (seconds_at(tmp_path, 100), seconds_at(tmp_path, 200), training_seconds(tmp_path)) == (10.0, 20.0, 26.0)
    assert seconds_at(tmp_path, 0) == 0.0 and seconds_at(tmp_path, 150) == 26.0  # unmarked: the total
    record_seconds(tmp_path, 15.0, 150)  # resumed from before 200: that mark belonged to discarded work
    assert seconds_at(tmp_path, 200) == 15.0 and seconds_at(tmp_path, 100) == 10.0
    for marks in ('{"x": 1}', '{"100": -1}', '{"100": NaN}', "[1]"):
        (tmp_path / "time.json").write_text(f'{{"training_seconds": 5, "at_steps": {marks}}}')
        with pytest.raises(RunError, match=r"time\.json is damaged"):
            seconds_at(tmp_path, 100)


def test_sigterm_before_training_leaves_nothing(tmp_path, monkeypatch):
    def stopped(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the envs are being made
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr(trainer, "training_env", stopped)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        train(resolve_config(WALK, "rppo", TINY), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
    assert signal.getsignal(signal.SIGTERM) is handler  # SIGTERM is taken over only while a run trains


def test_a_folder_with_only_a_config_resumes_from_zero_or_is_run_into(finished, tmp_path, capsys):
    for how in ("resume", "rerun"):
        run = tmp_path / how
        run.mkdir()
        shutil.copy(finished / "config.yaml", run / "config.yaml")
        (run / "time.json").write_text('{"training_seconds": 99.0}')  # stale: no training reached a checkpoint
        argv = ["--resume", str(run)] if how == "resume" else ["--env", WALK, "--run-dir", str(run), *TINY_FLAGS]
        assert train_main([*argv, "--steps", "128"]) == 0
        assert read_summary(run)["steps"] == 128 and training_seconds(run) < 99
    assert "has no checkpoint yet; training starts from step 0" in capsys.readouterr().out


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "busy"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sys, time\nfrom agents.runs import own_run\nwith own_run({str(run)!r}):\n"
                               f"    print('held', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["--env", WALK, "--run-dir", str(run), "--steps", "64", *TINY_FLAGS]
        refuse(train_main, argv, capsys, says=[f"being written by another process (pid {holder.pid})"], watch=[run])
        student = ["--teacher", "walk=walker2d-walk", *TEACH]
        refuse(distill.main, [str(run), *student], capsys, says=[f"(pid {holder.pid})"], watch=[run])
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone its lock goes with it: the folder is free.
    assert train_main(["--env", WALK, "--run-dir", str(run), "--steps", "64", *TINY_FLAGS]) == 0


def test_ownership_is_reentrant_within_a_process(tmp_path):
    with own_run(tmp_path / "r"), own_run(tmp_path / "r"):
        assert (tmp_path / "r" / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_resume_over_a_damaged_time_json_trains_and_counts_anew(run, capsys):
    (run / "time.json").write_text("{not json")
    assert train_main(["--resume", str(run), "--steps", "384"]) == 0
    out = capsys.readouterr().out
    assert "time.json is damaged" in out and "moved to time.damaged.json" in out
    assert (run / "time.damaged.json").read_text() == "{not json"
    assert read_summary(run)["steps"] == 384 and load_model(find_brain(str(run))).num_timesteps == 384
    assert 0 < training_seconds(run) == read_summary(run)["seconds_total"]


def test_a_resume_removes_what_a_kill_mid_write_left(run):
    left = [run / "checkpoints" / ".ckpt_320_steps.zip.4242.partial", run / ".model.4242.partial.zip"]
    for path in left:
        path.write_bytes(b"half a file")
    assert train_main(["--resume", str(run), "--steps", "320"]) == 0
    assert not any(path.exists() for path in left)
    assert not list(run.rglob("*.partial*"))
