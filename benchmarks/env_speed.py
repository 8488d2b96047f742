"""Env overhead: each neuromotor env's step rate against the Gymnasium env it wraps, side by side in one run.

Both are made with ``gym.make`` (so both carry Gymnasium's wrappers) and stepped with the same pre-drawn uniform
random actions, resetting when an episode ends. The two alternate in short rounds, so machine noise hits both alike;
the printed ratio is ours / Gymnasium's (median over rounds). The goal is >= 0.85 for every id.

    python benchmarks/env_speed.py                      # every built-in body and task
    python benchmarks/env_speed.py --ids neuromotor/Walker2d-Walk-v1 --steps 5000 --rounds 5
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import envs

#: The Gymnasium id behind each built-in body.
NATIVE = {"Walker2d": "Walker2d-v5", "Hopper": "Hopper-v5", "HalfCheetah": "HalfCheetah-v5", "Ant": "Ant-v5",
          "Humanoid": "Humanoid-v5"}  # fmt: skip
GOAL = 0.85


def steps_per_second(env: gym.Env, actions: np.ndarray, seed: int) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def compare(env_id: str, steps: int, rounds: int) -> tuple[float, float, float]:
    """Median steps/s of ``env_id`` and of its Gymnasium env, and their median ratio."""
    body = env_id.split("/")[1].split("-")[0]
    ours, theirs = gym.make(env_id), gym.make(NATIVE[body])
    rng = np.random.default_rng(0)
    space = ours.action_space
    actions = rng.uniform(space.low, space.high, size=(steps, *space.shape))
    steps_per_second(ours, actions[:200], 0)  # warm up both (first renders of caches, allocations)
    steps_per_second(theirs, actions[:200], 0)
    rates = []
    for r in range(rounds):
        rates.append((steps_per_second(ours, actions, r), steps_per_second(theirs, actions, r)))
    ours.close()
    theirs.close()
    ratios = [a / b for a, b in rates]
    return float(np.median([a for a, _ in rates])), float(np.median([b for _, b in rates])), float(np.median(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", nargs="*", help="env ids (default: every built-in neuromotor id)")
    parser.add_argument("--steps", type=int, default=2000, help="steps per round and env")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ids = args.ids or [i for i in envs.env_ids() if i.split("/")[1].split("-")[0] in NATIVE]
    print(f"{'env id':<34} {'ours steps/s':>12} {'gymnasium':>10} {'ratio':>6}  goal >= {GOAL}")
    for env_id in ids:
        ours, theirs, ratio = compare(env_id, args.steps, args.rounds)
        mark = "ok" if ratio >= GOAL else "below"
        print(f"{env_id:<34} {ours:>12.0f} {theirs:>10.0f} {ratio:>6.2f}  {mark}", flush=True)


if __name__ == "__main__":
    main()
