"""Envs as a run makes them: a picklable env factory and the (optionally normalised) vectorised env."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

import envs
from agents.config import TrainConfig


class EnvFactory:
    """Picklable env constructor that registers our ids (and imports ``module:`` ids) in any process."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)

    def __call__(self) -> gym.Env:
        return gym.make(envs.resolve_env_id(self.env_id), **self.env_kwargs)


def build_vec_env(
    config: TrainConfig,
    n_envs: int,
    seed: int,
    training: bool = True,
    env_kwargs: dict[str, Any] | None = None,
    factory: Callable[[], gym.Env] | None = None,
) -> VecEnv:
    """The (optionally normalised) vectorised env of a run: ``n_envs`` copies of ``factory`` (default: the run's
    env with ``env_kwargs``, which default to the run's), seeded from ``seed``."""
    vec_cls = SubprocVecEnv if config.vec_env == "subproc" and n_envs > 1 else DummyVecEnv
    kwargs = config.env_kwargs if env_kwargs is None else env_kwargs
    venv = make_vec_env(factory or EnvFactory(config.env_id, kwargs), n_envs=n_envs, seed=seed, vec_env_cls=vec_cls)
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


def single_env(venv: VecEnv) -> gym.Env:
    """The one gym env inside a single-env ``DummyVecEnv``, normalised or not."""
    if venv.num_envs != 1:
        raise ValueError(f"expected a single-env VecEnv, got {venv.num_envs} envs")
    return venv.envs[0] if isinstance(venv, DummyVecEnv) else venv.venv.envs[0]


def close(*venvs: VecEnv | None) -> None:
    """Close vectorised envs, ignoring ``None`` and workers that already stopped (on the same Ctrl-C)."""
    for venv in venvs:
        if venv is None:
            continue
        with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
            venv.close()
