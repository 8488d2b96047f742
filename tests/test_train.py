"""train.py end to end in subprocesses with tiny budgets, plus the config and preset machinery."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch as th
import yaml
from conftest import call_cli
from sb3_contrib import RecurrentPPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from agents.cli.train import train_main
from agents.config import ConfigError, TrainConfig, load_presets, parse_override, preset_settings, resolve_config
from agents.runs import latest_checkpoint
from agents.training.callbacks import Timer
from agents.training.trainer import check_env_config, train

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--n-envs", "2",
    "--set", "n_steps=64", "--set", "batch_size=64", "--set", "n_epochs=2",
    "--set", "policy.lstm_hidden_size=16",
    "--set", "env_kwargs.obs=proprio",
]  # fmt: skip


def run_train(*args, timeout=300, **kwargs):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kwargs,
    )  # fmt: skip


def tb_scalars(run_dir: Path) -> dict:
    events = EventAccumulator(str(next((run_dir / "tb").iterdir())))
    events.Reload()
    return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "walk"
    args = ["--env", "neuromotor/Walker2d-Walk-v1", "--steps", "768", "--run-dir", str(run_dir)]
    result = run_train(*args, *TINY, "--eval-freq", "256", "--checkpoint-freq", "256", "--set", "eval_episodes=1")
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_train_writes_the_run_directory(finished_run):
    run_dir, result = finished_run
    for name in ("model.zip", "vecnormalize.pkl", "config.yaml", "command.txt", "summary.json"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "best" / "model.zip").is_file() and (run_dir / "best" / "vecnormalize.pkl").is_file()
    assert latest_checkpoint(run_dir).steps == 768
    assert latest_checkpoint(run_dir).vecnormalize.is_file()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["env_id"] == "neuromotor/Walker2d-Walk-v1"
    assert config["env_kwargs"] == {"obs": "proprio"}
    assert config["policy"]["lstm_hidden_size"] == 16
    assert "--run-dir" in (run_dir / "command.txt").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 768
    assert result.stdout.strip().splitlines()[-1].startswith("done: neuromotor/Walker2d-Walk-v1 rppo seed 0: 768 steps")
    scalars = tb_scalars(run_dir)
    for tag in ("reward/speed", "reward/upright", "reward/symmetry", "gait/forward_velocity", "rollout/ep_rew_mean"):
        assert tag in scalars, tag
    # The saved brain is a plain RecurrentPPO model with our policy, and senses what the config says.
    model = RecurrentPPO.load(run_dir / "model.zip", device="cpu")
    assert model.policy.lstm_actor.hidden_size == 16
    assert model.observation_space.shape == (8 + 2 + 1,)  # joint positions, feet, command


def test_resume_continues_the_step_counter(finished_run, tmp_path):
    run_dir, _ = finished_run
    first = json.loads((run_dir / "summary.json").read_text())
    assert first["seconds_total"] == first["seconds"] > 0
    result = run_train("--resume", str(run_dir), "--steps", "1024")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 1024
    # Wall-clock time adds up over the segments of a resumed run.
    assert summary["seconds_total"] == pytest.approx(first["seconds"] + summary["seconds"], abs=0.15)
    assert latest_checkpoint(run_dir).steps == 1024
    assert len((run_dir / "command.txt").read_text().splitlines()) == 2
    # One TensorBoard run whose steps carry on past the first run's last step.
    assert len(list((run_dir / "tb").iterdir())) == 1
    assert max(tb_scalars(run_dir)["rollout/ep_rew_mean"]) > 768
    evaluations = np.load(run_dir / "eval" / "evaluations.npz")["timesteps"]
    assert evaluations[0] == 256 and evaluations[-1] == 1024
    again = call_cli(train_main, "--resume", str(run_dir))
    assert again.returncode == 2
    assert "already reached 1024 of 1024 steps" in again.stderr


def test_sigint_leaves_a_resumable_checkpoint(tmp_path):
    run_dir = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    args = ["--env", "neuromotor/Hopper-Jump-v3", "--steps", "1000000", "--run-dir", str(run_dir), *TINY]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, "--eval-freq", "0", "--checkpoint-freq", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((run_dir / "tb").glob("*/events.*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.vecnormalize.is_file()
    assert f"interrupted at step {checkpoint.steps}" in out
    resumed = run_train("--resume", str(run_dir), "--steps", str(checkpoint.steps + 128))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "summary.json").read_text())["steps"] >= checkpoint.steps + 128


def test_module_env_id_and_subprocess_envs(tmp_path):
    run_dir = tmp_path / "plugin"
    result = run_train(
        "--env", "plugin_env:neuromotor/PluginBiped-Jump-v3", "--steps", "256", "--run-dir", str(run_dir),
        "--vec-env", "subproc", "--eval-freq", "0", *TINY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (run_dir / "model.zip").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "neuromotor/Walker-Walk-v1"], "unknown env id 'neuromotor/Walker-Walk-v1'; closest: "),
        (["--env", "neuromotor/Walker2d-Walk-v1", "--set", "lstm=3"], "unknown setting 'lstm' in --set; valid: "),
        (["--env", "neuromotor/Walker2d-Walk-v1", "--set", "n_steps"], "--set expects key=value, got 'n_steps'"),
        (["--env", "neuromotor/Walker2d-Walk-v1", "--algo", "sac"], "algo='sac' is not valid; choose from: rppo"),
        (["--resume", "/nonexistent/run"], "run directory '/nonexistent/run' does not exist"),
        (["--resume", "tests"], "'tests' is not a run directory: it has no config.yaml"),
        (["--env", "neuromotor/Walker2d-Walk-v1", "--set", "env_kwargs.sped=1"], "unknown keyword argument(s) 'sped'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    # The first case runs as a user runs it, in a process of its own; the rest in this one, for speed.
    result = run_train(*args, timeout=120) if "Walker-Walk" in args[1] else call_cli(train_main, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("train.py: error: ") and message in lines[0]


@pytest.mark.parametrize("vec_env", ["dummy", "subproc"], ids=["in_process", "worker_processes"])
def test_same_seed_same_learning_curve(tmp_path, vec_env):
    """Two runs of one seed (and a fixed thread count) learn the same weights and evaluations, and so do envs stepped
    in worker processes."""

    def run(name, vec):
        config = resolve_config(
            "neuromotor/Hopper-Walk-v1",
            "rppo",
            {"total_steps": 384, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2, "vec_env": vec,
             "policy.lstm_hidden_size": 8, "eval_freq": 128, "eval_episodes": 1, "checkpoint_freq": 0,
             "threads": 1},
        )  # fmt: skip
        train(config, tmp_path / name)
        return RecurrentPPO.load(tmp_path / name / "model.zip", device="cpu"), tmp_path / name

    (a, dir_a), (b, dir_b) = run("a", "dummy"), run("b", vec_env)
    for (name, pa), pb in zip(a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True):
        assert th.equal(pa, pb), name
    np.testing.assert_array_equal(
        np.load(dir_a / "eval" / "evaluations.npz")["results"], np.load(dir_b / "eval" / "evaluations.npz")["results"]
    )


def test_every_env_has_a_valid_preset():
    for env_id in envs.env_ids():
        for algo in ("rppo", "ppo"):
            config = resolve_config(env_id, algo)
            assert config.normalize, f"VecNormalize should be on for {env_id}"
    assert not resolve_config("CartPole-v1", "ppo").normalize
    assert resolve_config("Walker2d-v5", "rppo").normalize


def test_presets_match_families_then_single_envs():
    presets = {
        "*": {"n_envs": 1},
        "neuromotor/*": {"n_envs": 4, "rppo": {"policy": {"lstm_hidden_size": 32}}},
        "neuromotor/Ant-*": {"rppo": {"n_envs": 16}},
    }
    assert preset_settings("neuromotor/Ant-Walk-v1", "rppo", presets) == {
        "n_envs": 16,
        "policy.lstm_hidden_size": 32,
    }
    assert preset_settings("neuromotor/Ant-Walk-v1", "ppo", presets) == {"n_envs": 4}
    assert preset_settings("Hopper-v5", "rppo", presets) == {"n_envs": 1}


def test_a_saved_config_may_hold_a_retired_setting_at_its_old_default_only():
    saved = TrainConfig(env_id="neuromotor/Walker2d-Walk-v1").to_dict()
    assert TrainConfig.from_dict({**saved, "lead_in": {}}).to_dict() == saved
    with pytest.raises(ConfigError, match=re.escape("unknown setting 'lead_in' in config.yaml; valid: env_id, algo")):
        TrainConfig.from_dict({**saved, "lead_in": {"gait": "jump"}}, "config.yaml")
    with pytest.raises(ConfigError, match="unknown setting 'lead_in'"):  # asked for, not read from an old run
        resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", {"lead_in": {}})


def test_preset_keys_are_validated():
    with pytest.raises(ConfigError, match="unknown setting 'n_env' in presets; valid: env_id, algo"):
        resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", presets={"*": {"n_env": 3}})
    with pytest.raises(ConfigError, match="unknown policy setting 'hidden' for algo 'rppo'"):
        resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", presets={"*": {"policy": {"hidden": 3}}})
    for pattern, entry in load_presets().items():
        assert isinstance(pattern, str) and isinstance(entry, dict)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_envs=4", ("n_envs", 4)),
        ("learning_rate=1e-4", ("learning_rate", 1e-4)),
        ("policy.net_arch=[32, 32]", ("policy.net_arch", [32, 32])),
        ("target_kl=null", ("target_kl", None)),
        ("env_kwargs.obs=proprio", ("env_kwargs.obs", "proprio")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_envs": "four"}, "n_envs must be int, got 'four'"),
        ({"n_envs": 2.5}, "n_envs must be int, got 2.5"),
        ({"normalize": 1}, "normalize must be bool, got 1"),
        ({"gamma": 1.5}, "gamma must be in (0, 1], got 1.5"),
        ({"vec_env": "ray"}, "vec_env='ray' is not valid; choose from: dummy, subproc"),
        ({"policy.activation_fn": "sigmoid"}, "policy.activation_fn='sigmoid' is not valid; choose from: tanh"),
        ({"seed.x": 1}, "'seed' has no sub-settings"),
        ({"policy.cell": "lstmx"}, "policy.cell='lstmx' is not valid; choose from: lstm, gru, rnn"),
        ({"policy.cell": "gru", "policy.leak": 0.5}, "policy.leak is a setting of policy.cell=rnn, not of gru"),
        ({"policy.cell": "rnn", "policy.leak": 0}, "policy.leak must be in (0, 1], got 0"),
        ({"policy.cell": "rnn", "policy.leak": "fast"}, "policy.leak must be float, got 'fast'"),
    ],
)
def test_bad_settings(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", overrides)


def test_config_round_trips_through_yaml():
    config = resolve_config("neuromotor/Walker2d-Jump-v3", "rppo", {"env_kwargs.obs_delay": 2})
    again = TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config


def test_curriculum_trains_each_stage_in_its_own_env(tmp_path):
    run_dir = tmp_path / "gait"
    overrides = {
        "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy.lstm_hidden_size": 16,
        "total_steps": 512, "eval_freq": 0, "checkpoint_freq": 0,
        "env_kwargs": {"switch_interval": [0.05, 0.1]},
        "curriculum": [{"until": 256, "env_kwargs": {"gaits": ["walk"]}, "learning_rate": 1e-3}],
        "learning_rate": 2e-4,
    }  # fmt: skip
    config = resolve_config("neuromotor/Walker2d-Gait-v2", "rppo", overrides)
    assert [(s["until"], s["env_kwargs"]) for s in config.stage_plan()] == [
        (256, {"switch_interval": [0.05, 0.1], "gaits": ["walk"]}),
        (512, {"switch_interval": [0.05, 0.1]}),
    ]
    summary = train(config, run_dir, progress=False)
    assert summary["steps"] == 512
    # The stage boundary left a checkpoint (none other is asked for), and the next stage went on from it.
    assert latest_checkpoint(run_dir).steps == 256
    # time.json marks the time of the boundary's checkpoint and of the final model, the total being the last.
    marks = json.loads((run_dir / "time.json").read_text())
    assert list(marks["at_steps"]) == ["256", "512"] and 0 < marks["at_steps"]["256"] <= marks["at_steps"]["512"]
    assert marks["training_seconds"] == marks["at_steps"]["512"] == summary["seconds_total"]
    events = EventAccumulator(str(next((run_dir / "tb").iterdir())))
    events.Reload()
    jump_paid = {e.step: e.value for e in events.Scalars("reward/jump_upright")}
    walk_paid = {e.step: e.value for e in events.Scalars("reward/walk_upright")}
    # Walk-only commands until step 256 (no jump term paid), then both gaits (switching every few steps).
    assert sorted(jump_paid) == [128, 256, 384, 512]
    assert jump_paid[128] == jump_paid[256] == 0 and walk_paid[256] > 0
    assert jump_paid[384] > 0 and jump_paid[512] > 0
    # The first stage trained at its own learning rate, the last at the run's.
    rates = {e.step: e.value for e in events.Scalars("train/learning_rate")}
    assert rates[256] == pytest.approx(1e-3) and rates[512] == pytest.approx(2e-4)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["curriculum"] == overrides["curriculum"]


def test_timer_stops_at_the_end_of_training():
    """A curriculum runs one ``learn`` per stage with its own timer; a stage's time must stop at its end, or the
    run's total counts the earlier stages once more for every later one."""
    timer = Timer()
    timer.model = type("Model", (), {"num_timesteps": 100})()
    assert timer.rate() == (0.0, 0.0)
    timer.on_training_start({}, {})
    time.sleep(0.05)
    timer.model.num_timesteps = 300
    timer.on_training_end()
    seconds, rate = timer.rate()
    time.sleep(0.05)
    timer.model.num_timesteps = 900  # the next stage's model steps on; this timer's stage is over
    assert timer.rate() == (seconds, rate)
    assert 0.05 <= seconds < 1.0 and rate == pytest.approx(200 / seconds)


def test_ctrl_c_between_stages_keeps_the_finished_stages_time(tmp_path, monkeypatch):
    """A Ctrl-C while the stage-end checkpoint is written (between two ``learn`` calls) still adds the first stage's
    training time to ``time.json``."""
    import agents.training.trainer as trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", interrupted)
    overrides = {
        "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy.lstm_hidden_size": 16,
        "total_steps": 256, "eval_freq": 0, "checkpoint_freq": 0,
        "curriculum": [{"until": 128, "env_kwargs": {"gaits": ["walk"]}}],
    }  # fmt: skip
    config = resolve_config("neuromotor/Walker2d-Gait-v2", "rppo", overrides)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "time.json").read_text())["training_seconds"] > 0


@pytest.mark.parametrize(
    ("curriculum", "message"),
    [
        ([{"until": 100}], "curriculum[0] must be a mapping with until and env_kwargs (and optionally learning_rate)"),
        ([{"until": 500, "env_kwargs": {}, "lr": 1e-4}], "curriculum[0] must be a mapping with until and env_kwargs"),
        ([{"until": 500, "env_kwargs": {}, "learning_rate": 0}], "curriculum[0].learning_rate must be a number > 0"),
        ([{"until": 2000, "env_kwargs": {}}], "curriculum[0].until must be a whole number of steps above the stage"),
        (
            [{"until": 500, "env_kwargs": {}}, {"until": 400, "env_kwargs": {}}],
            "curriculum[1].until must be a whole number of steps above the stage before (500)",
        ),
        ([{"until": 500, "env_kwargs": "walk"}], "curriculum[0].env_kwargs must be a mapping, got 'walk'"),
        ("walk", "curriculum must be list, got 'walk'"),
        (
            [{"until": 900, "env_kwargs": {}}],
            "the stage ending at 1000 steps is shorter than a rollout (n_steps x n_envs = 128 steps)",
        ),
    ],
)
def test_bad_curriculum(curriculum, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        overrides = {"total_steps": 1000, "n_steps": 64, "n_envs": 2, "batch_size": 64, "curriculum": curriculum}
        resolve_config("neuromotor/Walker2d-Gait-v2", "rppo", overrides)


def test_bad_curriculum_env_kwargs_are_caught_before_training():
    config = resolve_config(
        "neuromotor/Walker2d-Gait-v2", "rppo", {"curriculum": [{"until": 100000, "env_kwargs": {"gaits": ["run"]}}]}
    )
    with pytest.raises(ConfigError, match=re.escape("gaits must be some of walk, jump, got ('run',)")):
        check_env_config(config)
    config.curriculum = [{"until": 100000, "env_kwargs": {"obs": "proprio"}}]
    with pytest.raises(ConfigError, match="every stage's env must observe and act alike"):
        check_env_config(config)


def test_a_resume_does_not_need_its_warm_start_source(tmp_path):
    run_dir = tmp_path / "warm"
    args = ["--env", "neuromotor/Walker2d-Walk-v1", "--steps", "128", "--run-dir", str(run_dir), *TINY]
    # In this process, for speed: the other tests run train.py as a process of its own.
    assert call_cli(train_main, *args, "--eval-freq", "0", "--checkpoint-freq", "128").returncode == 0
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    (run_dir / "config.yaml").write_text(yaml.safe_dump({**config, "init_from": str(tmp_path / "gone")}))
    resumed = call_cli(train_main, "--resume", str(run_dir), "--steps", "256")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 256
    # A new run from the same settings needs the source, and says so in one line.
    fresh = call_cli(train_main, *args, "--set", f"init_from={tmp_path / 'gone'}", "--run-dir", str(tmp_path / "new"))
    assert fresh.returncode == 2 and "init_from:" in fresh.stderr and "Traceback" not in fresh.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"init_critic_steps": 100}, "init_critic_steps applies to a warm start: set init_from too"),
        ({"init_critic_steps": -1, "init_from": "walker2d-walk"}, "init_critic_steps must be >= 0, got -1"),
    ],
)
def test_bad_critic_warmup(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", overrides)


def test_critic_warmup_trains_the_value_function_only_until_its_step(tmp_path):
    settings = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 2, "policy.lstm_hidden_size": 8,
                "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    source = tmp_path / "source"
    config = resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", {**settings, "total_steps": 64})
    train(config, source, progress=False)
    before = RecurrentPPO.load(source / "model.zip").policy.state_dict()

    def changed(run: Path, steps: int, warmup: int) -> set[str]:
        overrides = {**settings, "total_steps": steps, "init_from": str(source), "init_critic_steps": warmup}
        train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", overrides), run, progress=False)
        after = RecurrentPPO.load(run / "model.zip").policy.state_dict()
        return {k.split(".")[0] for k, v in after.items() if not th.equal(v, before[k])}

    # Two rollouts of 64 steps inside the warm-up: only the critic's parts moved.
    assert changed(tmp_path / "frozen", 128, 128) == {"lstm_critic", "mlp_extractor", "value_net"}
    frozen = RecurrentPPO.load(tmp_path / "frozen" / "model.zip").policy
    for name, value in frozen.mlp_extractor.policy_net.state_dict().items():
        assert th.equal(value, before[f"mlp_extractor.policy_net.{name}"])
    # A warm-up of one rollout: the second rollout trains the policy too.
    assert {"lstm_actor", "action_net", "log_std"} <= changed(tmp_path / "thawed", 128, 64)
