"""Bad input to evaluate.py, neuromotor analyse and neuromotor brains: each refused before any work, with one line
naming what was wrong and what is valid, exit code 2, and no file written or changed; and Ctrl-C while a command
imports exits 130 without a traceback."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from badinput import case, refuse

from agents.brains.store import BRAINS_DIR
from agents.cli import analyse, brains
from agents.cli.evaluate import evaluate_main

ROOT = Path(__file__).resolve().parents[1]
#: Short episodes, so that a check that let a bad input through costs little.
SHORT = ("--steps", "5", "--episodes", "1")
ANALYSE = ("--out", "{tmp}/view", "--episodes", "1", "--video-steps", "0")


@pytest.fixture(scope="module")
def bad(finished, tmp_path_factory):
    """Damaged inputs: a run whose config names another body, a recording with uneven arrays, a malformed presets
    file, a sweep directory, and one whose sweep.json is corrupt."""
    folder = tmp_path_factory.mktemp("bad")
    edited = Path(shutil.copytree(finished, folder / "hopper_run"))
    config = yaml.safe_load((edited / "config.yaml").read_text())
    (edited / "config.yaml").write_text(yaml.safe_dump({**config, "env_id": "neuromotor/Hopper-Walk-v1"}))
    steps = {"actor_hidden": np.zeros((10, 1, 8)), "foot_contacts": np.zeros((10, 2), bool),
             "com_velocity": np.zeros((9, 3)), "gait_phase": np.zeros((10, 2)), "episode": np.zeros(10)}  # fmt: skip
    np.savez(folder / "uneven.npz", **steps)
    (folder / "bad_presets.yaml").write_text("neuromotor/Walker2d-Walk-v1:\n  rppo: {learning_rate: [1e-4\n")
    sweep = {"name": "fake", "env": "neuromotor/Walker2d-Walk-v1", "seeds": [0], "grid": {"learning_rate": [1e-4]}}
    for name, text in (("sweep", json.dumps(sweep)), ("broken_sweep", '{"name": "fake", "env": ')):
        (folder / name / "trials").mkdir(parents=True)
        (folder / name / "sweep.json").write_text(text)
    return folder


EVALUATE = [
    # 1. Output paths: the extension and the place are checked before any episode.
    case("video extension", ["{run}", "--video", "{tmp}/out.xyz", *SHORT], "--video", ".mp4, .mkv or .mov", "out.xyz"),
    case("video as a gif", ["{run}", "--video", "{tmp}/out.gif", *SHORT], "--video", ".mp4", "--gif"),
    case("diagram extension", ["{run}", "--diagram", "{tmp}/d.xyz", *SHORT], "--diagram", ".png, .svg or .pdf"),
    case("json extension", ["{run}", "--json", "{tmp}/m.txt", *SHORT], "--json", "ending in .json", "m.txt"),
    case("record extension", ["{run}", "--record", "{tmp}/r.json", *SHORT], "--record", "ending in .npz"),
    case("video under a file", ["{run}", "--video", "{run}/config.yaml/v.mp4", *SHORT], "is a file, not a folder"),
    case("json to a folder's path", ["{run}", "--json", "{tmp}", *SHORT], "--json", "ending in .json"),
    # 2. Video settings without a video.
    case("gif without video", ["{run}", "--gif", *SHORT], "--gif needs --video"),
    case("no-timeline without video", ["{run}", "--no-timeline", *SHORT], "--no-timeline needs --video"),
    case("video-fps without video", ["{run}", "--video-fps", "30", *SHORT], "--video-fps needs --video"),
    # 3. Numbers out of range.
    case("negative seed", ["{run}", "--seed", "-5", *SHORT], "--seed must be >= 0, got -5"),
    case("zero episodes", ["{run}", "--episodes", "0"], "--episodes must be >= 1, got 0"),
    case("zero steps", ["{run}", "--steps", "0"], "--steps must be >= 1, got 0"),
    case("nan video fps", ["{run}", "--video", "{tmp}/v.mp4", "--video-fps", "nan", *SHORT], "--video-fps", "nan"),
    case("zero video fps", ["{run}", "--video", "{tmp}/v.mp4", "--video-fps", "0", *SHORT], "--video-fps", "above 0"),
    # 4. A brain in an env of other shapes: refused before any episode, even where it would have been filmed or
    # recorded (nothing is written).
    case(
        "other observations",
        ["walker2d-walk", "--env-kwargs", '{"obs": "proprio"}', *SHORT],
        "observations of shape (28,)",
        "observations of shape (19,)",
        "'obs': 'proprio'",
    ),
    case(
        "other observations, filmed",
        [
            "walker2d-walk",
            "--env-kwargs",
            '{"obs": "proprio"}',
            "--video",
            "{tmp}/new/v.mp4",
            "--record",
            "{tmp}/new/r.npz",
            *SHORT,
        ],
        "observations of shape (28,)",
        "(19,)",
    ),
    case(
        "config edited to another body",
        ["{bad}/hopper_run", *SHORT],
        "trained on observations of shape",
        "env neuromotor/Hopper-Walk-v1 has observations of shape",
    ),
    # 5. A command due after the episode's last step.
    case(
        "command after --steps",
        ["walker2d-gait", "--commands", "walk:1.0@0,jump@5000", "--steps", "50"],
        "jump@5000",
        "past the episode's last step 50",
        "--steps 50",
    ),
    case(
        "command after the default length",
        ["walker2d-gait", "--commands", "walk:1.0@0,jump@1000"],
        "jump@1000",
        "last step 1000",
        "the env's default length",
    ),
    case("bad command", ["walker2d-gait", "--commands", "walk:1.0@0,hop@10", *SHORT], "--commands", "walk, jump"),
    # 8. and 9. Sweep directories: a malformed presets file, a corrupt sweep.json.
    case(
        "malformed presets",
        ["{bad}/sweep", "--write-preset", "{bad}/bad_presets.yaml"],
        "bad_presets.yaml",
        "not valid YAML at line",
    ),
    case("presets extension", ["{bad}/sweep", "--write-preset", "{tmp}/presets.txt"], "--write-preset", ".yaml"),
    case("missing presets", ["{bad}/sweep", "--write-preset", "{tmp}/none.yaml"], "none.yaml", "does not exist"),
    case("corrupt sweep.json", ["{bad}/broken_sweep"], "sweep.json", "not valid JSON"),
]

ANALYSIS = [
    # 1. The output folder.
    case("out named as a file", ["{run}", "--out", "{tmp}/report.json"], "--out is a folder", "report.json"),
    case("out is a file", ["{run}", "--out", "{run}/config.yaml"], "--out", "is a file; give a folder path"),
    # 3. and 6. Every option, before any work.
    case(
        "push after the episode",
        ["{run}", *ANALYSE, "--steps", "50", "--push-step", "50"],
        "--push-step",
        "[0, 50)",
        "got 50",
    ),
    case("negative push step", ["{run}", *ANALYSE, "--steps", "50", "--push-step", "-1"], "--push-step", "got -1"),
    case("nan noise", ["{run}", *ANALYSE, "--noise", "0,nan"], "--noise takes finite numbers >= 0, got nan"),
    case("negative noise", ["{run}", *ANALYSE, "--noise", "-0.1"], "--noise", "got -0.1"),
    case("nan delay", ["{run}", *ANALYSE, "--delays", "nan"], "--delays", "got nan"),
    case("fractional delay", ["{run}", *ANALYSE, "--delays", "0,1.5"], "--delays are whole numbers", "1.5"),
    case("lesion over 1", ["{run}", *ANALYSE, "--lesions", "0,2"], "--lesions takes fractions in [0, 1], got 2"),
    case("infinite push", ["{run}", *ANALYSE, "--pushes", "0,inf"], "--pushes takes finite numbers, got inf"),
    case("zero episodes", ["{run}", "--out", "{tmp}/view", "--episodes", "0"], "--episodes must be >= 1"),
    case("zero steps", ["{run}", *ANALYSE, "--steps", "0"], "--steps must be >= 1"),
    case("negative video steps", ["{run}", "--out", "{tmp}/view", "--video-steps", "-1"], "--video-steps", ">= 0"),
    case("negative seed", ["{run}", *ANALYSE, "--seed", "-1"], "--seed must be >= 0"),
    # 4. A brain in an env of other shapes.
    case(
        "config edited to another body",
        ["{bad}/hopper_run", *ANALYSE, "--steps", "5"],
        "observations of shape",
        "neuromotor/Hopper-Walk-v1",
    ),
    # 7. A recording whose arrays differ in length.
    case(
        "uneven recording",
        ["{bad}/uneven.npz", "--out", "{tmp}/view"],
        "uneven.npz",
        "differ in length",
        "9 rows: com_velocity",
    ),
]

BRAINS = [
    # 10. Actions missing the brain's name, or with a bad number.
    *[
        case(f"{action} without a name", [action], f"{action} needs a brain name", "valid: ", "walker2d-walk")
        for action in ("check", "train", "bundle", "select", "preview")
    ],
    case("unknown name", ["check", "walker2d-wlak"], "unknown brain 'walker2d-wlak'", "walker2d-walk"),
    case("zero steps", ["train", "walker2d-walk", "--steps", "0"], "--steps must be >= 1"),
    # 11. A template on a body: a template, a registered body or an importable module, a seed >= 0.
    case("body for check", ["check", "walk", "--body", "Walker2d"], "--body is for train (a template on a body)"),
    case("body with a brain", ["train", "walker2d-walk", "--body", "Walker2d"], "takes a template", "walk, jump"),
    case("unknown body", ["train", "walk", "--body", "Walkr2d"], "body 'Walkr2d' is not registered", "Walker2d"),
    case("unknown module", ["train", "walk", "--body", "nomodule:Biped"], "cannot import module 'nomodule'"),
    case("negative seed", ["train", "walk", "--body", "Walker2d", "--seed", "-1"], "--seed must be >= 0"),
    case("seed for a recipe", ["train", "walker2d-walk", "--seed", "1"], "--seed and --set are for train with --body"),
    case("bad setting", ["train", "walk", "--body", "Walker2d", "--set", "n_envs=zero"], "n_envs must be int"),
]


@pytest.fixture
def places(finished, bad, tmp_path, monkeypatch):
    # Default output paths (videos/...) would land in the test's folder, which is watched.
    monkeypatch.chdir(tmp_path)
    return {"tmp": tmp_path, "run": finished, "bad": bad}


def watched(places):
    return [*places.values(), BRAINS_DIR / "walker2d-walk", BRAINS_DIR / "walker2d-gait"]


@pytest.mark.parametrize("bad_input", EVALUATE)
def test_evaluate_refuses(bad_input, places, capsys):
    refuse(evaluate_main, bad_input.args(**places), capsys, says=bad_input.says, watch=watched(places))


@pytest.mark.parametrize("bad_input", ANALYSIS)
def test_analyse_refuses(bad_input, places, capsys):
    refuse(analyse.main, bad_input.args(**places), capsys, says=bad_input.says, watch=watched(places))


@pytest.mark.parametrize("bad_input", BRAINS)
def test_brains_refuses(bad_input, places, capsys):
    refuse(brains.main, bad_input.args(**places), capsys, says=bad_input.says, watch=watched(places))


COMMANDS = {
    "evaluate.py": ["evaluate.py", "walker2d-walk"],
    "train.py": ["train.py", "--env", "neuromotor/Walker2d-Walk-v1", "--run-dir", "{tmp}/run"],
    "python -m agents": ["-m", "agents", "evaluate", "walker2d-walk"],
    # What the console scripts run (pyproject.toml's [project.scripts]).
    "neuromotor": ["-c", "import sys; from agents.cli.entry import neuromotor; sys.exit(neuromotor())", "brains"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_ctrl_c_while_importing_exits_130_quietly(command, tmp_path):
    argv = [sys.executable, *(arg.format(tmp=tmp_path) for arg in command)]
    started = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "MUJOCO_GL": "egl"})  # fmt: skip
    time.sleep(0.3)  # Python is up and importing torch and MuJoCo by now: that takes seconds
    started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=60)
    assert started.returncode == 130, (started.returncode, err[-2000:])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]


def test_the_analyses_warnings_go_to_a_log_not_the_terminal(finished, tmp_path, capsys):
    out = tmp_path / "view"
    argv = [str(finished), "--out", str(out), "--episodes", "1", "--steps", "30", "--video-steps", "0",
            "--lesions", "0", "--pushes", "0", "--noise", "0", "--delays", "0"]  # fmt: skip
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        assert analyse.main(argv) == 0
    assert not escaped, [str(w.message) for w in escaped]
    printed = capsys.readouterr()
    assert "Warning" not in printed.err and f"see {out}/analysis.log" in printed.out
    assert "RuntimeWarning" in (out / "analysis.log").read_text()
