"""Cloning against DAgger: open-loop test loss against what the fitted brain does in the body.

For each teacher (a bundled brain), records a dataset of its episodes (``neuromotor dataset``), fits the text's
LSTM(50) + Dense by behaviour cloning, and the same followed by DAgger iterations on the student's own episodes
(``neuromotor imitate --dagger``), then measures each in the body on the teacher's definition (its recipe's tests,
10 test episodes). Prints one table: teacher, method, test loss, falls, criteria met.

    python benchmarks/imitation.py walker2d-walk walker2d-jump --episodes 50 --dagger 5
    python benchmarks/imitation.py walker2d-walk --episodes 10 --epochs 5 --dagger 1 --out /tmp/t.md   # a quick look
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
import sys
from pathlib import Path

from agents.cli.parsing import OneLineParser, positive, run_command
from agents.config import ConfigError
from agents.evaluation.dataset import load_dataset, record_dataset
from agents.recipes.book import load_recipes
from agents.recipes.bundling import all_checks, measure_recipe
from agents.runs import write_text
from agents.training.imitate import imitate


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="imitation", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("teachers", nargs="+", help="bundled brains with recipes")
    parser.add_argument("--episodes", type=int, default=50, help="recorded episodes per teacher")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--dagger", type=int, default=5, help="DAgger iterations of the second student")
    parser.add_argument("--dagger-episodes", type=int, default=8)
    parser.add_argument("--dagger-epochs", type=int, default=20)
    parser.add_argument("--test-episodes", type=int, default=10, help="episodes in the body per test (default 10)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/imitation"), help="datasets and students go here")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    positive(parser, args, "episodes", "epochs", "dagger", "dagger_episodes", "dagger_epochs", "test_episodes")
    return run_command(parser, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    recipes = load_recipes()
    unknown = [t for t in args.teachers if t not in recipes]
    if unknown:
        raise ConfigError(
            f"{unknown[0]!r} has no recipe (no definition to measure against); valid: {', '.join(recipes)}"
        )
    rows = [
        f"| teacher | method | test loss (MSE) | falls in {args.test_episodes} test episodes | criteria met |",
        "|---|---|---|---|---|",
    ]
    for teacher in args.teachers:
        folder = args.run_dir / teacher
        data_dir = folder / "dataset"
        if data_dir.is_dir():
            data = load_dataset(data_dir)
        else:
            data = record_dataset([teacher], data_dir, episodes=args.episodes, progress=True)
        for method, dagger in (("cloning", 0), (f"cloning + {args.dagger} DAgger", args.dagger)):
            run = folder / ("bc" if not dagger else "dagger")
            if not (run / "model.zip").is_file():
                imitate(data, run, epochs=args.epochs, dagger=dagger, dagger_episodes=args.dagger_episodes,
                        dagger_epochs=args.dagger_epochs)  # fmt: skip
            loss = json.loads((run / "summary.json").read_text())["imitation"]["test_loss"]
            report = measure_recipe(str(run), recipes[teacher], episodes=args.test_episodes)
            checks = all_checks(report)
            falls = sum(bool(ep["fell"]) for ep in report["evaluation"]["episodes"])
            rows.append(f"| {teacher} | {method} | {loss:.4f} | {falls} | "
                        f"{sum(r['passed'] for r in checks)}/{len(checks)} |")  # fmt: skip
    text = "\n".join(rows)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
