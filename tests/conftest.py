"""Shared fixtures: headless rendering, the plug-in test body, and pose helpers."""

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco
import numpy as np
import pytest

import envs

ASSETS = Path(__file__).parent / "assets"
TEST_BODY = "TestBiped"
BUILTIN = ("Walker2d", "Hopper", "HalfCheetah", "Ant", "Humanoid")


def register_test_body() -> list[str]:
    """Register the tests' own MJCF biped once per process and return its ids."""
    if TEST_BODY not in envs.BODIES:
        envs.register_body(
            TEST_BODY,
            xml_file=ASSETS / "biped.xml",
            torso="pelvis",
            feet=["foot_r", "foot_l"],
            foot_labels=["right", "left"],
            floor="ground",
            min_torso_height=0.4,
            max_torso_pitch=1.0,
        )
    return [envs.env_id(TEST_BODY, task) for task in envs.TASKS]


register_test_body()
ALL_IDS = envs.env_ids()


def move_root(env, dz: float = 0.0, pitch: float = 0.0) -> None:
    """Raise the root by ``dz`` and pitch it by ``pitch`` (rad, about +y), with zero velocity."""
    base = env.unwrapped.base
    model = base.model
    qpos = base.data.qpos.copy()
    root = model.body_rootid[env.unwrapped.body.torso_id]
    for j in range(model.body_jntadr[root], model.body_jntadr[root] + model.body_jntnum[root]):
        adr = model.jnt_qposadr[j]
        axis = model.jnt_axis[j]
        if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            qpos[adr + 2] += dz
            rot = np.zeros(4)
            mujoco.mju_axisAngle2Quat(rot, np.array([0.0, 1.0, 0.0]), pitch)
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, rot, qpos[adr + 3 : adr + 7])
            qpos[adr + 3 : adr + 7] = quat
        elif model.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE and np.allclose(axis, [0, 0, 1]):
            qpos[adr] += dz
        elif model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE and np.allclose(np.abs(axis), [0, 1, 0]):
            qpos[adr] += pitch * np.sign(axis[1])
    base.set_state(qpos, np.zeros(model.nv))


@pytest.fixture(params=ALL_IDS)
def env_id(request):
    return request.param


WALK = "neuromotor/Walker2d-Walk-v1"
#: A tiny brain's settings, and the same as train.py flags (without --steps and the checkpoints).
TINY = {"total_steps": 256, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
        "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 64}  # fmt: skip
TINY_FLAGS = ["--n-envs", "2", "--set", "n_steps=32", "--set", "batch_size=32", "--set", "n_epochs=1",
              "--set", "policy.lstm_hidden_size=8", "--eval-freq", "0"]  # fmt: skip


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """A finished tiny walk run (256 steps, checkpoints every 64), shared by every test: read it, never change it
    (``run`` is a private copy)."""
    from agents.config import resolve_config
    from agents.training.trainer import train

    run = tmp_path_factory.mktemp("runs") / "walk"
    train(resolve_config(WALK, "rppo", TINY), run, progress=False)
    return run


@pytest.fixture
def run(finished, tmp_path):
    """A private copy of the finished tiny run, free to damage."""
    return Path(shutil.copytree(finished, tmp_path / "walk"))


def tiny_run(env_id: str, run_dir: Path) -> Path:
    """Train a few hundred steps of a tiny LSTM brain on ``env_id`` into ``run_dir`` (for command-line tests)."""
    from agents.config import resolve_config
    from agents.training.trainer import train

    settings = {"total_steps": 128, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip
    train(resolve_config(env_id, "rppo", settings), run_dir)
    return run_dir


def evaluate_cli(target: Path, *args) -> subprocess.CompletedProcess:
    """``evaluate.py TARGET --episodes 1 ARGS``, in this process (see ``call_cli``)."""
    from agents.cli.evaluate import evaluate_main

    return call_cli(evaluate_main, target, "--episodes", "1", *args)


def call_cli(main: Callable[[list[str]], int], *args) -> subprocess.CompletedProcess:
    """A command's ``main(argv)`` run in this process, as its script runs it: exit code, stdout and stderr.

    It saves a subprocess's seconds of imports per case. Each script keeps one case in a process of its own, where
    everything that reaches the terminal (a warning, a traceback) is seen."""
    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
