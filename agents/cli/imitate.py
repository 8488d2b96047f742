"""``neuromotor dataset`` and ``neuromotor imitate``: record brains' walking and jumping sequences, and fit a brain to
them (the motor-control text's LSTM(50) + Dense, MSE, Adam, 100 epochs, batch 32), then put it in the body.

    neuromotor dataset walker2d-gait --episodes 50 --out data/gaits        # walks and jumps on command; split by seed
    neuromotor imitate data/gaits --out runs/imitated                                # fit, report test loss and gait
    neuromotor imitate data/gaits --out runs/imitated-gru --cell gru --hidden 64 --epochs 200
    neuromotor imitate data/gaits --out runs/dagger --dagger 5   # then DAgger: the teacher labels the student's states
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agents.cli.parsing import OneLineParser, non_negative, positive, run_command
from agents.config import CELLS, ConfigError
from agents.constants import TEST_EPISODES
from agents.evaluation.dataset import DATASET_SEED, load_dataset, record_dataset
from agents.recipes.book import load_recipes
from agents.recipes.bundling import all_checks, measure_recipe
from agents.training.imitate import imitate


def dataset_main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="neuromotor dataset", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("brains", nargs="+", help="bundled brains, run directories or model files (one env)")
    parser.add_argument("--episodes", type=int, required=True, help="episodes of each brain")
    parser.add_argument("--out", type=Path, required=True, help="the new dataset's folder")
    parser.add_argument("--test-every", type=int, default=5, help="every Nth episode (by seed) is a test episode")
    parser.add_argument("--seed", type=int, default=DATASET_SEED, help=f"first episode's seed (default {DATASET_SEED})")
    parser.add_argument("--env-kwargs", type=json.loads, help="JSON env kwargs over each brain's (e.g. a schedule)")
    args = parser.parse_args(argv)
    positive(parser, args, "episodes", "test_every")
    non_negative(parser, args, "seed")
    if args.env_kwargs is not None and not isinstance(args.env_kwargs, dict):
        parser.error(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")

    def run() -> int:
        data = record_dataset(args.brains, args.out, episodes=args.episodes, test_every=args.test_every,
                              seed=args.seed, env_kwargs=args.env_kwargs, progress=True)  # fmt: skip
        print(f"wrote {args.out}: {len(data.train.actions)} training episodes ({data.train.steps} steps), "
              f"{len(data.test.actions)} test episodes ({data.test.steps} steps) of {', '.join(data.brains)} "
              f"in {data.env_id}")  # fmt: skip
        return 0

    return run_command(parser, run)


def imitate_main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="neuromotor imitate", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("dataset", type=Path, help="a dataset written by neuromotor dataset")
    parser.add_argument("--out", type=Path, required=True, help="the fitted brain's run directory (new)")
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="the recurrent cell (default lstm)")
    parser.add_argument("--hidden", type=int, default=50, help="recurrent units (default 50)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32, help="episodes per minibatch (default 32)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dagger", type=int, default=0, help="DAgger iterations after cloning (default 0: none)")
    parser.add_argument("--dagger-episodes", type=int, default=8, help="the student's episodes per DAgger iteration")
    parser.add_argument("--dagger-epochs", type=int, default=20, help="epochs after each DAgger iteration")
    parser.add_argument("--episodes", type=int, default=TEST_EPISODES, help="closed-loop test episodes (0: none)")
    args = parser.parse_args(argv)
    positive(parser, args, "hidden", "epochs", "batch_size", "dagger_episodes", "dagger_epochs")
    non_negative(parser, args, "seed", "episodes", "dagger")
    if not args.learning_rate > 0:
        parser.error(f"--learning-rate must be > 0, got {args.learning_rate}")
    return run_command(parser, lambda: _imitate(args))


def _imitate(args: argparse.Namespace) -> int:
    data = load_dataset(args.dataset)
    if args.out.exists() and any(args.out.iterdir()):
        raise ConfigError(f"{str(args.out)!r} is not empty; fit into a new folder")
    fit = imitate(data, args.out, cell=args.cell, hidden=args.hidden, epochs=args.epochs,
                  batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed, dagger=args.dagger,
                  dagger_episodes=args.dagger_episodes, dagger_epochs=args.dagger_epochs)  # fmt: skip
    print(f"test loss {fit.test_loss[-1]:.5f}")
    if not args.episodes:
        return 0
    # In the body: the teacher's definition, where the dataset is one bundled brain's; else its own test episodes.
    recipes = load_recipes()
    teacher = data.brains[0] if len(data.brains) == 1 and data.brains[0] in recipes else None
    recipe = recipes[teacher] if teacher else {"env_id": data.env_id, "criteria": {"fell": {"max": 0}}}
    report = measure_recipe(str(args.out), recipe, episodes=args.episodes)
    checks = all_checks(report)
    what = f"{teacher}'s definition" if teacher else "no falls (the dataset mixes brains: no one definition)"
    print(f"in the body, {args.episodes} test episodes against {what}: {sum(r['passed'] for r in checks)} of "
          f"{len(checks)} criteria met")  # fmt: skip
    for row in checks:
        value = row["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {'PASS' if row['passed'] else 'FAIL'} {row['metric']} = {shown} (want {row['rule']})")
    return 0
