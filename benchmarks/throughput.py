"""Training throughput: stock RecurrentPPO vs our fast LSTM policy vs SB3 PPO with an MLP, in one run.

Each algorithm trains on the same env with the same settings for ``--steps`` env steps after a short warm-up;
the script prints env-steps/s and the ratios. Run it on an otherwise idle machine and compare ratios, not absolute
numbers, across machines.

    python benchmarks/throughput.py                       # sb3-contrib's defaults: 1 env, n_steps=128, batch 128
    python benchmarks/throughput.py --preset              # our default training preset for the env
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import time

import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401
from agents.policies import FAST_POLICY

CONTENDERS = {
    "stock RecurrentPPO": (RecurrentPPO, "MlpLstmPolicy"),
    "ours (fast LSTM)": (RecurrentPPO, FAST_POLICY),
    "PPO MLP": (PPO, "MlpPolicy"),
}


def measure(algo, policy: str, args: argparse.Namespace) -> float:
    env = make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed)
    kwargs = {"n_steps": args.n_steps, "batch_size": args.batch_size, "n_epochs": args.n_epochs}
    policy_kwargs = {"lstm_hidden_size": args.lstm_hidden_size} if issubclass(algo, RecurrentPPO) else {}
    model = algo(policy, env, seed=args.seed, device="cpu", policy_kwargs=policy_kwargs, **kwargs)
    rollout = args.n_steps * args.n_envs
    model.learn(rollout)  # warm-up: one rollout and one update
    start = time.perf_counter()
    model.learn(args.steps, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    env.close()
    return (model.num_timesteps - rollout) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v0")
    parser.add_argument("--steps", type=int, default=8192, help="timed env steps per algorithm")
    parser.add_argument("--n-envs", type=int, default=1)
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--lstm-hidden-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS), default=list(CONTENDERS))
    args = parser.parse_args()

    print(
        f"env={args.env} n_envs={args.n_envs} n_steps={args.n_steps} batch_size={args.batch_size} "
        f"n_epochs={args.n_epochs} lstm_hidden_size={args.lstm_hidden_size} torch_threads={th.get_num_threads()}"
    )
    rates = {}
    for name in args.only:
        rates[name] = measure(*CONTENDERS[name], args)
        print(f"{name:>20}: {rates[name]:8.0f} env-steps/s", flush=True)
    ours = rates.get("ours (fast LSTM)")
    if ours is not None:
        for name in ("stock RecurrentPPO", "PPO MLP"):
            if name in rates:
                print(f"ours / {name}: {ours / rates[name]:.2f}x")


if __name__ == "__main__":
    main()
