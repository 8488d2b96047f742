"""Sweeps on a local Ray: tiny budgets, a failing trial, resume, reports, presets and bad sweep files."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import call_cli

from agents.cli.evaluate import evaluate_main
from agents.cli.train import train_main
from agents.config import ConfigError, load_presets
from agents.runs import Terminated
from agents.sweeps import report, runner, spec

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "steps": 128,
    "episodes": 1,
    "settings": {
        "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "eval_freq": 64, "eval_episodes": 1,
        "checkpoint_freq": 64, "policy.lstm_hidden_size": 8, "env_kwargs.obs": "proprio",
    },
}  # fmt: skip


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """A two-trial sweep (two learning rates, one seed), run once for the tests below."""
    tmp = tmp_path_factory.mktemp("sweep")
    file = write(tmp / "lr.yaml", {"env": "neuromotor/Walker2d-Walk-v1", "seeds": [3],
                                   "grid": {"learning_rate": [1.0e-4, 1.0e-3]}, **TINY})  # fmt: skip
    out = tmp / "out"
    code = train_main(["--sweep", str(file), "--run-dir", str(out), "--max-concurrent", "2"])
    return file, out, code


def test_two_trial_sweep_completes_and_aggregates(grid_sweep, capsys):
    _, out, code = grid_sweep
    assert code == 0
    trials = sorted(p.name for p in (out / "trials").iterdir())
    assert trials == ["set00-s3", "set01-s3"]
    for name in trials:
        run = out / "trials" / name
        # Each trial is a normal run directory that evaluate.py reads.
        assert {"model.zip", "vecnormalize.pkl", "config.yaml", "summary.json", "trial.json"} <= {
            p.name for p in run.iterdir()
        }
        assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 3
    lrs = [yaml.safe_load((out / "trials" / n / "config.yaml").read_text())["learning_rate"] for n in trials]
    assert lrs == [1.0e-4, 1.0e-3]
    report = json.loads((out / "report.json").read_text())
    assert set(report["settings"]) == {"learning_rate=0.0001", "learning_rate=0.001"}
    for label, name in zip(report["settings"], trials, strict=True):
        trial = json.loads((out / "trials" / name / "trial.json").read_text())
        assert report["settings"][label]["metrics"]["return"]["mean"] == pytest.approx(trial["metrics"]["return"])
        assert math.isnan(report["settings"][label]["metrics"]["return"]["ci95"])  # one seed: no interval
    best = max(report["settings"], key=lambda k: report["settings"][k]["metrics"]["return"]["mean"])
    assert report["best"] == best
    assert (out / "curves.png").stat().st_size > 0
    assert "| `learning_rate=0.0001`" in (out / "report.md").read_text()


def test_resume_skips_finished_trials(grid_sweep, capsys):
    file, out, _ = grid_sweep
    before = {p: p.stat().st_mtime_ns for p in (out / "trials").glob("*/model.zip")}
    assert train_main(["--sweep", str(file), "--run-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "trial set00-s3 already finished: skipped" in printed
    assert "trial set01-s3 already finished: skipped" in printed
    assert {p: p.stat().st_mtime_ns for p in (out / "trials").glob("*/model.zip")} == before


def test_evaluate_reports_a_sweep_and_writes_the_best_preset(grid_sweep, tmp_path, capsys):
    _, out, _ = grid_sweep
    presets = tmp_path / "presets.yaml"
    presets.write_text((ROOT / "agents" / "presets.yaml").read_text())
    assert evaluate_main([str(out), "--write-preset", str(presets)]) == 0
    assert "learning_rate" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    best_lr = report["settings"][report["best"]]["overrides"]["learning_rate"]
    entry = load_presets(presets)["neuromotor/Walker2d-Walk-v1"]
    assert entry == {"rppo": {"learning_rate": best_lr}}
    from agents.config import resolve_config

    assert resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", presets=load_presets(presets)).learning_rate == best_lr
    # Writing it again would shadow the first entry: refused with a one-line error.
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main([str(out), "--write-preset", str(presets)])
    assert exit_info.value.code == 2
    assert "already has an entry" in capsys.readouterr().err


def test_a_failing_trial_is_reported_and_the_other_finishes(tmp_path):
    file = write(tmp_path / "crash.yaml", {"env": "plugin_env:CrashingWalker-v0", "seeds": [0],
                                           "grid": {"env_kwargs.crash_after": [0, 40]}, **TINY})  # fmt: skip
    settings = dict(TINY["settings"])
    del settings["env_kwargs.obs"]  # the wrapper takes only crash_after
    write(file, {**yaml.safe_load(file.read_text()), "settings": settings})
    out = tmp_path / "out"
    # A process of its own, as a user runs it: what reaches the terminal is all of its output.
    done = subprocess.run(
        [sys.executable, "train.py", "--sweep", str(file), "--run-dir", str(out)], capture_output=True, text=True,
        timeout=600, cwd=ROOT, env={**os.environ, "MUJOCO_GL": "egl", "PYTHONPATH": str(ROOT / "tests")},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    printed = done.stdout
    assert "trial set01-s0 failed: RuntimeError: CrashAfter: crashed on purpose after 40 steps" in printed
    assert "1 failed and 0 unfinished of 2 trials: set01-s0" in printed
    # Ray's own tables and the trial's traceback go to the sweep's ray.log (and its error.txt), not the terminal.
    assert "Traceback" not in printed + done.stderr and "Configuration for experiment" not in printed
    assert "Traceback" in (out / runner.RAY_LOG).read_text()
    assert (out / "trials" / "set00-s0" / "trial.json").is_file()
    assert "crashed on purpose" in (out / "trials" / "set01-s0" / "error.txt").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["env_kwargs.crash_after=40"]["failed"] == ["set01-s0"]
    assert "| `env_kwargs.crash_after=40` | 0 (1 failed) |" in (out / "report.md").read_text()
    assert report["best"] == "env_kwargs.crash_after=0"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"seeds": [0]}, "`env`"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "grid": {"learning_rat": [1.0e-4]}}, "learning_rat"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "grid": {"learning_rate": 1.0e-4}}, "grid.learning_rate"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "seeds": [0, 0]}, "repeats"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "search": {"ent_coef": {"normal": [0, 1]}}}, "search.ent_coef"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "search": {"ent_coef": {"uniform": [0, 1]}}, "samples": 0}, "samples"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "algo": "sac"}, "algo"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "gird": {}}, "unknown key 'gird'"),
        ({"env": "neuromotor/Walker2d-Wlak-v1"}, "unknown env id"),
        ({"env": "neuromotor/Walker2d-Walk-v1", "grid": {"env_kwargs.speeed": [1.0]}}, "speeed"),
    ],
)
def test_bad_sweep_files_give_one_line_errors(tmp_path, data, message):
    file = write(tmp_path / "bad.yaml", data)
    argv = ["--sweep", str(file), "--run-dir", str(tmp_path / "out")]
    if "seeds" in data and "env" not in data:  # one case as a user runs it, in a process of its own
        result = subprocess.run([sys.executable, "train.py", *argv], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)  # fmt: skip
    else:  # the rest in this process, for speed
        result = call_cli(train_main, *argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_sweep_flags_conflict_and_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_main(["--sweep", str(tmp_path / "none.yaml")])
    assert "does not exist" in capsys.readouterr().err
    file = write(tmp_path / "s.yaml", {"env": "neuromotor/Walker2d-Walk-v1"})
    with pytest.raises(SystemExit):
        train_main(["--sweep", str(file), "--seed", "3"])
    assert "drop --seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_main(["--sweep", str(file), "--cpus-per-trial", "999", "--run-dir", str(tmp_path / "out")])
    assert "more than this machine's" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_random_search_draws_are_reproducible():
    data = {"env": "neuromotor/Walker2d-Walk-v1", "seeds": [0, 1], "samples": 3,
            "search": {"learning_rate": {"loguniform": [1.0e-5, 1.0e-3]}, "n_epochs": {"choice": [5, 10]}},
            "grid": {"gamma": [0.99, 0.995]}}  # fmt: skip
    first, again = spec.parse_sweep(data), spec.parse_sweep(data)
    assert [t.config for t in first.trials] == [t.config for t in again.trials]
    assert len(first.trials) == 2 * 3 * 2 and len(first.settings) == 6
    for trial in first.trials:
        assert 1.0e-5 <= trial.config["learning_rate"] <= 1.0e-3
        assert trial.config["n_epochs"] in (5, 10)
    # Seeds share a setting: the same draw for both.
    assert first.trials[0].overrides == first.trials[1].overrides
    assert first.trials[0].seed == 0 and first.trials[1].seed == 1


def test_confidence_interval_matches_student_t():
    mean, half = report.interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    assert math.isnan(report.interval([5.0])[1])


def test_a_sweep_directory_holding_another_sweep_is_refused(grid_sweep, tmp_path):
    file, out, _ = grid_sweep
    other = write(tmp_path / "other.yaml", {**yaml.safe_load(file.read_text()), "seeds": [4]})
    with pytest.raises(ConfigError, match="different sweep"):
        runner.run_sweep(spec.load_sweep(other), out)


def test_repeated_draws_run_once_and_labels_stay_unique():
    data = {"env": "neuromotor/Walker2d-Walk-v1", "samples": 6, "search": {"n_epochs": {"choice": [5, 10]}}}
    sweep = spec.parse_sweep(data)
    assert sorted(o["n_epochs"] for o in sweep.settings.values()) == [5, 10]
    close = {"env": "neuromotor/Walker2d-Walk-v1", "grid": {"learning_rate": [1.0e-4, 1.0000001e-4]}}
    assert len(spec.parse_sweep(close).settings) == 2


def test_the_same_sweep_with_keys_reordered_resumes(grid_sweep, tmp_path, capsys):
    file, out, _ = grid_sweep
    data = yaml.safe_load(file.read_text())
    reordered = tmp_path / "lr.yaml"  # same stem: same name
    reordered.write_text(yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False))
    assert train_main(["--sweep", str(reordered), "--run-dir", str(out)]) == 0
    assert "already finished: skipped" in capsys.readouterr().out


def test_a_trial_stopped_after_its_last_checkpoint_finishes_from_it(tmp_path):
    sweep = spec.parse_sweep({"env": "neuromotor/Walker2d-Walk-v1", "name": "t", **TINY})
    trial = sweep.trials[0]
    run_dir = spec.trial_dir(tmp_path, trial)
    trial_spec = {**dataclasses.asdict(trial), "run_dir": str(run_dir), "episodes": 1}
    runner.run_trial(trial_spec)
    # As if the process died between the last checkpoint (at total_steps) and saving the model.
    for name in ("model.zip", "vecnormalize.pkl", "summary.json", "trial.json"):
        (run_dir / name).unlink()
    result = runner.run_trial(trial_spec)
    assert result["training"]["finished_from_checkpoint"].endswith("ckpt_128_steps.zip")
    assert (run_dir / "model.zip").is_file() and (run_dir / "trial.json").is_file()


def _recipes_benchmark():
    import importlib.util

    loader = importlib.util.spec_from_file_location("recipes_benchmark", ROOT / "benchmarks" / "recipes.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_the_recipe_benchmark_prints_its_table(tmp_path, capsys):
    """``benchmarks/recipes.py`` trains a template on a seed through the sweep engine, judges the model on every
    test of the recipe, finds the first passing checkpoint (none, at this budget) and prints the table."""
    bench = _recipes_benchmark()
    tiny = ["n_envs=2", "n_steps=32", "batch_size=32", "n_epochs=1", "policy.lstm_hidden_size=8",
            "checkpoint_freq=64", "threads=1"]  # fmt: skip
    out = tmp_path / "table.md"
    argv = ["walk", "--body", "Walker2d", "--seeds", "0", "--steps", "128", "--episodes", "1", "--first-pass", "1",
            "--cpus-per-trial", "1", "--run-dir", str(tmp_path / "sweep"), "--out", str(out)]  # fmt: skip
    for setting in tiny:
        argv += ["--set", setting]
    assert bench.main(argv) == 0
    table = out.read_text()
    assert "| seed | meets definition | criteria passed | train min | steps | first pass (steps) |" in table
    assert "| 0 | no |" in table and "0 of 1 seeds meet the definition." in table
    # Its run never reached the walk's last stage, where stop_when is judged.
    assert "| 0 | not stopped (never reached the last stage) | | |" in table
    trial = json.loads((tmp_path / "sweep" / "trials" / "set00-s0" / "trial.json").read_text())
    assert len(trial["tests"]) == 2 and trial["passed"] is False and trial["first_pass_steps"] is None
    _, walk = bench.for_body("walk", "Walker2d")
    assert trial["training"]["stages"] == len(walk["settings"]["curriculum"]) + 1 > 1  # its command curriculum
    assert table in capsys.readouterr().out
    # --report prints the table of what is finished, training nothing.
    assert bench.main([*argv, "--report", "--seeds", "0", "1"]) == 0
    assert "| 1 | not finished |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--body", "Walker2d"], "'run' is neither a template (walk, jump, switch) nor a recipe"),
        (["walk"], "template 'walk' needs --body"),
        (["walker2d-walk", "--body", "Hopper"], "--body is for templates"),
        (["walker2d-gait"], "a recipe with a chain or distillation is not one run per seed"),
        (["walk", "--body", "Walker2d", "--out", "/no/such/folder/t.md"], "--out '/no/such/folder/t.md': its folder"),
        (["walk", "--body", "Walker2d", "--steps", "0"], "--steps must be >= 1, got 0"),
    ],
)
def test_the_recipe_benchmark_refuses_bad_input(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _recipes_benchmark().main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_the_cells_benchmark_reads_each_seeds_brain(tmp_path, capsys):
    """``benchmarks/cells.py``: the brain view of a finished seed (tuned units, forward-speed R^2), and the table of
    what is finished (nothing yet) without training."""
    import importlib.util

    from agents.config import resolve_config
    from agents.training.trainer import train

    loader = importlib.util.spec_from_file_location("cells_benchmark", ROOT / "benchmarks" / "cells.py")
    bench = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(bench)
    tiny = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "policy.lstm_hidden_size": 8,
            "policy.cell": "gru", "total_steps": 64, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Clock-v4", "rppo", tiny), tmp_path / "run", progress=False)
    view = bench.brain_view(tmp_path / "run", episodes=1)
    assert view["units"] == 8 and 0 <= view["tuned_units"] <= 8 and view["speed_r2"] <= 1
    argv = ["walk", "--body", "Walker2d", "--cells", "gru", "rnn", "--seeds", "0", "--run-dir", str(tmp_path / "c"),
            "--report", "--out", str(tmp_path / "t.md")]  # fmt: skip
    assert bench.main(argv) == 0
    assert (tmp_path / "t.md").read_text().splitlines()[2:] == ["| gru | 0 | not finished | | | | |",
                                                                 "| rnn | 0 | not finished | | | | |"]  # fmt: skip


def test_sigterm_stops_a_tune_run_as_ctrl_c_does_and_is_reported():
    # Tune's SIGINT handler stops the run gracefully; SIGTERM is sent to it instead of Ray's fatal-signal handler.
    calls, before = [], signal.getsignal(signal.SIGTERM)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with runner.sigterm_stops_tune() as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped == [True] and calls == [signal.SIGINT]
    # Without a handler of Tune's, it stops like a trainer does.
    with pytest.raises(Terminated), runner.sigterm_stops_tune():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) is before
