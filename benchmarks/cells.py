"""The brain's cells compared: a template trained with an LSTM, a GRU and an RNN cell on several seeds.

Each cell runs ``benchmarks/recipes.py``'s sweep (the template on the body, ``policy.cell`` set, each seed judged on
the template's tests, the first checkpoint passing on validation episodes found), then each finished seed's final
brain is recorded over a few episodes and read as a neuroscientist reads it (:mod:`agents.analysis`): how many units
are phase-tuned (tuning strength over 0.5) and how well forward speed decodes from the units (cross-validated R^2).
Prints one table: cell, seed, definition met, minutes, steps to the first pass, tuned units, decoding R^2.

    python benchmarks/cells.py walk --body Walker2d --seeds 0 1 2                      # lstm, gru, rnn
    python benchmarks/cells.py walk --body Walker2d --cells gru rnn --set policy.leak=0.5 --seeds 0
    python benchmarks/cells.py walk --body Walker2d --seeds 0 1 2 --report              # the table so far
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipes as recipe_bench

from agents.analysis.population import decode_continuous, population, tuning
from agents.analysis.recording import record
from agents.cli.parsing import OneLineParser, positive, run_command
from agents.config import CELLS, ConfigError
from agents.constants import VALIDATION_SEED
from agents.evaluation.rollout import evaluate_brain
from agents.runs import write_text
from agents.sweeps.spec import parse_sweep, trial_dir

#: A unit is phase-tuned when the gait phase explains more than this share of its variance.
TUNED = 0.5


def brain_view(run: Path, episodes: int) -> dict[str, float]:
    """Tuned units and forward-speed decoding R^2 of a run's final brain over ``episodes`` validation episodes."""
    recorded = evaluate_brain(str(run), episodes=episodes, seed=VALIDATION_SEED)
    rec = record(recorded.model, recorded.episodes)
    hidden = population(rec)
    phase = np.asarray(rec["gait_phase"])[:, 0]
    with warnings.catch_warnings():  # NumPy's, over units that never vary or phase bins never visited
        warnings.simplefilter("ignore", RuntimeWarning)
        strength = np.nan_to_num(tuning(hidden, phase)["strength"])
    r2 = decode_continuous(hidden, np.asarray(rec["com_velocity"])[:, 0], np.random.default_rng(0))["r2"]
    return {"tuned_units": int((strength > TUNED).sum()), "units": int(hidden.shape[1]), "speed_r2": r2}


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="cells", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", help="a template (walk, jump) on --body")
    parser.add_argument("--body", required=True)
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--steps", type=int, help="override the template's training steps (a quick look)")
    parser.add_argument("--view-episodes", type=int, default=3, help="episodes recorded for the brain view")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/cells"), help="one sweep folder per cell under it")
    parser.add_argument("--ray-address", help="a Ray cluster (default: a local Ray)")
    parser.add_argument("--max-concurrent", type=int, default=1, help="trials at once (default 1: a small machine)")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--report", action="store_true", help="only the table of the seeds finished so far")
    args = parser.parse_args(argv)
    positive(parser, args, "steps", "view_episodes", "max_concurrent")
    return run_command(parser, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.out is not None and not args.out.parent.is_dir():
        raise ConfigError(f"--out {str(args.out)!r}: its folder does not exist")
    rows = ["| cell | seed | meets definition | train min | first pass (steps) | tuned units | forward speed R^2 |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    worst = 0
    for cell in args.cells:
        sweep_dir = args.run_dir / f"{args.template}-{args.body.rpartition(':')[2].lower()}-{cell}"
        argv = [args.template, "--body", args.body, "--seeds", *map(str, args.seeds), "--run-dir", str(sweep_dir),
                "--set", f"policy.cell={cell}", *[a for text in args.set for a in ("--set", text)]]  # fmt: skip
        argv += ["--steps", str(args.steps)] if args.steps else []
        argv += ["--max-concurrent", str(args.max_concurrent)]
        argv += ["--ray-address", args.ray_address] if args.ray_address else []
        if not args.report:
            worst = max(worst, recipe_bench.main(argv))
        label, recipe = recipe_bench.recipe_of(args.template, args.body)
        sweep = parse_sweep(recipe_bench.sweep_of(label, recipe, args.seeds, args.steps, 5, 10,
                                                  [*args.set, f"policy.cell={cell}"]), "recipe")  # fmt: skip
        for trial in sweep.trials:
            folder = trial_dir(sweep_dir, trial)
            record_file = folder / "trial.json"
            if not record_file.is_file():
                rows.append(f"| {cell} | {trial.seed} | not finished | | | | |")
                continue
            result = json.loads(record_file.read_text())
            seconds = result["training"].get("seconds_total", result["training"].get("seconds"))
            view = brain_view(folder, args.view_episodes)
            first = result.get("first_pass_steps")
            rows.append(f"| {cell} | {trial.seed} | {'yes' if result.get('passed') else 'no'} | "
                        f"{'n/a' if seconds is None else f'{seconds / 60:.1f}'} | "
                        f"{'none' if first is None else f'{first:,}'} | {view['tuned_units']} of {view['units']} | "
                        f"{view['speed_r2']:.2f} |")  # fmt: skip
    text = "\n".join(rows)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    return worst


if __name__ == "__main__":
    sys.exit(main())
