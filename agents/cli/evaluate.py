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
from agents.cli.parsing import OneLineParser, check_output, non_negative, positive, run_command
from agents.cli.sweep import sweep_report_main
from agents.config import PRESETS_FILE, ConfigError
from agents.constants import TEST_SEED
from agents.evaluation import plots, video
from agents.evaluation.plots import DIAGRAM_SUFFIXES
from agents.evaluation.rollout import env_dt, evaluate_brain, summarize
from agents.evaluation.video import VIDEO_SUFFIXES
from agents.runs import write_json
from agents.sweeps.report import is_sweep_dir
from envs.catalog import BODIES
from envs.tasks.clock import parse_clock_schedule
from envs.tasks.gait import check_schedule_length, parse_schedule


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
    parser.add_argument("--seed", type=int, default=TEST_SEED,
                        help="seed of the first episode (>= 0); episode i uses seed+i")  # fmt: skip
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mean")
    parser.add_argument("--steps", type=int, help="episode length limit (default: the env's, 1000)")
    parser.add_argument(
        "--video", nargs="?", const="auto", metavar="PATH",
        help=f"H.264 video of the first episode, {', '.join(VIDEO_SUFFIXES)} (default videos/<run>.mp4)",
    )  # fmt: skip
    parser.add_argument("--video-fps", type=float, metavar="FPS",
                        help=f"about this many frames per simulated second: every round(env rate / FPS)-th step is "
                             f"filmed, at least every step (default {video.VIDEO_FPS:g}; the Walker2d's 125 Hz "
                             f"gives 41.7 fps)")  # fmt: skip
    parser.add_argument("--gif", action="store_true", help="with --video: also write a small GIF beside it")
    parser.add_argument("--no-timeline", action="store_true", help="with --video: no footfall strip under it")
    parser.add_argument(
        "--diagram", metavar="PATH",
        help=f"gait diagram of the first episode, {', '.join(DIAGRAM_SUFFIXES)} (default with --video)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="PATH.json", help='write {"summary": ..., "episodes": [...]} here')
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


def _episode_steps(brain: Brain, env_kwargs: dict, steps: int | None) -> int | None:
    """An episode's step limit: ``steps`` (--steps), else a ``max_episode_steps`` env kwarg, else the env's own."""
    if steps:
        return steps
    limit = {**brain.config.env_kwargs, **env_kwargs}.get("max_episode_steps")
    return limit or gym.spec(envs.resolve_env_id(brain.config.env_id)).max_episode_steps


def _check_commands(schedule: str, env_id: str, steps: int | None, given: bool) -> str:
    """``schedule`` if ``env_id``'s task takes it and every command comes within an episode of ``steps`` steps."""
    kwargs = gym.spec(envs.resolve_env_id(env_id)).kwargs
    task = kwargs.get("task")
    if task not in ("clock", "gait"):
        raise ValueError(
            f"--commands needs a brain of a clock or gait env (neuromotor/<Body>-Clock-v4, neuromotor/<Body>-Gait-v2); "
            f"this one runs {env_id}"
        )
    try:
        commands = (
            parse_clock_schedule(schedule, BODIES[kwargs["body"]]) if task == "clock" else parse_schedule(schedule)
        )
        if steps is not None:
            limit = f"--steps {steps}" if given else f"the env's default length, {steps} steps"
            check_schedule_length(commands, steps, limit)
    except ValueError as exc:
        raise ValueError(f"--commands: {exc}") from None
    return schedule


def _outputs(args: argparse.Namespace, stem: str) -> tuple[Path | None, Path | None]:
    """The video and diagram paths, every output path checked (extension, a writable place) before any work."""
    video_path = None
    if args.video is not None:
        video_path = Path("videos") / f"{stem}.mp4" if args.video == "auto" else Path(args.video)
        check_output("--video", video_path, VIDEO_SUFFIXES, "an H.264 video (--gif adds a GIF beside it)")
    diagram_path = Path(args.diagram) if args.diagram else None
    if diagram_path is None and video_path is not None:
        diagram_path = video_path.with_name(f"{video_path.stem}_gait.png")
    if diagram_path is not None:
        check_output("--diagram", diagram_path, DIAGRAM_SUFFIXES, "a gait diagram image")
    if args.json:
        check_output("--json", Path(args.json), (".json",), "the metrics as JSON")
    if args.record:
        check_output("--record", Path(args.record), (".npz",), "a NumPy .npz file")
    return video_path, diagram_path


def _evaluate(args: argparse.Namespace) -> int:
    # One env, one step at a time: a second torch thread only spins against the software renderer's threads
    # (a filmed Walker2d episode: 15.8 ms per LSTM step with two, under 1 ms with one).
    th.set_num_threads(1)
    brain = find_brain(args.target)
    env_kwargs = _parse_env_kwargs(args.env_kwargs)
    steps = _episode_steps(brain, env_kwargs, args.steps)
    if args.commands is not None:
        env_kwargs["schedule"] = _check_commands(args.commands, brain.config.env_id, steps, args.steps is not None)
    if args.record and brain.config.algo != "rppo":
        raise ValueError(f"--record saves LSTM states: it needs an rppo brain, and this one is {brain.config.algo} "
                         "(feed-forward)")  # fmt: skip
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{Path(args.target).name}__{brain.config.env_id}")
    video_path, diagram_path = _outputs(args, stem)
    run = {"episodes": args.episodes, "seed": args.seed, "env_kwargs": env_kwargs, "progress": True,
           "deterministic": not args.stochastic, "max_episode_steps": args.steps}  # fmt: skip
    if video_path is None:
        evaluation = evaluate_brain(brain, **run)
    else:
        fps_wanted = video.VIDEO_FPS if args.video_fps is None else args.video_fps
        rate = 1.0 / env_dt(brain.config.env_id, {**brain.config.env_kwargs, **env_kwargs})
        try:
            every = video.frame_stride(rate, fps_wanted)
        except ValueError as exc:
            raise ValueError(f"--video-fps {fps_wanted:g}: {exc}") from None
        fps = rate / every
        expected = steps and (steps - 1) // every + 1  # the reset frame, then every `every` steps but the last
        stream = video.VideoStream(video_path, fps, timeline=not args.no_timeline, gif=args.gif, expected=expected)
        with stream:
            evaluation = evaluate_brain(brain, frame_sink=stream, frame_every=every, **run)
    episodes = evaluation.episodes
    result = summarize(episodes)
    print_summary(brain, result["summary"], args)
    first = episodes[0]
    for path in (diagram_path, args.json and Path(args.json), args.record and Path(args.record)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
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
    non_negative(parser, args, "seed")
    if args.video_fps is not None and not 0 < args.video_fps < math.inf:  # also refuses nan
        parser.error(f"--video-fps must be a number of frames per second above 0, got {args.video_fps:g}")
    for flag, given in (("--gif", args.gif), ("--no-timeline", args.no_timeline), ("--video-fps", args.video_fps)):
        if given not in (None, False) and args.video is None:
            parser.error(f"{flag} needs --video (it sets how the video is made); add --video [PATH]")
    return run_command(parser, lambda: _evaluate(args))


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
