"""``evaluate.py`` / ``neuromotor-evaluate``: measure, film and diagram a brain's gait (or report a sweep)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import gymnasium as gym
import torch as th
from rich.console import Console
from rich.table import Table

import envs
from agents.analysis.recording import record, save_recording
from agents.brains.store import Brain, bundled_brains, find_brain
from agents.cli.parsing import OneLineParser, positive, run_command
from agents.cli.sweep import sweep_report_main
from agents.config import PRESETS_FILE, ConfigError
from agents.constants import TEST_SEED
from agents.evaluation import plots, video
from agents.evaluation.rollout import env_dt, evaluate_brain, summarize
from agents.runs import write_json
from agents.sweeps.report import is_sweep_dir
from envs.catalog import BODIES
from envs.tasks.clock import parse_clock_schedule
from envs.tasks.gait import parse_schedule


def evaluate_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="evaluate.py",
        description="Measure the gait a trained brain produces; optionally film it and draw its gait diagram.",
    )
    parser.add_argument(
        "target", nargs="?", help="run directory, model/checkpoint .zip, bundled brain name, or sweep directory"
    )
    parser.add_argument("--list", action="store_true", help="list the bundled brains and exit")
    parser.add_argument("--episodes", type=int, default=10, help="episodes to measure (default 10)")
    parser.add_argument("--seed", type=int, default=TEST_SEED, help="seed of the first episode; episode i uses seed+i")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mean")
    parser.add_argument("--steps", type=int, help="episode length limit (default: the env's, 1000)")
    parser.add_argument(
        "--video", nargs="?", const="auto", metavar="PATH", help="MP4 of the first episode (default videos/<run>.mp4)"
    )
    parser.add_argument("--video-fps", type=float, default=video.VIDEO_FPS, metavar="FPS",
                        help=f"about this many frames per simulated second: every round(env rate / FPS)-th step is "
                             f"filmed, at least every step (default {video.VIDEO_FPS:g}; the Walker2d's 125 Hz "
                             f"gives 41.7 fps)")  # fmt: skip
    parser.add_argument("--gif", action="store_true", help="also write a small GIF beside the MP4")
    parser.add_argument("--no-timeline", action="store_true", help="no footfall strip under the video")
    parser.add_argument(
        "--diagram", metavar="PATH", help="gait diagram PNG of the first episode (default with --video)"
    )
    parser.add_argument("--json", metavar="PATH", help='write {"summary": ..., "episodes": [...]} here')
    parser.add_argument("--commands", metavar="SCHEDULE",
                        help="for a clock or gait brain: scripted commands GAIT[:SPEED]@STEP, e.g. "
                             "'walk:1.0@0,jump@300,walk:0.5@600'; measures how it follows each switch")  # fmt: skip
    parser.add_argument("--record", metavar="PATH.npz",
                        help="save every step's LSTM states, observations, actions, contacts, COM, gait label and "
                             "phase, and command (neuromotor analyse reads it)")  # fmt: skip
    parser.add_argument("--env-kwargs", metavar="JSON", help="override env settings, e.g. '{\"obs_noise\": 0.05}'")
    parser.add_argument("--write-preset", nargs="?", const=PRESETS_FILE, type=Path, metavar="PRESETS",
                        help="with a sweep directory: append its best setting to the presets "
                             "(default agents/presets.yaml)")  # fmt: skip
    return parser


def _parse_env_kwargs(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs is not valid JSON ({exc.msg} at character {exc.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--env-kwargs must be a JSON object such as '{{\"obs_noise\": 0.05}}', got {text!r}")
    return value


def _check_commands(schedule: str, env_id: str) -> str:
    envs.resolve_env_id(env_id)
    kwargs = gym.spec(env_id).kwargs
    task = kwargs.get("task")
    if task == "clock":
        parse_clock_schedule(schedule, BODIES[kwargs["body"]])
    elif task == "gait":
        parse_schedule(schedule)
    else:
        raise ValueError(
            f"--commands needs a brain of a clock or gait env (neuromotor/<Body>-Clock-v4, neuromotor/<Body>-Gait-v2); "
            f"this one runs {env_id}"
        )
    return schedule


def _evaluate(args: argparse.Namespace, parser: OneLineParser) -> int:
    # One env, one step at a time: a second torch thread only spins against the software renderer's threads
    # (a filmed Walker2d episode: 15.8 ms per LSTM step with two, under 1 ms with one).
    th.set_num_threads(1)
    brain = find_brain(args.target)
    env_kwargs = _parse_env_kwargs(args.env_kwargs)
    if args.commands is not None:
        env_kwargs["schedule"] = _check_commands(args.commands, brain.config.env_id)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{Path(args.target).name}__{brain.config.env_id}")
    video_path = None
    if args.video is not None:
        video_path = Path("videos") / f"{stem}.mp4" if args.video == "auto" else Path(args.video)
    diagram_path = Path(args.diagram) if args.diagram else None
    if diagram_path is None and video_path is not None:
        diagram_path = video_path.with_name(f"{video_path.stem}_gait.png")
    if args.record and not args.record.endswith(".npz"):
        raise ValueError(f"--record writes a NumPy .npz file; give a path ending in .npz, got {args.record!r}")
    for path in (video_path, diagram_path, args.json and Path(args.json), args.record and Path(args.record)):
        if path:
            video.check_writable(path)
    run = {"episodes": args.episodes, "seed": args.seed, "env_kwargs": env_kwargs, "progress": True,
           "deterministic": not args.stochastic, "max_episode_steps": args.steps}  # fmt: skip
    if video_path is None:
        evaluation = evaluate_brain(brain, **run)
    else:
        rate = 1.0 / env_dt(brain.config.env_id, {**brain.config.env_kwargs, **env_kwargs})
        try:
            every = video.frame_stride(rate, args.video_fps)
        except ValueError as exc:
            raise ValueError(f"--video-fps {args.video_fps:g}: {exc}") from None
        fps = rate / every
        steps = args.steps or gym.spec(envs.resolve_env_id(brain.config.env_id)).max_episode_steps
        expected = steps and (steps - 1) // every + 1  # the reset frame, then every `every` steps but the last
        stream = video.VideoStream(video_path, fps, timeline=not args.no_timeline, gif=args.gif, expected=expected)
        with stream:
            evaluation = evaluate_brain(brain, frame_sink=stream, frame_every=every, **run)
    episodes = evaluation.episodes
    result = summarize(episodes)
    print_summary(brain, result["summary"], args)
    first = episodes[0]
    if video_path is not None:
        filmed = f"every {every} steps" if every > 1 else "every step"
        print(f"video: {video_path} ({stream.frames} frames at {fps:.3g} fps, {filmed})")
        if args.gif:
            print(f"gif: {video_path.with_suffix('.gif')}")
    if diagram_path is not None and first.foot_labels:
        plots.gait_diagram(
            first.foot_contacts, first.com_position[:, 2], first.standing_com_height, first.dt, first.foot_labels,
            diagram_path, title=f"{args.target}: {brain.config.env_id}, episode 1",
        )  # fmt: skip
        print(f"gait diagram: {diagram_path}")
    if args.record:
        arrays = record(evaluation.model, episodes)
        save_recording(args.record, arrays, target=args.target, env_id=brain.config.env_id)
        print(f"recording: {args.record} ({len(arrays['step'])} steps, {arrays['actor_hidden'].shape[-1]} units)")
    if args.json:
        write_json(Path(args.json), result)
        print(f"metrics: {args.json}")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    parser = evaluate_parser()
    args = parser.parse_args(argv)
    if args.list:
        brains = bundled_brains()
        for name, path in brains.items():
            print(f"{name}\t{path}")
        if not brains:
            print("no bundled brains yet", file=sys.stderr)
        return 0
    if args.target is None:
        parser.error("give a TARGET (run directory, model .zip, bundled brain or sweep directory) or --list")
    if is_sweep_dir(Path(args.target)):
        return sweep_report_main(args, parser)
    if args.write_preset is not None:
        parser.error("--write-preset needs a sweep directory as TARGET (one made by train.py --sweep)")
    positive(parser, args, "episodes", "steps")
    if not 0 < args.video_fps < math.inf:  # also refuses nan
        parser.error(f"--video-fps must be a number of frames per second above 0, got {args.video_fps:g}")
    return run_command(parser, lambda: _evaluate(args, parser))


def print_summary(brain: Brain, summary: dict, args: argparse.Namespace) -> None:
    table = Table(
        title=f"{args.target}: {brain.config.env_id}, {summary['episodes']} "
        f"{'stochastic' if args.stochastic else 'deterministic'} episodes from seed {args.seed}"
    )
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict) and "mean" in value:
            table.add_row(key, f"{value['mean']:.3f}", f"{value['std']:.3f}")
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for foot, stats in value.items():
                table.add_row(f"{key} ({foot})", f"{stats['mean']:.3f}", f"{stats['std']:.3f}")
        elif key not in ("episodes",):
            table.add_row(key, str(value), "")
    console = Console()
    Console(width=max(console.width, 100)).print(table)
