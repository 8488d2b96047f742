"""``python -m envs``: list the registered bodies and tasks, and take each body for a short random stroll."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
from typing import NoReturn

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import envs


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (``prog: error: ...``) with exit code 2, no usage dump, as the other
    commands' (envs imports nothing from agents, so it cannot share their parser)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> None:
    parser = _Parser(prog="python -m envs", description=__doc__)
    parser.add_argument("--steps", type=int, default=200, help="random-action steps per env (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resets and random actions, >= 0 (default 0)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a whole number >= 1, got {args.steps}")
    if args.seed < 0:
        parser.error(f"--seed must be a whole number >= 0, got {args.seed}")

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
