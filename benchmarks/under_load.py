"""Training alone and beside a filmed evaluation: how a run's speed holds up on a shared machine.

For each variant (the project's default, and any given with ``--variant NAME=VAR=VALUE,...``, environment variables
of the training process), trains ``--steps`` env steps of ``--env`` at its preset twice: alone, then while
``evaluate.py BRAIN --video`` films episode after episode beside it. Prints each variant's env steps per second
alone and beside, the ratio of the two, and each variant's alone rate against the first variant's, all measured in
this run. Nothing else should run meanwhile.

    python benchmarks/under_load.py
    python benchmarks/under_load.py --variant one-thread=OMP_NUM_THREADS=1 --variant spin=NEUROMOTOR_THREADS=2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train_rate(env_id: str, steps: int, variables: dict[str, str], folder: Path) -> float:
    """Env steps per second of one training run (the trainer's own count, start-up excluded)."""
    run = folder / f"run-{time.monotonic_ns()}"
    command = [sys.executable, "train.py", "--env", env_id, "--steps", str(steps), "--eval-freq", "0",
               "--checkpoint-freq", "0", "--run-dir", str(run)]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, **variables}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return json.loads((run / "summary.json").read_text())["steps_per_second"]


def filming(brain: str, folder: Path) -> subprocess.Popen:
    """A shell loop filming ``brain`` (1000-step episodes) until killed."""
    film = f"{sys.executable} evaluate.py {brain} --episodes 1 --video {folder}/film.mp4 > /dev/null 2>&1"
    return subprocess.Popen(["bash", "-c", f"while true; do {film}; done"], cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 9)
    process.wait()


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition("=")
    variables = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, variables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--brain", default="walker2d-walk", help="the bundled brain filmed beside the training")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VAR=VALUE[,VAR=VALUE]")
    args = parser.parse_args()
    variants = [("default", {}), *map(parse_variant, args.variant)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, variables in variants:
            alone = train_rate(args.env, args.steps, variables, folder)
            film = filming(args.brain, folder)
            time.sleep(5)  # the filming is past its start-up
            try:
                beside = train_rate(args.env, args.steps, variables, folder)
            finally:
                stop(film)
            rows.append((name, variables, alone, beside))
            print(f"{name}: alone {alone:.0f}, beside a filmed evaluation {beside:.0f} steps/s", flush=True)
    first = rows[0][2]
    print(f"\n{args.env}, {args.steps} steps at its preset, {os.cpu_count()} cores\n")
    print("| variant | settings | alone steps/s | beside steps/s | beside / alone | alone / default alone |")
    print("|---|---|---|---|---|---|")
    for name, variables, alone, beside in rows:
        settings = ", ".join(f"{k}={v}" for k, v in variables.items()) or "the project's"
        print(f"| {name} | {settings} | {alone:.0f} | {beside:.0f} | {beside / alone:.2f} | {alone / first:.2f} |")


if __name__ == "__main__":
    main()
