"""Models by algorithm name: build one from a run's settings, load one from a file."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from agents.brains.algorithm import FastRecurrentPPO
from agents.brains.policies import FAST_POLICY, FastRecurrentActorCriticPolicy, InferenceRecurrentPolicy
from agents.config import TrainConfig
from agents.runs import RunError, model_problem

ALGORITHMS: dict[str, tuple[type[BaseAlgorithm], str]] = {
    "rppo": (FastRecurrentPPO, FAST_POLICY),
    "ppo": (PPO, "MlpPolicy"),
}
ACTIVATION_FNS = {"tanh": th.nn.Tanh, "relu": th.nn.ReLU, "elu": th.nn.ELU, "leaky_relu": th.nn.LeakyReLU}


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


def load_algorithm(
    path: Path,
    algo: str,
    *,
    env: VecEnv | None = None,
    device: str = "cpu",
    trainable: bool = True,
    algo_cls: type[BaseAlgorithm] | None = None,
    **kwargs: Any,
):
    """The ``algo`` model saved in ``path`` (on ``env``, if given); a missing or damaged file is a ``RunError``.

    An ``rppo`` model is given the fast policy class by name, so models saved when it lived in ``agents.policies``
    load too; with ``trainable=False`` it is :class:`~agents.brains.policies.InferenceRecurrentPolicy`, which
    acts alike and loads faster (no optimizer). ``algo_cls`` loads it as a subclass of the algorithm's class.
    """
    problem = model_problem(path)
    if problem is not None:
        raise RunError(f"cannot load model {str(path)!r}: it {problem}")
    algo_cls = algo_cls or ALGORITHMS[algo][0]
    policy_class = FastRecurrentActorCriticPolicy if trainable else InferenceRecurrentPolicy
    custom = {"policy_class": policy_class} if algo == "rppo" else None
    try:
        return algo_cls.load(path, env=env, device=device, custom_objects=custom, **kwargs)
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, RuntimeError, ImportError, AttributeError) as exc:
        raise RunError(f"cannot load model {str(path)!r}: {type(exc).__name__}: {exc}") from None
