"""Lead-ins: training episodes that start where other brains leave off.

A brain that switches gaits takes over mid-stride: a jump begins out of a 1 m/s walk, a walk begins on landing.
A brain trained from rest never sees those states. A lead-in gives a brain learning one gait such starts: at each
reset, frozen lead brains drive the gait env's body through a random stretch of their own gaits (commands drawn
as the env draws them), and then the learner's gait is commanded to the episode's end. The learner's episode (its
observations, rewards, return and length) begins there; the lead-in is off its books. The lead brains act as
distillation teachers do (:class:`agents.training.distill.Teachers`, each starting afresh when its gait is commanded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from agents.config import ConfigError, check_lead_in
from agents.training.distill import Teachers
from agents.vecenvs import EnvFactory
from envs.tasks.clock import ClockTask
from envs.tasks.gait import GaitTask


class LeadIn(gym.Wrapper):
    """A gait env whose episodes start after a random lead-in by other brains.

    Args:
        env: A gait or clock env (``neuromotor/<Body>-Gait-v*`` or ``-Clock-v*``).
        env_id: Its id, and
        env_kwargs: its keyword arguments (the lead brains read its observations as their own tasks show them).
        brains: Lead brain of each gait, e.g. ``{"walk": "walker2d-walk-speeds"}``.
        gait: The learner's gait, commanded from the end of the lead-in to the end of the episode.
        steps: Range of lead-in lengths (env steps); 0 starts the learner from rest. The lead-in ends with a gait
            other than the learner's where a lead brain has one, so the learner takes over a switch.
        learner_steps: Steps after which the learner's episode is truncated (``None``: it runs to the env's time
            limit). Short episodes put more take-overs into the same number of learner steps.
        attempts: Lead-ins tried per reset before the learner starts from rest (a lead brain may fall; the reset's
            ``info["lead_in_fallback"]`` says so).
    """

    def __init__(
        self,
        env: gym.Env,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        brains: Mapping[str, str],
        gait: str,
        steps: tuple[int, int] | list[int] = (0, 500),
        learner_steps: int | None = None,
        attempts: int = 10,
    ) -> None:
        super().__init__(env)
        check_lead_in({"brains": dict(brains), "gait": gait, "steps": list(steps), "learner_steps": learner_steps})
        task = getattr(env.unwrapped, "task", None)
        if not isinstance(task, GaitTask | ClockTask):
            raise ConfigError(
                f"lead_in needs a gait or clock env (neuromotor/<Body>-Gait-v* or -Clock-v*), not {env_id}"
            )
        self.task = task
        self.gait = gait
        self.steps = (int(steps[0]), int(steps[1]))
        self.learner_steps = learner_steps
        self.attempts = attempts
        self.elapsed = 0
        self.horizon = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 1000
        if self.steps[1] >= self.horizon:
            raise ConfigError(f"lead_in.steps must end before the episode's {self.horizon} steps, got {list(steps)}")
        self.lead = Teachers(env_id, dict(env_kwargs), dict(brains), 1, fresh=True)
        self.lead_gaits = tuple(brains)
        self.rng = np.random.default_rng()

    def _segment(self) -> int:
        return max(1, round(float(self.rng.uniform(*self.task.switch_interval)) / self.task.dt))

    def _command(self, gait: str, step: int) -> str:
        if gait != "walk":
            return f"{gait}@{step}"
        speed = self.task.walk_speed * float(self.rng.uniform(*self.task.speed_range))
        return f"walk:{speed:.3f}@{step}"

    def draw(self, lead_steps: int | None = None) -> tuple[str, int]:
        """A random schedule: lead segments (the last not the learner's gait where possible), then the learner's
        gait from the returned step on (a walk changing speed as the env's random commands do). ``lead_steps``
        (default: drawn from ``steps``) sets the lead-in's length."""
        if lead_steps is None:
            lead_steps = int(self.rng.integers(self.steps[0], self.steps[1] + 1))
        lead: list[tuple[str, int]] = []
        end = lead_steps
        others = [g for g in self.lead_gaits if g != self.gait] or list(self.lead_gaits)
        while end > 0:
            choices = others if not lead else list(self.lead_gaits)
            start = max(0, end - self._segment())
            lead.append((choices[int(self.rng.integers(len(choices)))], start))
            end = start
        commands = [self._command(g, s) for g, s in reversed(lead)]
        step = lead_steps
        while step < self.horizon and (self.gait == "walk" or step == lead_steps):
            commands.append(self._command(self.gait, step))
            step += self._segment()
        return ",".join(commands), lead_steps

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self.elapsed = 0
        if seed is not None:
            self.rng = np.random.default_rng([seed, 1])  # not the env's own stream
        for _ in range(self.attempts):
            schedule, lead_steps = self.draw()
            obs, info = self.env.reset(seed=seed, options={**(options or {}), "schedule": schedule})
            seed = None
            starts = np.ones(1, dtype=bool)
            ended = False
            for _ in range(lead_steps):
                action = self.lead.act(obs[None], starts)[0]
                starts[:] = False
                obs, _, terminated, truncated, info = self.env.step(action)
                if terminated or truncated:
                    ended = True
                    break
            if not ended:
                return obs, {**info, "lead_in_steps": lead_steps, "lead_in_fallback": False}
        obs, info = self.env.reset(options={**(options or {}), "schedule": self.draw(0)[0]})
        return obs, {**info, "lead_in_steps": 0, "lead_in_fallback": True}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed += 1
        if self.learner_steps is not None and self.elapsed >= self.learner_steps:
            truncated = True
        return obs, reward, terminated, truncated, info


class LeadInFactory(EnvFactory):
    """Picklable constructor of a gait env wrapped in :class:`LeadIn` (for worker processes too)."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], lead_in: dict[str, Any]) -> None:
        super().__init__(env_id, env_kwargs)
        self.lead_in = dict(lead_in)

    def __call__(self) -> gym.Env:
        return LeadIn(super().__call__(), self.env_id, self.env_kwargs, **self.lead_in)


def env_factory(env_id: str, env_kwargs: dict[str, Any], lead_in: dict[str, Any] | None = None) -> EnvFactory:
    """The env constructor of a run: with a ``lead_in`` setting, its episodes start after the lead brains'."""
    return LeadInFactory(env_id, env_kwargs, lead_in) if lead_in else EnvFactory(env_id, env_kwargs)
