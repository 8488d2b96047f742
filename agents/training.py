"""The training loop around SB3: envs, model, run directory, checkpoints, Ctrl-C and resume."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

import envs
from agents.algorithm import FastRecurrentPPO
from agents.callbacks import CriticWarmup, InfoLogger, ProgressBar, SaveBest, Timer
from agents.config import ConfigError, TrainConfig, load_yaml
from agents.policies import FAST_POLICY

ALGORITHMS: dict[str, tuple[type[BaseAlgorithm], str]] = {
    "rppo": (FastRecurrentPPO, FAST_POLICY),
    "ppo": (PPO, "MlpPolicy"),
}
ACTIVATION_FNS = {"tanh": th.nn.Tanh, "relu": th.nn.ReLU, "elu": th.nn.ELU, "leaky_relu": th.nn.LeakyReLU}
CHECKPOINT_PREFIX = "ckpt"
_CHECKPOINT = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)_steps\.zip$")


class RunError(ValueError):
    """A run directory that cannot be used (missing, incomplete, already finished)."""


def default_run_dir(config: TrainConfig, root: Path = Path("runs")) -> Path:
    """``runs/<env>__<algo>__s<seed>__<YYYYmmdd-HHMMSS>``: sortable, and safe as a folder name."""
    env = re.sub(r"[^A-Za-z0-9_.-]+", "-", config.env_id)
    return root / f"{env}__{config.algo}__s{config.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


class EnvFactory:
    """Picklable env constructor that registers our ids (and imports ``module:`` ids) in any process."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], lead_in: dict[str, Any] | None = None) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)
        self.lead_in = dict(lead_in or {})

    def __call__(self) -> gym.Env:
        env = gym.make(envs.resolve_env_id(self.env_id), **self.env_kwargs)
        if self.lead_in:
            from agents.leadin import LeadIn

            env = LeadIn(env, self.env_id, self.env_kwargs, **self.lead_in)
        return env


def check_env_config(config: TrainConfig, warm_start: bool = True) -> None:
    """Fail early, with a one-line message, on an unknown env id or bad env kwargs (of any curriculum stage), and
    (with ``warm_start``) on an ``init_from`` brain that cannot start this run."""
    envs.resolve_env_id(config.env_id)
    spaces = []
    for _, kwargs in config.stages():
        try:
            env = EnvFactory(config.env_id, kwargs)()
        except (TypeError, ValueError, gym.error.Error) as exc:
            raise ConfigError(f"env {config.env_id!r} with env_kwargs {kwargs}: {exc}") from None
        spaces.append((env.observation_space, env.action_space))
        env.close()
    if any(s != spaces[-1] for s in spaces):
        raise ConfigError("curriculum: every stage's env must observe and act alike (same obs mode, body and task)")
    if config.lead_in:
        EnvFactory(config.env_id, config.env_kwargs, config.lead_in)().close()
    if warm_start and config.init_from:
        from agents.warmstart import check_source

        check_source(config, config.init_from)


def build_vec_env(
    config: TrainConfig, n_envs: int, seed: int, training: bool = True, env_kwargs: dict[str, Any] | None = None
) -> VecEnv:
    """The (optionally normalised) vectorised env of a run (with ``env_kwargs``: of a stage of its curriculum)."""
    vec_cls = SubprocVecEnv if config.vec_env == "subproc" and n_envs > 1 else DummyVecEnv
    kwargs = config.env_kwargs if env_kwargs is None else env_kwargs
    factory = EnvFactory(config.env_id, kwargs, config.lead_in)
    venv = make_vec_env(factory, n_envs=n_envs, seed=seed, vec_env_cls=vec_cls)
    if not config.normalize:
        return venv
    return VecNormalize(
        venv,
        training=training,
        norm_obs=True,
        norm_reward=config.norm_reward and training,
        clip_obs=config.clip_obs,
        gamma=config.gamma,
    )


def policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    kwargs = dict(config.policy)
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = ACTIVATION_FNS[kwargs["activation_fn"]]
    return kwargs


def build_model(
    config: TrainConfig,
    env: VecEnv,
    tensorboard_log: Path | None,
    algorithm: tuple[type[BaseAlgorithm], str] | None = None,
) -> BaseAlgorithm:
    """The model of ``config.algo``, or of another ``(class, policy)`` pair given the same settings."""
    algo_cls, policy = algorithm or ALGORITHMS[config.algo]
    return algo_cls(
        policy,
        env,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        target_kl=config.target_kl,
        policy_kwargs=policy_kwargs(config),
        tensorboard_log=None if tensorboard_log is None else str(tensorboard_log),
        seed=config.seed,
        device=config.device,
        verbose=0,
    )


@dataclass
class Checkpoint:
    steps: int
    model: Path
    vecnormalize: Path


def checkpoint_paths(folder: Path, steps: int) -> Checkpoint:
    """Where SB3's ``CheckpointCallback`` (and our Ctrl-C handler) put the checkpoint of ``steps``."""
    return Checkpoint(
        steps,
        folder / f"{CHECKPOINT_PREFIX}_{steps}_steps.zip",
        folder / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl",
    )


def checkpoint_steps(run_dir: Path) -> list[int]:
    """The env steps of every checkpoint saved in ``run_dir``, ascending."""
    return sorted(int(m.group(1)) for p in (run_dir / "checkpoints").glob("*.zip") if (m := _CHECKPOINT.match(p.name)))


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    steps = checkpoint_steps(run_dir)
    return checkpoint_paths(run_dir / "checkpoints", steps[-1]) if steps else None


def save_checkpoint(model: BaseAlgorithm, folder: Path) -> Checkpoint:
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_paths(folder, model.num_timesteps)
    model.save(checkpoint.model)
    env = model.get_vec_normalize_env()
    if env is not None:
        env.save(str(checkpoint.vecnormalize))
    return checkpoint


def save_run_config(config: TrainConfig, run_dir: Path) -> None:
    """Write the resolved settings into ``run_dir/config.yaml`` (creating the folder)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "config.yaml", "w") as f:
        yaml.safe_dump(config.to_dict(), f, sort_keys=False)


def load_run_config(run_dir: Path) -> TrainConfig:
    """The resolved settings saved in a run directory."""
    path = run_dir / "config.yaml"
    if not run_dir.is_dir():
        raise RunError(f"run directory {str(run_dir)!r} does not exist")
    if not path.is_file():
        raise RunError(f"{str(run_dir)!r} is not a run directory: it has no config.yaml")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise RunError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} does not hold a mapping of settings")
    return TrainConfig.from_dict(data, source=str(path))


def _open_model(config: TrainConfig, run_dir: Path, env: VecEnv, checkpoint: Checkpoint | None) -> BaseAlgorithm:
    """A new model on ``env``, or the checkpoint's, its normalisation statistics carried onto ``env``."""
    if checkpoint is None:
        model = build_model(config, env, run_dir / "tb")
        if config.init_from:
            from agents.warmstart import warm_start  # it needs agents.evaluation, which imports this module

            print(warm_start(model, config, config.init_from))
        return model
    if isinstance(env, VecNormalize):
        if not checkpoint.vecnormalize.is_file():
            env.close()
            raise RunError(f"checkpoint {checkpoint.model.name} has no {checkpoint.vecnormalize.name} beside it")
        env = VecNormalize.load(str(checkpoint.vecnormalize), env.venv)
        env.training, env.norm_reward = True, config.norm_reward
    algo_cls, _ = ALGORITHMS[config.algo]
    return algo_cls.load(checkpoint.model, env=env, device=config.device, tensorboard_log=str(run_dir / "tb"))


def _restore_evaluations(callback: EvalCallback, log: Path) -> None:
    """Carry a resumed run's evaluation history (and best score) into a fresh ``EvalCallback``."""
    if not log.is_file():
        return
    with np.load(log) as data:
        callback.evaluations_timesteps = data["timesteps"].tolist()
        callback.evaluations_results = data["results"].tolist()
        callback.evaluations_length = data["ep_lengths"].tolist()
    if callback.evaluations_results:
        callback.best_mean_reward = float(max(np.mean(r) for r in callback.evaluations_results))


def _callbacks(config: TrainConfig, run_dir: Path, total_steps: int, eval_env: VecEnv | None, progress: bool = True):
    n_envs = config.n_envs
    callbacks = [ProgressBar(total_steps)] if progress else []
    callbacks.append(InfoLogger())
    if config.init_critic_steps:
        callbacks.append(CriticWarmup(config.init_critic_steps))
    if config.checkpoint_freq:
        callbacks.append(
            CheckpointCallback(
                save_freq=max(config.checkpoint_freq // n_envs, 1),
                save_path=str(run_dir / "checkpoints"),
                name_prefix=CHECKPOINT_PREFIX,
                save_vecnormalize=True,
            )
        )
    if eval_env is not None:
        evaluation = EvalCallback(
            eval_env,
            n_eval_episodes=config.eval_episodes,
            eval_freq=max(config.eval_freq // n_envs, 1),
            log_path=str(run_dir / "eval"),
            deterministic=True,
            callback_on_new_best=SaveBest(run_dir / "best"),
            verbose=0,
        )
        _restore_evaluations(evaluation, run_dir / "eval" / "evaluations.npz")
        callbacks.append(evaluation)
    return callbacks


def train(
    config: TrainConfig, run_dir: Path, *, resume: bool = False, command: list[str] | None = None, progress: bool = True
) -> dict:
    """Train (or, with ``resume``, continue) the run in ``run_dir``; returns the summary that it also saves.

    ``progress`` shows a progress bar (sweeps run without one).

    Ctrl-C saves a checkpoint and raises ``KeyboardInterrupt`` once the envs are closed.
    """
    run_dir = Path(run_dir)
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        raise RunError(f"{str(run_dir)!r} has no checkpoint to resume from (checkpoints/ is empty)")
    if checkpoint is not None and checkpoint.steps >= config.total_steps:
        raise RunError(
            f"the run already reached {checkpoint.steps} of {config.total_steps} steps; pass a larger --steps"
        )
    save_run_config(config, run_dir)
    if command is not None:
        with open(run_dir / "command.txt", "a") as f:
            f.write(shlex.join(command) + "\n")

    # Evaluations judge the task the run ends on, whatever stage of its curriculum it is in.
    eval_env = build_vec_env(config, 1, config.seed + 10_000, training=False) if config.eval_freq else None
    timers: list[Timer] = []
    start = checkpoint.steps if checkpoint is not None else 0
    for end, env_kwargs in config.stages(start):
        env = build_vec_env(config, config.n_envs, config.seed, env_kwargs=env_kwargs)
        model = _open_model(config, run_dir, env, checkpoint)
        env = model.get_env()
        timers.append(Timer())
        callbacks = CallbackList([timers[-1], *_callbacks(config, run_dir, config.total_steps, eval_env, progress)])
        try:
            model.learn(
                end - model.num_timesteps,
                callback=callbacks,
                tb_log_name=config.algo,
                reset_num_timesteps=checkpoint is None,
            )
        except KeyboardInterrupt:
            _add_seconds(run_dir, sum(t.rate()[0] for t in timers))
            for callback in callbacks.callbacks:
                if isinstance(callback, ProgressBar) and callback.bar is not None:
                    callback.bar.close()
            saved = save_checkpoint(model, run_dir / "checkpoints")
            _close(env, eval_env)
            print(
                f"interrupted at step {saved.steps}: saved {saved.model}; resume with: python train.py --resume "
                f"{run_dir}"
            )
            raise
        if end < config.total_steps:
            # The next stage starts from this checkpoint in its own envs, as a resumed run would.
            checkpoint = save_checkpoint(model, run_dir / "checkpoints")
            _close(env)
    model.save(run_dir / "model.zip")
    if isinstance(env, VecNormalize):
        env.save(str(run_dir / "vecnormalize.pkl"))
    elapsed = sum(t.rate()[0] for t in timers)
    rate = (model.num_timesteps - start) / max(elapsed, 1e-9)
    total_seconds = _add_seconds(run_dir, elapsed)
    eval_callback = next((c for c in callbacks.callbacks if isinstance(c, EvalCallback)), None)
    returns = [ep["r"] for ep in model.ep_info_buffer]
    summary = {
        "env_id": config.env_id,
        "algo": config.algo,
        "seed": config.seed,
        "steps": int(model.num_timesteps),
        "seconds": round(elapsed, 1),
        "seconds_total": round(total_seconds, 1),
        "steps_per_second": round(rate, 1),
        "mean_return": float(np.mean(returns)) if returns else None,
        "best_eval_return": None if eval_callback is None else float(eval_callback.best_mean_reward),
        "run_dir": str(run_dir),
    }
    with open(run_dir / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    _close(env, eval_env)
    return summary


def _add_seconds(run_dir: Path, seconds: float) -> float:
    """Add a training segment's wall-clock time to the run's total (``time.json``, kept across resumes)."""
    log = run_dir / "time.json"
    total = (json.loads(log.read_text())["training_seconds"] if log.is_file() else 0.0) + seconds
    log.write_text(json.dumps({"training_seconds": round(total, 1)}) + "\n")
    return total


def _close(*venvs: VecEnv | None) -> None:
    for venv in venvs:
        if venv is None:
            continue
        # Subprocess workers may already have stopped on the same Ctrl-C.
        with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
            venv.close()


def summary_line(summary: dict) -> str:
    ret = summary["mean_return"]
    best = summary["best_eval_return"]
    return (
        f"done: {summary['env_id']} {summary['algo']} seed {summary['seed']}: {summary['steps']} steps in "
        f"{summary['seconds']:.0f} s ({summary['steps_per_second']:.0f} steps/s), mean return "
        f"{'n/a' if ret is None else f'{ret:.1f}'}, best eval "
        f"{'n/a' if best is None or not np.isfinite(best) else f'{best:.1f}'} -> {summary['run_dir']}"
    )
