"""The main job's cost: ``make demo``'s wall-clock time and one filmed evaluation's peak resident memory.

Runs ``make demo`` (after set-up, which must already have happened: the first run of ``make`` installs) and, on its
own, ``evaluate.py walker2d-walk --episodes 1 --video`` for a 1000-step episode, measuring that process's peak
resident set size (``ru_maxrss`` of the child). Goals: the demo in <= 60 s, the filmed evaluation under 600 MB.
It also films the same 500 steps twice, every step and at the default ``--video-fps``, and prints the ratio of
their times, both measured in this run (each includes the process's start: imports and loading the brain).

    python benchmarks/main_job.py
    python benchmarks/main_job.py --skip-demo      # the memory and the two filmed runs, not make demo
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_GOAL_S = 60.0
MEMORY_GOAL_MB = 600.0


def demo_seconds() -> float:
    start = time.perf_counter()
    subprocess.run(["make", "demo"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def filmed_evaluation_peak_mb(brain: str) -> float:
    """Peak RSS (MB) of one ``evaluate.py BRAIN --episodes 1 --video`` process."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        command = [sys.executable, "evaluate.py", brain, "--episodes", "1", "--video", f"{out}/{brain}.mp4"]
        subprocess.run(command, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # ru_maxrss of the children is the largest peak among the waited-for children (kB on Linux).
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def filmed_seconds(brain: str, video_fps: float | None, steps: int = 500) -> float:
    """Wall-clock seconds of ``evaluate.py BRAIN --episodes 1 --steps STEPS --video [--video-fps VIDEO_FPS]``."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        command = [sys.executable, "evaluate.py", brain, "--episodes", "1", "--steps", str(steps), "--video",
                   f"{out}/{brain}.mp4"] + (["--video-fps", str(video_fps)] if video_fps else [])  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brain", default="walker2d-walk", help="bundled brain for the memory and filming runs")
    parser.add_argument("--skip-demo", action="store_true", help="measure the filmed evaluations, not make demo")
    args = parser.parse_args()
    # Memory first: ru_maxrss of children is a maximum over all of them, and the demo's are not wanted in it.
    peak = filmed_evaluation_peak_mb(args.brain)
    mark = "ok" if peak < MEMORY_GOAL_MB else "above"
    print(f"evaluate.py {args.brain} --episodes 1 --video: peak resident {peak:.0f} MB (goal < {MEMORY_GOAL_MB:.0f})"
          f"  {mark}")  # fmt: skip
    every_step = filmed_seconds(args.brain, 1000.0)  # any rate above the env's films every step
    default = filmed_seconds(args.brain, None)
    print(f"evaluate.py {args.brain} --steps 500 --video: every step filmed {every_step:.1f} s, the default "
          f"--video-fps {default:.1f} s; ratio {default / every_step:.2f}")  # fmt: skip
    if not args.skip_demo:
        seconds = demo_seconds()
        mark = "ok" if seconds <= DEMO_GOAL_S else "above"
        print(f"make demo: {seconds:.1f} s (goal <= {DEMO_GOAL_S:.0f})  {mark}")


if __name__ == "__main__":
    main()
