"""``train.py`` / ``neuromotor-train``: train a brain, resume or extend a run, or run a sweep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.cli.parsing import OneLineParser, given_flags, run_command
from agents.cli.sweep import sweep_main
from agents.config import ALGOS, DEVICES, VEC_ENVS, field_help, parse_override, resolve_config
from agents.runs import default_run_dir, holds_run, load_run_config
from agents.training.trainer import check_env_config, summary_line, train

#: Flags that may change when resuming; everything else comes from the run's config.yaml.
RESUMABLE_FLAGS = ("steps", "device", "threads", "vec_env", "eval_freq", "checkpoint_freq")


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
    parser.add_argument("--steps", type=int, help="total env steps (default from the preset; with --resume: train on "
                                                  "to this many, also after the run finished)")  # fmt: skip
    parser.add_argument("--seed", type=int)
    parser.add_argument("--n-envs", type=int, dest="n_envs")
    parser.add_argument("--vec-env", dest="vec_env", help=f"one of {', '.join(VEC_ENVS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--run-dir", type=Path, help="run directory (default runs/<env>__<algo>__s<seed>__<time>)")
    parser.add_argument(
        "--resume", type=Path, metavar="DIR", help="continue the run in DIR from its newest intact checkpoint or model"
    )
    parser.add_argument("--eval-freq", type=int, dest="eval_freq", help="evaluate every N env steps (0: never)")
    parser.add_argument("--checkpoint-freq", type=int, dest="checkpoint_freq", help="checkpoint every N env steps")
    parser.add_argument("--device", help=f"one of {', '.join(DEVICES)}")
    parser.add_argument("--threads", type=int,
                        help="torch threads (default 0: auto, the cores other processes leave free; a fixed count "
                             "reproduces a seed bit for bit; may change on a resume)")  # fmt: skip
    sweep = parser.add_argument_group("sweeps (Ray Tune; see agents/sweeps/spec.py for the file format)")
    sweep.add_argument("--sweep", type=Path, metavar="SWEEP.yaml", help="run every trial of a sweep file")
    sweep.add_argument("--ray-address", dest="ray_address", metavar="ADDRESS",
                       help="run on this Ray cluster (e.g. auto, or HEAD_IP:6379); default: a local Ray")  # fmt: skip
    sweep.add_argument("--max-concurrent", type=int, dest="max_concurrent", metavar="K",
                       help="at most K trials at once (default: as many as the CPUs hold)")  # fmt: skip
    sweep.add_argument("--cpus-per-trial", type=int, default=1, dest="cpus_per_trial", metavar="N",
                       help="CPUs (and torch threads) reserved per trial (default 1)")  # fmt: skip
    return parser


def _flag_overrides(args: argparse.Namespace) -> dict:
    names = {"steps": "total_steps", "seed": "seed", "n_envs": "n_envs", "vec_env": "vec_env"}
    names.update({k: k for k in ("eval_freq", "checkpoint_freq", "device", "threads")})
    return {field: getattr(args, flag) for flag, field in names.items() if getattr(args, flag) is not None}


def _train(args: argparse.Namespace, parser: OneLineParser, command: list[str]) -> int:
    if args.sweep is not None:
        return sweep_main(args, parser)
    if args.resume is not None:
        given = given_flags(args, ("env", "algo", "seed", "n_envs", "run_dir"))
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
        if holds_run(run_dir):  # train() checks again once it owns the folder; this refuses before any work
            parser.error(f"run directory {str(run_dir)!r} already holds a run; use --resume {run_dir}")
        if run_dir.exists() and not run_dir.is_dir():
            parser.error(f"--run-dir {str(run_dir)!r} is a file, not a folder")
    config.validate()
    check_env_config(config, warm_start=args.resume is None)  # a resume starts from its checkpoint
    summary = train(config, run_dir, resume=args.resume is not None, command=command)
    print(summary_line(summary))
    return 0


def train_main(argv: list[str] | None = None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)
    command = ["python", "train.py", *(sys.argv[1:] if argv is None else argv)]
    return run_command(parser, lambda: _train(args, parser, command))
