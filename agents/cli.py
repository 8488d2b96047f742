"""Command lines of the top-level scripts; ``train.py`` only calls :func:`train_main`."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import NoReturn

from agents.config import ALGOS, DEVICES, VEC_ENVS, ConfigError, field_help, parse_override, resolve_config
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
    return parser


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
        if args.resume is not None:
            given = [
                f"--{k.replace('_', '-')}"
                for k in ("env", "algo", "seed", "n_envs", "run_dir")
                if getattr(args, k) is not None
            ]
            if given or args.set:
                parser.error(
                    f"--resume takes its settings from the run; drop {', '.join(given + ['--set'] * bool(args.set))} "
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
        check_env_config(config)
        summary = train(config, run_dir, resume=args.resume is not None, command=command)
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 130
    print(summary_line(summary))
    return 0
