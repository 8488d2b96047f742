"""Training throughput in one run: stock RecurrentPPO, ours (FastRecurrentPPO), and SB3 PPO with an MLP.

All three train the same env with the same settings, built exactly as ``train.py`` builds them. Contenders run
interleaved for ``--repeats`` rounds; the script prints each round's env-steps/s, the medians, and the ratios of the
medians. Compare ratios, not absolute numbers, across machines.

    python benchmarks/throughput.py                 # sb3-contrib's defaults: 1 env, n_steps=128, batch 128, LSTM 256
    python benchmarks/throughput.py --preset        # our default preset for the env (train.py's settings)
    python benchmarks/throughput.py --n-envs 4 --n-steps 512 --batch-size 128   # LSTM 256 + critic, 4 envs
    python benchmarks/throughput.py --env neuromotor/Walker2d-Clock-v4 --preset --only "ours (FastRecurrentPPO)" \
        --variant gru:policy.cell=gru --variant "no critic LSTM:policy.enable_critic_lstm=false"   # ours, varied

It also counts the time each in-process run spends in MuJoCo's ``mj_step``: training env-steps/s as a fraction of
the raw physics rate on that core, the distance to the limit of this machine.
Goals (issue 19): ours >= 0.8x the MLP at the preset; ours >= 4x stock at 4 envs, n_steps 512, batch 128, LSTM 256.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import statistics
import time

import mujoco
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO

from agents.brains.models import ALGORITHMS, build_model
from agents.config import VEC_ENVS, TrainConfig, parse_override, resolve_config
from agents.training.trainer import apply_mirror
from agents.vecenvs import build_vec_env

STOCK, OURS, MLP = "stock RecurrentPPO", "ours (FastRecurrentPPO)", "SB3 PPO MLP"
CONTENDERS = {STOCK: (RecurrentPPO, "MlpLstmPolicy"), OURS: ALGORITHMS["rppo"], MLP: (PPO, "MlpPolicy")}
LSTM_ONLY = ("lstm_hidden_size", "n_lstm_layers", "enable_critic_lstm", "shared_lstm", "exact_steps", "cell", "leak",
             "bucket_sequences")  # fmt: skip


def sb3_contrib_defaults(env_id: str) -> TrainConfig:
    """RecurrentPPO defaults: 1 env, n_steps=128, batch 128, 10 epochs, LSTM 256 + critic LSTM, no VecNormalize."""
    return TrainConfig(env_id=env_id, n_envs=1, n_steps=128, batch_size=128, n_epochs=10, normalize=False).validate()


def variant(text: str, config: TrainConfig) -> tuple[str, TrainConfig]:
    """``LABEL:KEY=VALUE[,KEY=VALUE...]``: ours with those settings (``train.py --set`` keys) over ``config``."""
    label, sep, settings = text.partition(":")
    if not sep or not label or not settings:
        raise SystemExit(f"--variant {text!r}: expected LABEL:KEY=VALUE[,KEY=VALUE...]")
    if label in CONTENDERS:
        raise SystemExit(f"--variant {text!r}: the label {label!r} is a contender's name; choose another")
    fields, policy = config.to_dict(), dict(config.policy)
    for item in settings.split(","):
        key, value = parse_override(item)
        if key.startswith("policy."):
            policy[key.removeprefix("policy.")] = value
        else:
            fields[key] = value
    return label, TrainConfig(**{**fields, "policy": policy}).validate()


def measure(name: str, config: TrainConfig, steps: int, algorithm: tuple | None = None) -> tuple[float, float, float]:
    """Env steps per second of ``learn`` after a one-rollout warm-up, and the shares of that time spent in ``train``
    (the gradient epochs; the rest is collecting rollouts) and in MuJoCo's ``mj_step`` (in-process envs only)."""
    policy = dict(config.policy)
    if name == STOCK:
        policy.pop("exact_steps", None)
        policy.pop("bucket_sequences", None)
    if name == MLP:
        policy = {k: v for k, v in policy.items() if k not in LSTM_ONLY}
    config = TrainConfig(**{**config.to_dict(), "policy": policy})
    env = build_vec_env(config, config.n_envs, config.seed)
    model = build_model(config, env, None, algorithm=algorithm or CONTENDERS[name])
    apply_mirror(model, config)
    rollout = config.n_steps * config.n_envs
    model.learn(rollout)
    training = [0.0]
    epochs = model.train

    def timed_train() -> None:
        start = time.perf_counter()
        epochs()
        training[0] += time.perf_counter() - start

    model.train = timed_train
    physics = [0.0]
    step = mujoco.mj_step

    def timed_step(*args, **kwargs) -> None:
        start = time.perf_counter()
        step(*args, **kwargs)
        physics[0] += time.perf_counter() - start

    # Gymnasium calls mujoco.mj_step by attribute, so in-process envs' physics time is counted (not workers').
    mujoco.mj_step = timed_step
    try:
        start = time.perf_counter()
        model.learn(steps, reset_num_timesteps=False)
        elapsed = time.perf_counter() - start
    finally:
        mujoco.mj_step = step
    env.close()
    return (model.num_timesteps - rollout) / elapsed, training[0] / elapsed, physics[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v1")
    parser.add_argument("--preset", action="store_true", help="use train.py's preset for the env")
    parser.add_argument("--n-envs", type=int, help="override the number of envs")
    parser.add_argument("--n-steps", type=int, help="override n_steps (per env and rollout)")
    parser.add_argument("--batch-size", type=int, help="override the minibatch size")
    parser.add_argument("--vec-env", choices=VEC_ENVS, help="override the vec env kind (the same for all)")
    parser.add_argument("--buckets", action="store_true", help="ours with policy.bucket_sequences=true (opt-in)")
    parser.add_argument("--steps", type=int, default=8192, help="timed env steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS), default=list(CONTENDERS))
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
                        help="also ours with these settings (repeatable); ratios are printed against ours")  # fmt: skip
    args = parser.parse_args()

    config = resolve_config(args.env, "rppo") if args.preset else sb3_contrib_defaults(args.env)
    overrides = {"n_envs": args.n_envs, "n_steps": args.n_steps, "batch_size": args.batch_size}
    overrides["vec_env"] = args.vec_env
    if args.buckets:
        overrides["policy"] = {**config.policy, "bucket_sequences": True}
    config = TrainConfig(**{**config.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}).validate()
    keys = ("n_envs", "n_steps", "batch_size", "n_epochs", "normalize", "vec_env")
    settings = {k: getattr(config, k) for k in keys}
    print(f"env={args.env} {'preset' if args.preset else 'sb3-contrib defaults'}: {settings} policy={config.policy}")
    print(f"timed steps={args.steps} repeats={args.repeats} torch_threads={th.get_num_threads()}")
    variants = dict(variant(text, config) for text in args.variant)
    for label, varied in variants.items():
        print(f"variant {label}: {_difference(config, varied)}")
    names = [*args.only, *variants]
    rates: dict[str, list[float]] = {name: [] for name in names}
    shares: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.repeats):
        for name in names:
            if name in variants:
                rate, epochs, physics = measure(name, variants[name], args.steps, ALGORITHMS["rppo"])
            else:
                rate, epochs, physics = measure(name, config, args.steps)
            rates[name].append(rate)
            shares[name].append(physics)
            print(
                f"round {round_ + 1}: {name:>24}: {rate:7.0f} env-steps/s ({epochs:.0%} in gradient epochs, "
                f"{physics:.0%} in mj_step)",
                flush=True,
            )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("median env-steps/s: " + ", ".join(f"{name} {rate:.0f}" for name, rate in medians.items()))
    if config.vec_env == "dummy":
        # Training time spent in the physics: 1.0 would be training at the physics' own pace on one core.
        for name in names:
            print(f"{name}: {statistics.median(shares[name]):.2f} of the time in mj_step (training / raw physics)")
    if OURS in medians:
        for name in (STOCK, MLP, *variants):
            if name in medians:
                per_round = [o / r for o, r in zip(rates[OURS], rates[name], strict=True)]
                print(
                    f"ours / {name}: {medians[OURS] / medians[name]:.2f}x "
                    f"(per round {min(per_round):.2f}x to {max(per_round):.2f}x)"
                )


def _difference(base: TrainConfig, varied: TrainConfig) -> dict:
    before, after = base.to_dict(), varied.to_dict()
    changed = {k: after[k] for k in after if after[k] != before.get(k) and k != "policy"}
    changed.update({f"policy.{k}": v for k, v in after["policy"].items() if before["policy"].get(k) != v})
    return changed


if __name__ == "__main__":
    main()
