"""Envs as a run makes them: a picklable env factory and the (optionally normalised) vectorised env."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

import envs
from agents.config import TrainConfig


class EnvFactory:
    """Picklable env constructor that registers our ids (and imports ``module:`` ids) in any process."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)

    def __call__(self) -> gym.Env:
        return gym.make(envs.resolve_env_id(self.env_id), **self.env_kwargs)


class InProcessVecEnv(DummyVecEnv):
    """``DummyVecEnv`` that hands out each step's info dicts as the envs made them, not deep copies.

    SB3 deep-copies every step's infos because an env might reuse one dict; Gymnasium's envs and ours build a new
    dict every step, so the copy is pure cost (a quarter of a Walker2d env step, measured in a preset training run:
    infos carry ~30 entries and NumPy arrays). Otherwise it steps, auto-resets and reports exactly as
    ``DummyVecEnv`` does.
    """

    def step_wait(self) -> VecEnvStepReturn:
        for i, env in enumerate(self.envs):
            obs, self.buf_rews[i], terminated, truncated, info = env.step(self.actions[i])
            done = terminated or truncated
            self.buf_dones[i] = done
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = env.reset()
            self.buf_infos[i] = info
            self._save_obs(i, obs)
        return self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones), list(self.buf_infos)


class WorkerVecEnv(SubprocVecEnv):
    """``SubprocVecEnv`` whose rewards are float32, as ``DummyVecEnv`` (and :class:`InProcessVecEnv`) hand them out.

    SB3's worker-process env stacks the workers' Python floats into float64, the in-process one writes them into a
    float32 buffer; normalised and stored, the two differ in the last bits and a seed's runs part ways. With the same
    dtype, envs in worker processes train exactly as in-process ones.
    """

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = super().step_wait()
        return obs, rewards.astype(np.float32), dones, infos


def build_vec_env(
    config: TrainConfig,
    n_envs: int,
    seed: int,
    training: bool = True,
    env_kwargs: dict[str, Any] | None = None,
    wrap: Callable[[VecEnv], VecEnv] | None = None,
) -> VecEnv:
    """The (optionally normalised) vectorised env of a run: ``n_envs`` copies of the run's env with ``env_kwargs``
    (default: the run's), seeded from ``seed``; ``wrap`` wraps them under the normalisation (it sees raw
    observations)."""
    vec_cls = WorkerVecEnv if config.vec_env == "subproc" and n_envs > 1 else InProcessVecEnv
    kwargs = config.env_kwargs if env_kwargs is None else env_kwargs
    venv = make_vec_env(EnvFactory(config.env_id, kwargs), n_envs=n_envs, seed=seed, vec_env_cls=vec_cls)
    if wrap is not None:
        try:
            venv = wrap(venv)
        except BaseException:
            venv.close()
            raise
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
