"""evaluate.py: the shared rollout, metrics output, video, gait diagram, and bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch as th
import yaml
from conftest import call_cli

from agents.brains import store
from agents.cli.evaluate import evaluate_main
from agents.config import resolve_config
from agents.evaluation import rollout as evaluation
from agents.training.trainer import train
from envs.tasks import WalkTask

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval") / "walker"
    settings = {"total_steps": 256, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                "policy.lstm_hidden_size": 16, "eval_freq": 0, "checkpoint_freq": 128}  # fmt: skip
    train(resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", settings), run)
    return run


def run_evaluate(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), *map(str, args)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "MUJOCO_GL": "egl"},
    )  # fmt: skip


def test_rollout_matches_a_whole_sequence_replay(run_dir):
    """The step loop carries the LSTM state right: replaying the episode's observations as one sequence through
    the policy gives the same deterministic actions."""
    brain = store.find_brain(str(run_dir))
    model = store.load_model(brain)
    venv = evaluation.make_env(brain, max_episode_steps=120)
    episode = evaluation.rollout(model, venv, seed=5)
    assert episode.length > 10
    obs = th.tensor(episode.observations, dtype=th.float32)
    zeros = th.zeros(1, 1, 16)
    starts = th.zeros(len(obs))
    starts[0] = 1.0
    with th.no_grad():
        dist, _ = model.policy.get_distribution(obs, (zeros, zeros), starts)
    low, high = venv.action_space.low, venv.action_space.high
    replayed = np.clip(dist.get_actions(deterministic=True).numpy(), low, high)
    np.testing.assert_allclose(episode.actions, replayed, atol=1e-5)
    # The recorded hidden states are the LSTM's after each step.
    assert episode.lstm_hidden.shape == (episode.length, 1, 16)
    # Same seed, same episode; another seed, another episode.
    again = evaluation.rollout(model, venv, seed=5)
    np.testing.assert_array_equal(again.actions, episode.actions)
    other = evaluation.rollout(model, venv, seed=6)
    assert not np.array_equal(other.observations[0], episode.observations[0])


def test_rollout_records_the_body(run_dir):
    brain = store.find_brain(str(run_dir))
    episode = evaluation.rollout(store.load_model(brain), evaluation.make_env(brain, max_episode_steps=40), seed=0)
    assert episode.foot_contacts.shape == (episode.length, 2)
    assert episode.com_position.shape == episode.com_velocity.shape == (episode.length, 3)
    assert set(episode.reward_terms) == set(WalkTask.terms)
    total = sum(episode.reward_terms.values())
    np.testing.assert_allclose(total, episode.rewards, atol=1e-6)
    assert episode.foot_labels == ("right", "left")


def test_evaluate_writes_metrics_video_gif_and_diagram(run_dir, tmp_path):
    video = tmp_path / "out" / "walk.mp4"
    out = tmp_path / "metrics.json"
    result = run_evaluate(run_dir, "--episodes", 2, "--steps", 60, "--video", video, "--gif", "--json", out)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert len(data["episodes"]) == 2
    for key in ("return", "length", "fell", "forward_speed", "duty_factor", "alternation", "gait", "mean_apex_rise"):
        assert key in data["summary"], key
    assert data["summary"]["duty_factor"].keys() == {"right", "left"}
    lengths = [ep["length"] for ep in data["episodes"]]
    reader = imageio.get_reader(video)
    frame = reader.get_data(0)
    # The 125 Hz Walker2d filmed every 3rd step (about 40 fps): the reset frame, then every 3rd step but the last.
    assert reader.count_frames() == (lengths[0] - 1) // 3 + 1
    assert frame.shape[0] % 16 == 0 and frame.shape[1] % 16 == 0
    assert reader.get_meta_data()["fps"] == pytest.approx(125 / 3, abs=0.1)
    assert "every 3 steps" in result.stdout
    assert frame.std() > 10, "a blank frame"
    assert video.with_suffix(".gif").stat().st_size > 1000
    assert (tmp_path / "out" / "walk_gait.png").stat().st_size > 10_000
    assert "forward_speed" in result.stdout


def test_evaluate_checkpoint_and_default_video_name(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = run_dir / "checkpoints" / "ckpt_128_steps.zip"
    result = call_cli(evaluate_main, checkpoint, "--episodes", 1, "--steps", 20, "--video", "--no-timeline",
                      "--video-fps", 125)  # fmt: skip
    assert result.returncode == 0, result.stderr
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["ckpt_128_steps.zip__neuromotor-Walker2d-Walk-v1.mp4"]
    assert imageio.get_reader(videos[0]).get_data(0).shape == (480, 640, 3)
    assert "at 125 fps, every step" in result.stdout  # asked for the env's own rate: every step filmed


def test_a_brain_loaded_to_act_acts_as_the_trainable_one_without_an_optimizer(run_dir):
    from agents.brains.models import load_algorithm
    from agents.brains.policies import InferenceRecurrentPolicy
    from agents.brains.store import find_brain, load_model

    trainable = load_algorithm(run_dir / "model.zip", "rppo")
    acting = load_model(find_brain(run_dir))
    assert isinstance(acting.policy, InferenceRecurrentPolicy)
    assert isinstance(trainable.policy.optimizer, th.optim.Adam)
    assert not isinstance(acting.policy.optimizer, th.optim.Optimizer)
    obs = np.random.default_rng(0).normal(size=(5, 1, trainable.observation_space.shape[0])).astype(np.float32)
    states = [None, None]
    for t in range(5):
        starts = np.array([t == 0])
        a, states[0] = trainable.predict(obs[t], state=states[0], episode_start=starts, deterministic=True)
        b, states[1] = acting.predict(obs[t], state=states[1], episode_start=starts, deterministic=True)
        np.testing.assert_array_equal(a, b)
    for x, y in zip(trainable.policy.state_dict().values(), acting.policy.state_dict().values(), strict=True):
        assert th.equal(x, y)


def test_a_filmed_rollout_films_the_reset_state_then_every_nth_step(run_dir):
    from agents.evaluation.rollout import evaluate_brain

    filmed = []  # steps taken before each frame (the sink gets the contacts of those steps)
    episode = evaluate_brain(run_dir, episodes=1, max_episode_steps=10, frame_every=3,
                             frame_sink=lambda frame, contacts: filmed.append(len(contacts))).episodes[0]  # fmt: skip
    assert filmed == [t for t in (0, 3, 6, 9) if t < episode.length]  # never the state after the last step
    kept = evaluate_brain(run_dir, episodes=1, max_episode_steps=10, frame_every=3, render=True).episodes[0]
    assert len(kept.frames) == len(filmed)
    assert kept.frame_every == 3 and episode.frame_every == 3  # the frames' spacing travels with them
    with pytest.raises(ValueError, match="frame_every must be >= 1"):
        evaluate_brain(run_dir, episodes=1, max_episode_steps=10, frame_every=0, render=True)


def test_gif_frame_times_are_whole_hundredths_that_keep_real_time():
    from agents.evaluation.video import gif_durations

    durations = gif_durations(12, 48.0)  # a 125 Hz body filmed every 6th step
    assert all(d % 10 == 0 for d in durations) and set(durations) == {40.0, 50.0}
    assert sum(durations) == pytest.approx(12 * 48.0, abs=5)
    assert gif_durations(5, 40.0) == [40.0] * 5


def test_composed_frames_show_the_footfalls_up_to_their_own_step():
    from agents.evaluation.video import STRIP_ROW, compose

    contacts = np.zeros((9, 1), dtype=bool)
    contacts[3:6] = True  # the foot down in steps 3-5
    frames = compose([np.zeros((16, 20, 3), dtype=np.uint8)] * 4, contacts, every=3)  # filmed after 0, 3, 6, 9 steps
    strips = [frame[16 + STRIP_ROW // 2, :, 0] for frame in frames]  # the foot's row, newest step at the right
    down = [int((row < 100).sum()) for row in strips]
    assert down == [0, 0, 3, 3]  # after 3 steps none was down yet; after 6 and 9, steps 3-5


def test_frame_stride_aims_at_the_frame_rate_and_films_slow_envs_every_step():
    from agents.evaluation.video import frame_stride

    assert frame_stride(125.0) == 3  # Walker2d, Hopper: 41.7 fps
    assert frame_stride(1 / 0.015) == 2  # Humanoid: 33 fps
    assert frame_stride(20.0) == 1  # Ant, HalfCheetah: every step
    assert frame_stride(125.0, 125.0) == 1
    with pytest.raises(ValueError, match="above 0"):
        frame_stride(125.0, 0.0)
    with pytest.raises(ValueError, match="vanishingly small"):
        frame_stride(125.0, 1e-308)  # the stride would overflow


def test_list_bundled_brains():
    result = call_cli(evaluate_main, "--list")
    assert result.returncode == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == sorted(store.bundled_brains())
    assert names or "no bundled brains yet" in result.stderr


def broken_copies(run_dir: Path, tmp_path: Path) -> dict[str, Path]:
    copies = {}
    for name in ("no_model", "corrupt", "no_stats", "gone_env"):
        copies[name] = tmp_path / name
        shutil.copytree(run_dir, copies[name])
    (copies["no_model"] / "model.zip").unlink()
    (copies["corrupt"] / "model.zip").write_bytes(b"not a zip file")
    (copies["no_stats"] / "vecnormalize.pkl").unlink()
    config = yaml.safe_load((copies["gone_env"] / "config.yaml").read_text())
    config["env_id"] = "neuromotor/Walker3d-Walk-v1"
    (copies["gone_env"] / "config.yaml").write_text(yaml.safe_dump(config))
    return copies


def test_bad_input_is_one_line_and_exit_code_2(run_dir, tmp_path):
    copies = broken_copies(run_dir, tmp_path)
    cases = [
        ([copies["no_model"]], "has no model.zip"),
        ([copies["corrupt"]], "cannot load model"),
        ([copies["no_stats"]], "vecnormalize.pkl is missing"),
        ([copies["gone_env"]], "unknown env id 'neuromotor/Walker3d-Walk-v1'; closest: neuromotor/Walker2d-Walk-v1"),
        ([run_dir, "--video", "/proc/forbidden/walk.mp4"], "cannot use '/proc/forbidden/walk.mp4' for --video"),
        ([run_dir, "--env-kwargs", "{obs: 1}"], "--env-kwargs is not valid JSON"),
        ([run_dir, "--env-kwargs", '{"obs": "smell"}'], "unknown obs mode 'smell'; valid: full, proprio"),
        ([tmp_path / "nothing_here"], "nothing_here' does not exist"),
        (["no-such-brain"], "is not a run directory, a model .zip or a bundled brain"),
        ([run_dir, "--episodes", 0], "--episodes must be >= 1"),
        ([run_dir, "--video", "--video-fps", 0], "--video-fps must be a number of frames per second above 0, got 0"),
        ([run_dir, "--video-fps", "nan"], "--video-fps must be a number of frames per second above 0, got nan"),
        ([run_dir, "--video", "--video-fps", "1e-308"], "--video-fps 1e-308: a video's frame rate must be above 0"),
    ]
    for number, (args, message) in enumerate(cases):
        # The first case runs as a user runs it, in a process of its own; the rest in this one, for speed.
        result = run_evaluate(*args) if number == 0 else call_cli(evaluate_main, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("evaluate.py: error: "), (args, result.stderr)
        assert message in lines[0], (message, lines[0])


def test_commands_need_a_gait_brain(run_dir):
    done = call_cli(evaluate_main, run_dir, "--commands", "walk@0,jump@10")
    assert done.returncode == 2
    assert "--commands needs a brain of a clock or gait env" in done.stderr and "Traceback" not in done.stderr


def test_a_streamed_video_holds_no_frames_and_decodes_to_every_one(tmp_path):
    from agents.evaluation.video import VideoStream

    rng = np.random.default_rng(0)
    path = tmp_path / "stream.mp4"
    with VideoStream(path, fps=25, expected=30) as stream:
        for t in range(30):
            assert not path.exists()  # the file appears under its name only once complete
            stream(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), rng.random((t, 2)) > 0.5)
        assert stream.small == []  # without a GIF nothing is kept
    reader = imageio.get_reader(path)
    assert reader.count_frames() == stream.frames == 30
    assert reader.get_data(0).shape == (48 + 16, 64, 3)  # the footfall strip under each frame
    with VideoStream(tmp_path / "g.mp4", fps=125, gif=True, timeline=False) as stream:
        for t in range(50):
            stream(np.full((48, 64, 3), 5 * t, dtype=np.uint8), np.zeros((0, 2), dtype=bool))
    assert len(stream.small) == 10 and stream.small[0].shape == (24, 32, 3)  # every 5th frame at 25 fps, halved
    assert len(imageio.mimread(tmp_path / "g.gif")) == 10
