"""Learning benchmark: our LSTM brain vs SB3 PPO with an MLP, at equal env steps, over seeds and senses.

For every (algo, obs mode, seed) it trains a run with train.py's machinery, then measures the final model over
deterministic episodes with the walk criteria of ``agents/recipes/recipes.yaml``. It writes, into ``--out``:

- ``results.md``: per (algo, obs), mean +- std over seeds of the final return and of walk success (the fraction of
  criteria met, and how many seeds meet all of them);
- ``learning_curves.png``: evaluation return against env steps, mean and min-max band over seeds;
- ``results.json``: every number behind both.

    python benchmarks/learning.py                                   # 3 seeds x {full, proprio} x {rppo, ppo}
    python benchmarks/learning.py --steps 50000 --seeds 0 --episodes 2   # a quick smoke run
    python benchmarks/learning.py --env Walker2d-v5 --algos rppo --obs full --steps 1000000 --out runs/benchmark_native
    python benchmarks/learning.py --clock-walk --algos rppo --obs full --out runs/benchmark_clock_walk

``--clock-walk`` adds the clock walk as a contender: our LSTM on ``neuromotor/Walker2d-Clock-v4`` with only the walk
schedule at 1 m/s, at the same steps and seeds, measured by the same walk criteria (rows ``rppo-clock``).

For an env that is not ours (``Walker2d-v5``) the observation is the env's own, there are no gait criteria, and the
table sets the final return beside published PPO figures.

Runs already finished in ``--out`` are reused, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from agents.config import resolve_config
from agents.constants import TEST_SEED
from agents.evaluation.criteria import check_criteria
from agents.evaluation.rollout import evaluate_brain
from agents.recipes.book import load_recipes
from agents.training.trainer import train

#: Published PPO returns at 1M steps, for the native Walker2d reward.
PUBLISHED = {
    "Walker2d-v5": [
        ("RL Zoo PPO, Walker2d-v3, 1M steps", 3479),
        ("CleanRL PPO, Walker2d-v4, 1M steps", 2288),
    ]
}


#: The clock walk contender: the clock task with only its walk schedule, at the walk task's 1 m/s, with speed
#: tracking weighted as in the walk template (agents.recipes.templates.walk).
CLOCK_WALK_ENV = "neuromotor/Walker2d-Clock-v4"
CLOCK_WALK_KWARGS = {"gaits": ["walk"], "speed_range": [1.0, 1.0], "speed_weight": 1.0, "speed_scale": 2.0}
CLOCK_WALK_EVAL = {"schedule": "walk:1.0@0"}


def run_one(
    env_id: str,
    algo: str,
    obs: str,
    seed: int,
    steps: int,
    episodes: int,
    out: Path,
    *,
    label: str | None = None,
    env_kwargs: dict | None = None,
    eval_env_kwargs: dict | None = None,
) -> dict:
    label = label or algo
    run_dir = out / f"{label}__{obs}__s{seed}"
    if not (run_dir / "model.zip").is_file():
        settings = {"total_steps": steps, "seed": seed, "eval_freq": max(steps // 10, 1)}
        if env_id.startswith("neuromotor/"):
            settings["env_kwargs.obs"] = obs
        for key, value in (env_kwargs or {}).items():
            settings[f"env_kwargs.{key}"] = value
        train(resolve_config(env_id, algo, settings), run_dir)
    result = evaluate_brain(run_dir, episodes=episodes, seed=TEST_SEED, env_kwargs=eval_env_kwargs).summary()
    curve = np.load(run_dir / "eval" / "evaluations.npz")
    return {
        "algo": label,
        "obs": obs,
        "seed": seed,
        "summary": result["summary"],
        "curve_steps": curve["timesteps"].tolist(),
        "curve_returns": curve["results"].mean(axis=1).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="neuromotor/Walker2d-Walk-v1")
    parser.add_argument("--algos", nargs="+", default=["rppo", "ppo"], choices=["rppo", "ppo"])
    parser.add_argument("--obs", nargs="+", default=["full", "proprio"], choices=["full", "proprio"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1_500_000, help="env steps per run (equal for all)")
    parser.add_argument("--episodes", type=int, default=10, help="final evaluation episodes per run")
    parser.add_argument("--criteria", default="walker2d-walk", help="brain recipe whose criteria define success")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_learning"))
    parser.add_argument("--clock-walk", action="store_true", help="add our LSTM on the clock task's walk (rppo-clock)")
    args = parser.parse_args()

    ours = args.env.startswith("neuromotor/")
    criteria = load_recipes()[args.criteria]["criteria"] if ours else {}
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    contenders = [(algo, args.env, algo, {}) for algo in args.algos]
    if args.clock_walk:
        contenders.append(("rppo-clock", CLOCK_WALK_ENV, "rppo", {"env_kwargs": CLOCK_WALK_KWARGS,
                                                                  "eval_env_kwargs": CLOCK_WALK_EVAL}))  # fmt: skip
    for label, env_id, algo, extra in contenders:
        for obs in args.obs:
            for seed in args.seeds:
                run = run_one(env_id, algo, obs, seed, args.steps, args.episodes, args.out, label=label, **extra)
                checks = check_criteria(run["summary"], criteria)
                run["criteria_met"] = sum(c["passed"] for c in checks) / len(checks) if checks else float("nan")
                run["success"] = bool(checks) and all(c["passed"] for c in checks)
                runs.append(run)
                print(f"{label} {obs} seed {seed}: return {run['summary']['return']['mean']:.1f}, "
                      f"criteria met {run['criteria_met']:.0%}", flush=True)  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(runs, indent=2, default=float))

    lines = [
        f"{args.env}, {args.steps:,} env steps per run, seeds {args.seeds}, final evaluation over {args.episodes} "
        f"deterministic episodes; "
        + (f"success = every `{args.criteria}` criterion met." if ours else "no gait criteria (not one of our envs).")
        + (
            f" `rppo-clock`: {CLOCK_WALK_ENV} with {CLOCK_WALK_KWARGS}, tested on {CLOCK_WALK_EVAL}."
            if args.clock_walk
            else ""
        ),
        "",
        "| algo | obs | return (mean +- std) | criteria met (mean +- std) | seeds with success |",
        "|---|---|---|---|---|",
    ]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for algo, *_ in contenders:
        for obs in args.obs:
            group = [r for r in runs if r["algo"] == algo and r["obs"] == obs]
            returns = [r["summary"]["return"]["mean"] for r in group]
            met = [r["criteria_met"] for r in group]
            lines.append(
                f"| {algo} | {obs} | {np.mean(returns):.1f} +- {np.std(returns):.1f} | "
                f"{np.mean(met):.2f} +- {np.std(met):.2f} | {sum(r['success'] for r in group)}/{len(group)} |"
            )
            length = min(len(r["curve_steps"]) for r in group)
            steps = np.array(group[0]["curve_steps"][:length])
            curves = np.array([r["curve_returns"][:length] for r in group])
            ax.plot(steps, curves.mean(axis=0), label=f"{algo} {obs}")
            ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), alpha=0.2)
    for label, value in PUBLISHED.get(args.env, []):
        lines.append(f"| {label} (published) | | {value} | | |")
        ax.axhline(value, color="0.5", ls="--", lw=0.8)
        ax.annotate(label, (0, value), fontsize=7, color="0.4", va="bottom")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{args.env}: mean and min-max over seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "learning_curves.png", dpi=110)
    print("\n".join(lines))
    print(f"wrote {args.out / 'results.md'}, {args.out / 'learning_curves.png'}")


if __name__ == "__main__":
    main()
