"""Training throughput in one run: stock RecurrentPPO, ours (FastRecurrentPPO), and SB3 PPO with an MLP.

All three train the same env with the same settings, built exactly as ``train.py`` builds them. Contenders run
interleaved for ``--repeats`` rounds; the script prints each round's env-steps/s, the medians, and the ratios of the
medians. Compare ratios, not absolute numbers, across machines.

    python benchmarks/throughput.py                 # sb3-contrib's defaults: 1 env, n_steps=128, batch 128, LSTM 256
    python benchmarks/throughput.py --preset        # our default preset for the env (train.py's settings)
    python benchmarks/throughput.py --n-envs 4 --n-steps 512 --batch-size 128   # LSTM 256 + critic, 4 envs

It also times the raw physics (``mj_step`` alone, ``frame_skip`` substeps per env step, one process) in the same
rounds and prints each contender's training rate as a fraction of it: the distance to the limit of this machine.
Goals (issue 19): ours >= 0.8x the MLP at the preset; ours >= 4x stock at 4 envs, n_steps 512, batch 128, LSTM 256.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import statistics
import time

import gymnasium as gym
import mujoco
import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO

import envs
from agents.brains.models import ALGORITHMS, build_model
from agents.config import VEC_ENVS, TrainConfig, resolve_config
from agents.vecenvs import build_vec_env

STOCK, OURS, MLP = "stock RecurrentPPO", "ours (FastRecurrentPPO)", "SB3 PPO MLP"
PHYSICS = "raw physics (mj_step)"
CONTENDERS = {STOCK: (RecurrentPPO, "MlpLstmPolicy"), OURS: ALGORITHMS["rppo"], MLP: (PPO, "MlpPolicy")}
LSTM_ONLY = ("lstm_hidden_size", "n_lstm_layers", "enable_critic_lstm", "shared_lstm", "exact_steps", "bucket_sequences")


def sb3_contrib_defaults(env_id: str) -> TrainConfig:
    """RecurrentPPO defaults: 1 env, n_steps=128, batch 128, 10 epochs, LSTM 256 + critic LSTM, no VecNormalize."""
    return TrainConfig(env_id=env_id, n_envs=1, n_steps=128, batch_size=128, n_epochs=10, normalize=False).validate()


def physics_rate(env_id: str, steps: int, seed: int = 0) -> float:
    """Env steps per second of the env's MuJoCo model alone: ``frame_skip`` ``mj_step`` calls per env step under
    uniform random controls, reset to the initial state every 200 steps (about a falling episode's length)."""
    env = gym.make(envs.resolve_env_id(env_id))
    base = env.unwrapped
    base = getattr(base, "base", base)
    model, frame_skip = base.model, base.frame_skip
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    low, high = model.actuator_ctrlrange.T
    controls = rng.uniform(low, high, size=(steps, model.nu))
    start = time.perf_counter()
    for i, ctrl in enumerate(controls):
        if i % 200 == 0:
            mujoco.mj_resetData(model, data)
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, nstep=frame_skip)
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def measure(name: str, config: TrainConfig, steps: int) -> float:
    """Env steps per second of ``learn`` after a one-rollout warm-up."""
    policy = dict(config.policy)
    if name == STOCK:
        policy.pop("exact_steps", None)
        policy.pop("bucket_sequences", None)
    if name == MLP:
        policy = {k: v for k, v in policy.items() if k not in LSTM_ONLY}
    config = TrainConfig(**{**config.to_dict(), "policy": policy})
    env = build_vec_env(config, config.n_envs, config.seed)
    model = build_model(config, env, None, algorithm=CONTENDERS[name])
    rollout = config.n_steps * config.n_envs
    model.learn(rollout)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    env.close()
    return (model.num_timesteps - rollout) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v1")
    parser.add_argument("--preset", action="store_true", help="use train.py's preset for the env")
    parser.add_argument("--n-envs", type=int, help="override the number of envs")
    parser.add_argument("--n-steps", type=int, help="override n_steps (per env and rollout)")
    parser.add_argument("--batch-size", type=int, help="override the minibatch size")
    parser.add_argument("--vec-env", choices=VEC_ENVS, help="override the vec env kind (the same for all)")
    parser.add_argument("--steps", type=int, default=8192, help="timed env steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS), default=list(CONTENDERS))
    args = parser.parse_args()

    config = resolve_config(args.env, "rppo") if args.preset else sb3_contrib_defaults(args.env)
    overrides = {"n_envs": args.n_envs, "n_steps": args.n_steps, "batch_size": args.batch_size}
    overrides["vec_env"] = args.vec_env
    config = TrainConfig(**{**config.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}).validate()
    keys = ("n_envs", "n_steps", "batch_size", "n_epochs", "normalize", "vec_env")
    settings = {k: getattr(config, k) for k in keys}
    print(f"env={args.env} {'preset' if args.preset else 'sb3-contrib defaults'}: {settings} policy={config.policy}")
    print(f"timed steps={args.steps} repeats={args.repeats} torch_threads={th.get_num_threads()}")
    rates: dict[str, list[float]] = {name: [] for name in [*args.only, PHYSICS]}
    for round_ in range(args.repeats):
        for name in args.only:
            rates[name].append(measure(name, config, args.steps))
            print(f"round {round_ + 1}: {name:>24}: {rates[name][-1]:7.0f} env-steps/s", flush=True)
        rates[PHYSICS].append(physics_rate(args.env, args.steps, seed=round_))
        print(f"round {round_ + 1}: {PHYSICS:>24}: {rates[PHYSICS][-1]:7.0f} env-steps/s", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("median env-steps/s: " + ", ".join(f"{name} {rate:.0f}" for name, rate in medians.items()))
    for name in args.only:
        print(f"{name} / raw physics: {medians[name] / medians[PHYSICS]:.2f}")
    if OURS in medians:
        for name in (STOCK, MLP):
            if name in medians:
                per_round = [o / r for o, r in zip(rates[OURS], rates[name], strict=True)]
                print(
                    f"ours / {name}: {medians[OURS] / medians[name]:.2f}x "
                    f"(per round {min(per_round):.2f}x to {max(per_round):.2f}x)"
                )


if __name__ == "__main__":
    main()
