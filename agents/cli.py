"""Command lines of the top-level scripts; ``train.py`` only calls :func:`train_main`."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from pathlib import Path
from typing import NoReturn

from agents.config import (
    ALGOS,
    DEVICES,
    PRESETS_FILE,
    VEC_ENVS,
    ConfigError,
    field_help,
    parse_override,
    resolve_config,
)
from agents.training import RunError, check_env_config, default_run_dir, load_run_config, summary_line, train

#: Flags that may change when resuming; everything else comes from the run's config.yaml.
RESUMABLE_FLAGS = ("steps", "device", "vec_env", "eval_freq", "checkpoint_freq")


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors on one line (``prog: error: ...``) and exit code 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def train_parser() -> OneLineParser:
    settings = "\n".join(f"  {name:<16} {doc}" for name, doc in field_help().items())
    parser = OneLineParser(
        prog="train.py",
        description="Train a brain (LSTM by default) on a body and task.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"settings for --set key=value (presets: agents/presets.yaml):\n{settings}",
    )
    parser.add_argument("--env", help="env id: neuromotor/<Body>-<Task>-v0, any Gymnasium id, or module:EnvId")
    parser.add_argument("--algo", default=None, help=f"one of {', '.join(ALGOS)} (default rppo)")
    parser.add_argument("--steps", type=int, help="total env steps (default from the preset)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--n-envs", type=int, dest="n_envs")
    parser.add_argument("--vec-env", dest="vec_env", help=f"one of {', '.join(VEC_ENVS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--run-dir", type=Path, help="run directory (default runs/<env>__<algo>__s<seed>__<time>)")
    parser.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR from its last checkpoint")
    parser.add_argument("--eval-freq", type=int, dest="eval_freq", help="evaluate every N env steps (0: never)")
    parser.add_argument("--checkpoint-freq", type=int, dest="checkpoint_freq", help="checkpoint every N env steps")
    parser.add_argument("--device", help=f"one of {', '.join(DEVICES)}")
    sweep = parser.add_argument_group("sweeps (Ray Tune; see agents/sweep.py for the file format)")
    sweep.add_argument("--sweep", type=Path, metavar="SWEEP.yaml", help="run every trial of a sweep file")
    sweep.add_argument("--ray-address", dest="ray_address", metavar="ADDRESS",
                       help="run on this Ray cluster (e.g. auto, or HEAD_IP:6379); default: a local Ray")  # fmt: skip
    sweep.add_argument("--max-concurrent", type=int, dest="max_concurrent", metavar="K",
                       help="at most K trials at once (default: as many as the CPUs hold)")  # fmt: skip
    sweep.add_argument("--cpus-per-trial", type=int, default=1, dest="cpus_per_trial", metavar="N",
                       help="CPUs (and torch threads) reserved per trial (default 1)")  # fmt: skip
    return parser


def _given(args: argparse.Namespace, flags: tuple[str, ...]) -> list[str]:
    """The command-line spellings of ``flags`` (and ``--set``) that were given."""
    given = [f"--{flag.replace('_', '-')}" for flag in flags if getattr(args, flag) is not None]
    return given + ["--set"] * bool(args.set)


def sweep_main(args: argparse.Namespace, parser: OneLineParser) -> int:
    from agents import sweep as sweeps

    given = _given(args, ("env", "algo", "steps", "seed", "n_envs", "vec_env", "resume", "eval_freq",
                          "checkpoint_freq", "device"))  # fmt: skip
    if given:
        parser.error(f"--sweep takes its settings from the sweep file; drop {', '.join(given)}")
    for flag in ("max_concurrent", "cpus_per_trial"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    sweep = sweeps.load_sweep(args.sweep)
    sweeps.check_envs(sweep)
    sweep_dir = args.run_dir or sweeps.SWEEPS_DIR / sweep.name
    where = f" on {args.ray_address}" if args.ray_address else ""
    seeds = len(sweep.trials) // len(sweep.settings)
    print(f"sweep {sweep.name}: {len(sweep.settings)} settings x {seeds} seeds = {len(sweep.trials)} trials in "
          f"{sweep_dir}{where}")  # fmt: skip
    from ray.tune import TuneError

    try:
        outcome = sweeps.run_sweep(sweep, sweep_dir, address=args.ray_address, max_concurrent=args.max_concurrent,
                                   cpus_per_trial=args.cpus_per_trial)  # fmt: skip
    except (OSError, TuneError) as exc:
        raise ConfigError(f"sweep in {sweep_dir}: {exc}".splitlines()[0]) from None
    report = sweeps.write_report(sweep_dir)
    print(sweeps.markdown(report), end="")
    print(f"report: {', '.join(report['files'])}")
    left = [*outcome["failed"], *outcome["unfinished"]]
    if left:
        print(f"{len(outcome['failed'])} failed and {len(outcome['unfinished'])} unfinished of {len(sweep.trials)} "
              f"trials: {', '.join(left)}; rerun the same command for them (finished trials are skipped)")  # fmt: skip
        return 1
    return 0


def _flag_overrides(args: argparse.Namespace) -> dict:
    names = {"steps": "total_steps", "seed": "seed", "n_envs": "n_envs", "vec_env": "vec_env"}
    names.update({k: k for k in ("eval_freq", "checkpoint_freq", "device")})
    return {field: getattr(args, flag) for flag, field in names.items() if getattr(args, flag) is not None}


def train_main(argv: list[str] | None = None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)
    # Ctrl-C must reach us as KeyboardInterrupt even if a parent shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = ["python", "train.py", *(sys.argv[1:] if argv is None else argv)]
    try:
        if args.sweep is not None:
            return sweep_main(args, parser)
        if args.resume is not None:
            given = _given(args, ("env", "algo", "seed", "n_envs", "run_dir"))
            if given:
                parser.error(
                    f"--resume takes its settings from the run; drop {', '.join(given)} "
                    f"(only {', '.join('--' + f.replace('_', '-') for f in RESUMABLE_FLAGS)} may change)"
                )
            config = load_run_config(args.resume)
            for key, value in _flag_overrides(args).items():
                setattr(config, key, value)
            run_dir = args.resume
        else:
            if not args.env:
                parser.error("--env is required (or --resume DIR)")
            overrides = dict(parse_override(text) for text in args.set)
            overrides.update(_flag_overrides(args))
            config = resolve_config(args.env, args.algo or "rppo", overrides)
            run_dir = args.run_dir or default_run_dir(config)
            if (run_dir / "config.yaml").exists():
                parser.error(f"run directory {str(run_dir)!r} already holds a run; use --resume {run_dir}")
        config.validate()
        check_env_config(config, warm_start=args.resume is None)  # a resume starts from its checkpoint
        summary = train(config, run_dir, resume=args.resume is not None, command=command)
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 130
    print(summary_line(summary))
    return 0


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
    parser.add_argument("--seed", type=int, default=100_000, help="seed of the first episode; episode i uses seed+i")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mean")
    parser.add_argument("--steps", type=int, help="episode length limit (default: the env's, 1000)")
    parser.add_argument(
        "--video", nargs="?", const="auto", metavar="PATH", help="MP4 of the first episode (default videos/<run>.mp4)"
    )
    parser.add_argument("--gif", action="store_true", help="also write a small GIF beside the MP4")
    parser.add_argument("--no-timeline", action="store_true", help="no footfall strip under the video")
    parser.add_argument(
        "--diagram", metavar="PATH", help="gait diagram PNG of the first episode (default with --video)"
    )
    parser.add_argument("--json", metavar="PATH", help='write {"summary": ..., "episodes": [...]} here')
    parser.add_argument("--commands", metavar="SCHEDULE",
                        help="for a gait brain: scripted commands GAIT[:SPEED]@STEP, e.g. "
                             "'walk:1.0@0,jump@300,walk:0.5@600'; measures how it follows each switch")  # fmt: skip
    parser.add_argument("--record", metavar="PATH.npz",
                        help="save every step's LSTM states, observations, actions, contacts, COM, gait label and "
                             "phase, and command (python -m agents.analysis reads it)")  # fmt: skip
    parser.add_argument("--env-kwargs", metavar="JSON", help="override env settings, e.g. '{\"obs_noise\": 0.05}'")
    parser.add_argument("--write-preset", nargs="?", const=PRESETS_FILE, type=Path, metavar="PRESETS",
                        help="with a sweep directory: append its best setting to the presets "
                             "(default agents/presets.yaml)")  # fmt: skip
    return parser


def sweep_report_main(args: argparse.Namespace, parser: OneLineParser) -> int:
    from agents import sweep as sweeps

    try:
        report = sweeps.write_report(Path(args.target))
        print(sweeps.markdown(report), end="")
        print(f"report: {', '.join(report['files'])}")
        if args.write_preset is not None:
            block = sweeps.write_preset(report, args.write_preset)
            print(f"appended to {args.write_preset}:{block}", end="")
    except (ConfigError, OSError, ValueError, KeyError) as exc:
        parser.error(f"{args.target}: {exc!s}".splitlines()[0])
    return 0


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
    import gymnasium as gym

    import envs
    from envs.tasks.gait import parse_schedule

    envs.resolve_env_id(env_id)
    if gym.spec(env_id).kwargs.get("task") != "gait":
        raise ValueError(f"--commands needs a brain of a gait env (neuromotor/<Body>-Gait-v2); this one runs {env_id}")
    parse_schedule(schedule)
    return schedule


def evaluate_main(argv: list[str] | None = None) -> int:
    from agents import evaluation, neural, plots, video

    parser = evaluate_parser()
    args = parser.parse_args(argv)
    if args.list:
        brains = evaluation.bundled_brains()
        for name, path in brains.items():
            print(f"{name}\t{path}")
        if not brains:
            print("no bundled brains yet", file=sys.stderr)
        return 0
    if args.target is None:
        parser.error("give a TARGET (run directory, model .zip, bundled brain or sweep directory) or --list")
    from agents.sweep import is_sweep_dir

    if is_sweep_dir(Path(args.target)):
        return sweep_report_main(args, parser)
    if args.write_preset is not None:
        parser.error("--write-preset needs a sweep directory as TARGET (one made by train.py --sweep)")
    for flag in ("episodes", "steps"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    try:
        brain = evaluation.find_brain(args.target)
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
        model = evaluation.load_model(brain)
        render = video_path is not None
        venv = evaluation.make_env(
            brain,
            {**env_kwargs, **({"width": video.FRAME_WIDTH, "height": video.FRAME_HEIGHT} if render else {})},
            render_mode="rgb_array" if render else None,
            max_episode_steps=args.steps,
        )
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))
    if render:
        video.use_tracking_camera(evaluation.single_env(venv))
    episodes = [
        evaluation.rollout(model, venv, seed=args.seed + i, deterministic=not args.stochastic, render=render and i == 0)
        for i in range(args.episodes)
    ]
    venv.close()
    result = evaluation.summarize(episodes)
    print_summary(brain, result["summary"], args)
    first = episodes[0]
    if video_path is not None:
        frames = video.compose(first.frames, None if args.no_timeline else first.foot_contacts)
        video.write_mp4(video_path, frames, 1.0 / first.dt)
        print(f"video: {video_path} ({len(frames)} frames at {1.0 / first.dt:.0f} fps)")
        if args.gif:
            gif = video.write_gif(video_path.with_suffix(".gif"), frames, 1.0 / first.dt)
            print(f"gif: {gif}")
    if diagram_path is not None and first.foot_labels:
        plots.gait_diagram(
            first.foot_contacts, first.com_position[:, 2], first.standing_com_height, first.dt, first.foot_labels,
            diagram_path, title=f"{args.target}: {brain.config.env_id}, episode 1",
        )  # fmt: skip
        print(f"gait diagram: {diagram_path}")
    if args.record:
        try:
            arrays = neural.record(model, episodes)
        except ValueError as exc:
            parser.error(str(exc))
        neural.save_recording(args.record, arrays, target=args.target, env_id=brain.config.env_id)
        print(f"recording: {args.record} ({len(arrays['step'])} steps, {arrays['actor_hidden'].shape[-1]} units)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
        print(f"metrics: {args.json}")
    return 0


def print_summary(brain, summary: dict, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

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
