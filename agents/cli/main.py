"""``neuromotor TOOL ...`` (also ``python -m agents TOOL ...``): every command under one name."""

from __future__ import annotations

import sys

from agents.cli import analyse, brains, distill
from agents.cli.evaluate import evaluate_main
from agents.cli.imitate import dataset_main, imitate_main
from agents.cli.train import train_main
from envs.__main__ import main as envs_main

#: Each tool: (entry point taking argv, one line of help).
TOOLS = {
    "train": (train_main, "train a brain, resume or extend a run, or run a sweep (as train.py)"),
    "evaluate": (evaluate_main, "measure, film and diagram a brain's gait, or report a sweep (as evaluate.py)"),
    "brains": (brains.main, "train, check, select, bundle and preview the bundled brains from their recipes"),
    "analyse": (analyse.main, "the brain view: population, tuning, decoding, lesions, perturbations"),
    "distill": (distill.main, "teach one student brain the gaits of teacher brains (DAgger)"),
    "dataset": (dataset_main, "record brains' walking and jumping episodes as a Minari dataset, split by seed"),
    "imitate": (imitate_main, "fit a brain to a dataset's action sequences (MSE, Adam) and put it in the body"),
    "envs": (envs_main, "list the registered bodies and tasks, and take each body for a random stroll"),
}


def usage() -> str:
    rows = "\n".join(f"  {name:<10} {text}" for name, (_, text) in TOOLS.items())
    return f"usage: neuromotor TOOL [ARGS...]   (neuromotor TOOL --help for a tool's own)\n\ntools:\n{rows}\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0
    tool, *rest = argv
    if tool not in TOOLS:
        print(f"neuromotor: error: unknown tool {tool!r}; valid: {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    return TOOLS[tool][0](rest) or 0
