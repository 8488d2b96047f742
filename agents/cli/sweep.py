"""Sweeps from the command line: ``train.py --sweep FILE`` runs one, ``evaluate.py SWEEP_DIR`` reports one."""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.cli.parsing import OneLineParser, check_output, given_flags, one_line, positive, run_command
from agents.config import PRESETS_FILE, ConfigError
from agents.sweeps import report as reports
from agents.sweeps import runner, spec


def sweep_main(args: argparse.Namespace, parser: OneLineParser) -> int:
    """Run every unfinished trial of ``args.sweep``; print the report. Exit 1 if some trial failed or stopped."""
    flags = ("env", "algo", "steps", "seed", "n_envs", "vec_env", "resume", "eval_freq", "checkpoint_freq", "device")
    given = given_flags(args, flags)
    if given:
        parser.error(f"--sweep takes its settings from the sweep file; drop {', '.join(given)}")
    positive(parser, args, "max_concurrent", "cpus_per_trial")
    sweep = spec.load_sweep(args.sweep)
    spec.check_envs(sweep)
    sweep_dir = args.run_dir or spec.SWEEPS_DIR / sweep.name
    where = f" on {args.ray_address}" if args.ray_address else ""
    seeds = len(sweep.trials) // len(sweep.settings)
    print(f"sweep {sweep.name}: {len(sweep.settings)} settings x {seeds} seeds = {len(sweep.trials)} trials in "
          f"{sweep_dir}{where}")  # fmt: skip
    tune_error = spec.ray_tune().TuneError
    try:
        outcome = runner.run_sweep(sweep, sweep_dir, address=args.ray_address, max_concurrent=args.max_concurrent,
                                   cpus_per_trial=args.cpus_per_trial)  # fmt: skip
    except (OSError, tune_error) as exc:
        raise ConfigError(one_line(f"sweep in {sweep_dir}: {exc}")) from None
    report = reports.write_report(sweep_dir)
    print(reports.markdown(report), end="")
    print(f"report: {', '.join(report['files'])}")
    left = [*outcome["failed"], *outcome["unfinished"]]
    if left:
        print(f"{len(outcome['failed'])} failed and {len(outcome['unfinished'])} unfinished of {len(sweep.trials)} "
              f"trials: {', '.join(left)}; rerun the same command for them (finished trials are skipped)")  # fmt: skip
        return 1
    return 0


def sweep_report_main(args: argparse.Namespace, parser: OneLineParser) -> int:
    """Write and print the report of the sweep directory ``args.target`` (and its best setting as a preset)."""
    presets = args.write_preset
    if presets is not None:
        try:
            check_output("--write-preset", presets, (".yaml", ".yml"), "a presets YAML file")
        except ValueError as exc:
            parser.error(str(exc))
        if not presets.is_file():
            parser.error(f"--write-preset {str(presets)!r} does not exist; give a presets file to append to, "
                         f"such as {PRESETS_FILE}")  # fmt: skip
    return run_command(parser, lambda: _sweep_report(Path(args.target), presets))


def _sweep_report(sweep_dir: Path, presets: Path | None) -> int:
    # Everything is read and checked before the report files are written.
    try:
        report = reports.aggregate(sweep_dir)
    except KeyError as exc:
        raise ConfigError(f"{sweep_dir}: a trial's trial.json lacks {exc}; rerun that trial") from None
    if presets is not None:
        reports.check_preset(report, presets)
    reports.write_report(sweep_dir, report)
    print(reports.markdown(report), end="")
    print(f"report: {', '.join(report['files'])}")
    if presets is not None:
        block = reports.write_preset(report, presets)
        print(f"appended to {presets}:{block}", end="")
    return 0
