"""Training alone and beside a filmed evaluation: how a run's speed holds up on a shared machine.

For each variant, trains ``--steps`` env steps of ``--env`` at its preset alone ``--repeats`` times (the variants
taking turns; the median counts, as one run's rate varies by about 10% on the 2-core machine), then once while
``evaluate.py BRAIN --video`` films episode after episode beside it. The first variant is the project's default;
``--variant 'NAME: ARGS'`` adds one, ARGS being train.py flags and ``VAR=VALUE`` environment variables of the
training process. Prints each variant's env steps per second alone and beside, their ratio, and each variant's
alone rate against the first's, all measured in this run. Nothing else should run meanwhile.

    python benchmarks/under_load.py
    python benchmarks/under_load.py --variant 'two: --threads 2' --variant 'passive: OMP_WAIT_POLICY=PASSIVE'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train_rate(env_id: str, steps: int, variables: dict[str, str], folder: Path, flags: list[str]) -> float:
    """Env steps per second of one training run (the trainer's own count, start-up excluded)."""
    run = folder / f"run-{time.monotonic_ns()}"
    command = [sys.executable, "train.py", "--env", env_id, "--steps", str(steps), "--eval-freq", "0",
               "--checkpoint-freq", "0", "--run-dir", str(run), *flags]  # fmt: skip
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


def parse_variant(text: str) -> tuple[str, dict[str, str], list[str]]:
    """``"NAME: --threads 2 OMP_WAIT_POLICY=PASSIVE"`` -> name, environment variables, train.py flags."""
    name, _, rest = text.partition(":")
    words = shlex.split(rest)
    variables = dict(w.split("=", 1) for w in words if re.match(r"^[A-Z_][A-Z0-9_]*=", w))
    return name.strip(), variables, [w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--brain", default="walker2d-walk", help="the bundled brain filmed beside the training")
    parser.add_argument("--variant", action="append", default=[], metavar="'NAME: [VAR=VALUE ...] [FLAGS ...]'")
    parser.add_argument("--no-default", action="store_true", help="only the variants given")
    parser.add_argument("--repeats", type=int, default=3, help="alone runs per variant (default 3)")
    args = parser.parse_args()
    variants = [*([] if args.no_default else [("default", {}, [])]), *map(parse_variant, args.variant)]
    alone: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    beside: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeats):
            for name, variables, flags in variants:
                alone[name].append(train_rate(args.env, args.steps, variables, folder, flags))
                print(f"{name}: alone {alone[name][-1]:.0f} steps/s", flush=True)
        for name, variables, flags in variants:
            film = filming(args.brain, folder)
            time.sleep(5)  # the filming is past its start-up
            try:
                beside[name] = train_rate(args.env, args.steps, variables, folder, flags)
            finally:
                stop(film)
            print(f"{name}: beside a filmed evaluation {beside[name]:.0f} steps/s", flush=True)
    rows = [(name, " ".join([*(f"{k}={v}" for k, v in variables.items()), *flags]), statistics.median(alone[name]),
             beside[name]) for name, variables, flags in variants]  # fmt: skip
    first = rows[0][2]
    print(
        f"\n{args.env}, {args.steps} steps at its preset, {os.cpu_count()} cores; alone: the median of {args.repeats}\n"
    )
    print("| variant | settings | alone steps/s | beside steps/s | beside / alone | alone / default alone |")
    print("|---|---|---|---|---|---|")
    for name, settings, solo, shared in rows:
        settings = settings or "the project's"
        print(f"| {name} | {settings} | {solo:.0f} | {shared:.0f} | {shared / solo:.2f} | {solo / first:.2f} |")


if __name__ == "__main__":
    main()
