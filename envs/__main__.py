"""``python -m envs``: list the registered bodies and tasks, and take each body for a short random stroll."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import envs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m envs", description=__doc__)
    parser.add_argument("--steps", type=int, default=200, help="random-action steps per env (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")

    table = Table(title=f"neuromotor envs: {args.steps} random steps each (seed {args.seed})")
    for column in ("env id", "obs", "proprio", "act", "feet", "stand COM", "steps", "fell", "return"):
        table.add_column(column, justify="left" if column == "env id" else "right", no_wrap=True)
    for env_id in envs.env_ids():
        env = gym.make(env_id)
        proprio = gym.make(env_id, obs="proprio").observation_space.shape[0]
        env.reset(seed=args.seed)
        rng = np.random.default_rng(args.seed)
        total, steps, fell = 0.0, 0, False
        for steps in range(1, args.steps + 1):  # noqa: B007
            action = rng.uniform(env.action_space.low, env.action_space.high)
            _, reward, terminated, truncated, _ = env.step(action)
            total += reward
            if terminated or truncated:
                fell = terminated
                break
        body = env.unwrapped.body
        table.add_row(
            env_id,
            str(env.observation_space.shape[0]),
            str(proprio),
            str(env.action_space.shape[0]),
            str(len(env.unwrapped.foot_labels)),
            f"{body.standing_com_height:.3f}",
            str(steps),
            "yes" if fell else "no",
            f"{total:.1f}",
        )
        env.close()
    console = Console()
    # Piped output defaults to 80 columns, too narrow for the ids; a terminal keeps its own width.
    Console(width=max(console.width, 110)).print(table)


if __name__ == "__main__":
    main()
