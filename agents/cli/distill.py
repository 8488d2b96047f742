"""``neuromotor distill``: teach one student brain the gaits of teacher brains by DAgger (or measure the teachers).

    neuromotor distill runs/student --env neuromotor/Walker2d-Clock-v4 --set "env_kwargs.gaits=[walk, jump]" \\
        --teacher walk=walker2d-walk --teacher jump=walker2d-jump --iterations 12
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agents.cli.parsing import OneLineParser, run_command
from agents.config import ConfigError, parse_override, resolve_config
from agents.constants import TEST_SEED
from agents.training.distill import distill, measure_teachers


def _teacher_pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        gait, sep, source = value.partition("=")
        if not sep or not gait.strip() or not source.strip():
            raise ConfigError(f"--teacher expects GAIT=BRAIN (e.g. jump=walker2d-jump), got {value!r}")
        if gait.strip() in pairs:
            raise ConfigError(f"--teacher names two teachers for {gait.strip()!r}; give one brain per gait")
        pairs[gait.strip()] = source.strip()
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="neuromotor distill", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("run_dir", type=Path, help="where the student brain is written (a run directory)")
    parser.add_argument(
        "--env", required=True, help="the gait or clock env of the student, e.g. neuromotor/Walker2d-Clock-v4"
    )
    parser.add_argument("--teacher", action="append", default=[], metavar="GAIT=BRAIN", help="teacher of a gait")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a student setting")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--steps-per-iteration", type=int, default=8192, help="env steps per env per iteration")
    parser.add_argument("--epochs", type=int, default=3, help="passes over all data after each iteration")
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument(
        "--measure-teachers",
        metavar="SCHEDULE",
        help="instead: measure the teachers, switched by this command schedule, as one brain",
    )
    parser.add_argument("--episodes", type=int, default=10, help=f"with --measure-teachers (seeds {TEST_SEED} on)")
    parser.add_argument(
        "--fresh-teachers",
        action="store_true",
        help="each teacher's memory starts when its gait is commanded",
    )
    args = parser.parse_args(argv)
    return run_command(parser, lambda: _distill(args))


def _distill(args: argparse.Namespace) -> int:
    if args.iterations < 1 or args.steps_per_iteration < 1 or args.epochs < 1 or args.n_envs < 1:
        raise ConfigError("--iterations, --steps-per-iteration, --epochs and --n-envs must be >= 1")
    config = resolve_config(args.env, "rppo", dict(parse_override(x) for x in args.set))
    if args.measure_teachers:
        measured = measure_teachers(config, _teacher_pairs(args.teacher), args.measure_teachers, args.episodes,
                                    fresh=args.fresh_teachers)  # fmt: skip
        print(json.dumps(measured, indent=2, default=float))
        return 0
    distill(
        config,
        _teacher_pairs(args.teacher),
        args.run_dir,
        iterations=args.iterations,
        steps_per_iteration=args.steps_per_iteration,
        epochs=args.epochs,
        distiller_kwargs={"n_envs": args.n_envs, "fresh_teachers": args.fresh_teachers},
    )
    print(f"wrote {args.run_dir}")
    return 0
