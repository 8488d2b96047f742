"""Kickstarting (Schmitt et al. 2018, arXiv 1803.03835): PPO plus a distillation loss towards gait teachers.

The student learns by reinforcement on its own task, and an auxiliary loss pulls its action means towards the
deterministic action of the teacher of the gait in force (chosen as :class:`~agents.training.distill.Teachers`
does). The loss's weight falls linearly to zero over ``anneal_steps``, after which the teachers stop running and
the run is plain PPO. The teachers see every step of the student's own rollouts, so the student is taught on the
states it visits (as in DAgger); while a commanded gait waits to take over, and for ``switch_grace`` steps after
each change of gait, nobody teaches, so the reward alone shapes the switches, which no specialist knows.

:class:`TeacherVecEnv` sits under the run's ``VecNormalize`` (teachers read raw observations) and labels each
observation; :class:`KickstartRolloutBuffer` stores the label with the step; :class:`KickstartPPO`'s update adds
the loss. With weight 0 the update is RecurrentPPO's, step for step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.brains.algorithm import FastRecurrentPPO, FastRecurrentRolloutBuffer
from agents.config import KICKSTART_DEFAULTS, ConfigError, TrainConfig
from agents.training.distill import Teachers, action_loss


def kickstart_weight(weight: float, anneal_steps: int, steps: int) -> float:
    """The distillation loss's weight after ``steps`` env steps: ``weight`` falling linearly to 0 at
    ``anneal_steps``."""
    if anneal_steps <= 0:
        return 0.0
    return float(weight) * max(0.0, 1.0 - steps / anneal_steps)


def teacher_loss(mean: th.Tensor, target: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """:func:`~agents.training.distill.action_loss` over the rows of ``mask`` (0, with a gradient, if none)."""
    if not bool(mask.any()):
        return mean.sum() * 0.0
    return action_loss(mean[mask], target[mask])


def kickstart_settings(config: TrainConfig) -> dict[str, Any]:
    """The run's ``kickstart`` setting with every default filled in."""
    return {**KICKSTART_DEFAULTS, **config.kickstart}


class TeacherVecEnv(VecEnvWrapper):
    """Labels every observation of a vectorised env with the action of its gait's teacher (NaN where no teacher
    teaches: a gait without one, a commanded gait not yet in force, or within ``switch_grace`` steps of a change of
    gait).

    A clock task's new gait waits for the clock (up to a cycle): meanwhile the observation shows the old gait with
    the new command (a jump's speed of 0 under a walk's clock), which the old gait's teacher was never taught. Its
    ``info`` names both gaits (``commanded_gait``, ``active_gait``), and such steps are left to the reward.

    :attr:`labels` belong to the observations last returned; :attr:`acted_on` to those the last actions were
    chosen on (what a rollout buffer stores with the step). Set :attr:`teaching` to False to stop the teachers.

    Args:
        venv: The env (raw observations: put it under any ``VecNormalize``).
        env_id: Its env id.
        env_kwargs: Its keyword arguments.
        teachers: Teacher brain of each gait, e.g. ``{"walk": "runs/clock-walk", "jump": "walker2d-jump"}``.
        switch_grace: Steps after a change of gait in force with no label.
        fresh: Each teacher's memory starts when its gait is commanded (see :class:`Teachers`).
    """

    def __init__(
        self,
        venv: VecEnv,
        env_id: str,
        env_kwargs: dict[str, Any],
        teachers: Mapping[str, str],
        *,
        switch_grace: int = KICKSTART_DEFAULTS["switch_grace"],
        fresh: bool = KICKSTART_DEFAULTS["fresh"],
    ) -> None:
        super().__init__(venv)
        self.teachers = Teachers(env_id, env_kwargs, teachers, venv.num_envs, fresh=fresh)
        self.taught = np.array(sorted(self.teachers.number.values()))
        self.switch_grace = switch_grace
        self.teaching = True
        n, dim = venv.num_envs, int(np.prod(venv.action_space.shape))
        self.labels = np.full((n, dim), np.nan, dtype=np.float32)
        self.acted_on = self.labels.copy()
        self.gait = np.full(n, -1)
        self.since_switch = np.zeros(n, dtype=np.int64)

    def _label(self, obs: np.ndarray, starts: np.ndarray, pending: np.ndarray) -> None:
        if not self.teaching:
            self.labels[:] = np.nan
            return
        gait = self.teachers.reader(obs)
        self.since_switch = np.where(gait != self.gait, 0, self.since_switch + 1)
        # An episode's first gait is no switch: it is taught from its first step.
        self.since_switch[starts] = self.switch_grace
        self.gait = gait
        actions = self.teachers.act(obs, starts).astype(np.float32)
        untaught = ~np.isin(gait, self.taught) | (self.since_switch < self.switch_grace) | (pending & ~starts)
        actions[untaught] = np.nan
        self.labels = actions

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._label(obs, np.ones(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool))
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self.acted_on = self.labels.copy()
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self._label(obs, np.asarray(dones, dtype=bool), pending_switches(infos))
        return obs, rewards, dones, infos


def pending_switches(infos: list[dict[str, Any]]) -> np.ndarray:
    """Whether each env's commanded gait is still waiting to take over (False for envs that do not say)."""
    return np.array([
        "commanded_gait" in info and "active_gait" in info and info["commanded_gait"] != info["active_gait"]
        for info in infos
    ], dtype=bool)  # fmt: skip


class Unlabelled(VecEnvWrapper):
    """A wrapper that changes nothing: an evaluation env's stand-in for :class:`TeacherVecEnv`, so that its
    wrappers line up with the training env's (SB3 copies normalisation statistics wrapper by wrapper)."""

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_wait(self):
        return self.venv.step_wait()


def teacher_wrapper(
    config: TrainConfig, env_kwargs: dict[str, Any] | None = None, teaching: bool = True
) -> Callable[[VecEnv], VecEnv]:
    """What wraps a kickstarted run's raw envs (with ``env_kwargs``, default the run's) in its teachers; with
    ``teaching`` False in :class:`Unlabelled` (an evaluation env, wrapped alike so SB3 can carry normalisation onto
    it)."""
    settings = kickstart_settings(config)
    kwargs = config.env_kwargs if env_kwargs is None else env_kwargs

    def wrap(venv: VecEnv) -> VecEnv:
        if not teaching:
            return Unlabelled(venv)
        return TeacherVecEnv(venv, config.env_id, kwargs, settings["teachers"],
                             switch_grace=settings["switch_grace"], fresh=settings["fresh"])  # fmt: skip

    return wrap


def find_teacher_env(env: VecEnv | None) -> TeacherVecEnv | None:
    """The :class:`TeacherVecEnv` among ``env``'s wrappers, if any."""
    while env is not None:
        if isinstance(env, TeacherVecEnv):
            return env
        env = getattr(env, "venv", None)
    return None


class KickstartRolloutBuffer(FastRecurrentRolloutBuffer):
    """The fast recurrent buffer, also storing each step's teacher action (:attr:`teacher_actions`, NaN where
    untaught); each minibatch's, padded like its actions, is left in :attr:`last_teacher_actions`."""

    source: TeacherVecEnv | None = None
    last_teacher_actions: th.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.teacher_actions = np.full((self.buffer_size, self.n_envs, self.action_dim), np.nan, dtype=np.float32)

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self.source is not None and self.source.teaching:
            self.teacher_actions[self.pos] = self.source.acted_on
        super().add(*args, **kwargs)

    def get(self, batch_size: int | None = None):
        if not self.generator_ready:
            self.teacher_actions = self.swap_and_flatten(self.teacher_actions)
        yield from super().get(batch_size)

    def _get_samples(self, batch_inds: np.ndarray, env_change: np.ndarray, env=None) -> RecurrentRolloutBufferSamples:
        samples = super()._get_samples(batch_inds, env_change, env)
        labels = self.teacher_actions[self.gather]
        labels[self.padding] = np.nan
        self.last_teacher_actions = self.to_torch(labels.reshape(-1, self.action_dim))
        return samples


class KickstartPPO(FastRecurrentPPO):
    """:class:`~agents.brains.algorithm.FastRecurrentPPO` whose loss adds ``kickstart_weight(...) *``
    :func:`teacher_loss` of the policy's action means against the stored teacher actions.

    Its env must be wrapped in a :class:`TeacherVecEnv` (under any ``VecNormalize``). It saves the same files as
    ``FastRecurrentPPO`` (the teachers are not saved); :meth:`set_kickstart` sets the weight and its annealing.
    """

    fast_buffer_class = KickstartRolloutBuffer
    kick_weight: float = KICKSTART_DEFAULTS["weight"]
    kick_anneal_steps: int = KICKSTART_DEFAULTS["anneal_steps"]

    def set_kickstart(self, weight: float, anneal_steps: int) -> None:
        self.kick_weight, self.kick_anneal_steps = float(weight), int(anneal_steps)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "kick_weight", "kick_anneal_steps"]

    def _setup_model(self) -> None:
        if not isinstance(self.observation_space, spaces.Box) or not isinstance(self.action_space, spaces.Box):
            raise ConfigError("kickstart needs flat (Box) observations and continuous (Box) actions")
        super()._setup_model()

    def current_kickstart_weight(self) -> float:
        return kickstart_weight(self.kick_weight, self.kick_anneal_steps, self.num_timesteps)

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps) -> bool:
        source = find_teacher_env(env)
        if source is None:
            raise ConfigError("KickstartPPO's env has no TeacherVecEnv: its teachers give no actions")
        source.teaching = self.current_kickstart_weight() > 0
        rollout_buffer.source = source
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)

    def has_auxiliary_losses(self) -> bool:
        return True

    def auxiliary_losses(
        self, data: RecurrentRolloutBufferSamples, mean: th.Tensor
    ) -> dict[str, tuple[float, th.Tensor]]:
        """The teacher loss (while its weight is above 0) besides the losses of :class:`FastRecurrentPPO`."""
        losses = super().auxiliary_losses(data, mean)
        weight = self.current_kickstart_weight()
        self.logger.record("train/kickstart_weight", weight)
        if weight > 0:
            target = self.rollout_buffer.last_teacher_actions
            taught = ~th.isnan(target).any(dim=1)
            if bool(taught.any()):
                losses["teacher_loss"] = (weight, teacher_loss(mean, th.nan_to_num(target), taught))
        return losses
