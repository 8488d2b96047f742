"""Senses: what the brain observes of its body, with sensor noise and latency."""

from __future__ import annotations

import collections

import numpy as np

from envs.arguments import is_number

#: ``full``: Gymnasium's observation (positions and velocities); ``proprio``: joint positions only, no velocities.
OBS_MODES = ("full", "proprio")

#: Longest sensory delay (env steps): the registered episode length, ``envs.MAX_EPISODE_STEPS`` (the senses do not
#: see the time limit a wrapper puts on the env). A longer delay would show nothing but the initial state all
#: episode, and the latency buffer keeps one observation per step of delay.
MAX_DELAY = 1000


class Senses:
    """Turn the body's state into an observation: ``[sensed body (noisy, delayed), foot contacts, command]``.

    The sensory part (body state and foot contacts) is corrupted by Gaussian noise and delivered ``delay`` steps
    late; the task command is neither noisy nor late.

    Args:
        mode: ``"full"`` or ``"proprio"`` (see :data:`OBS_MODES`).
        noise: Standard deviation of the Gaussian noise added to the sensory part.
        delay: Steps of sensory latency, at most :data:`MAX_DELAY`; the first observations of an episode repeat the
            initial state.
    """

    def __init__(self, mode: str = "full", noise: float = 0.0, delay: int = 0) -> None:
        if mode not in OBS_MODES:
            raise ValueError(f"unknown obs mode {mode!r}; valid: {', '.join(OBS_MODES)}")
        if not is_number(noise) or noise < 0:
            raise ValueError(f"obs_noise must be a finite number >= 0, got {noise!r}")
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
            raise ValueError(f"obs_delay must be an integer number of steps >= 0, got {delay!r}")
        if delay > MAX_DELAY:
            raise ValueError(f"obs_delay must be at most {MAX_DELAY} steps (the episode length), got {delay!r}")
        self.mode = mode
        self.noise = float(noise)
        self.delay = int(delay)
        self._buffer: collections.deque[np.ndarray] = collections.deque(maxlen=self.delay + 1)

    def sense(self, base_obs: np.ndarray, qpos: np.ndarray, n_root_xy: int, contacts: np.ndarray) -> np.ndarray:
        """The clean sensory vector: body state for this mode, then foot contacts as 0/1."""
        body = base_obs if self.mode == "full" else qpos[n_root_xy:]
        return np.concatenate([body, contacts.astype(np.float64)])

    def reset(self, sensed: np.ndarray, command: np.ndarray, np_random: np.random.Generator) -> np.ndarray:
        """Fill the latency buffer with the initial state and return the first observation."""
        self._buffer.clear()
        for _ in range(self.delay + 1):
            self._buffer.append(self._corrupt(sensed, np_random))
        return np.concatenate([self._buffer[0], command])

    def observe(self, sensed: np.ndarray, command: np.ndarray, np_random: np.random.Generator) -> np.ndarray:
        """Push this step's sensation and return what arrives now."""
        self._buffer.append(self._corrupt(sensed, np_random))
        return np.concatenate([self._buffer[0], command])

    def observe_state(
        self,
        base_obs: np.ndarray | None,
        qpos: np.ndarray,
        n_root_xy: int,
        contacts: np.ndarray,
        command: np.ndarray,
        np_random: np.random.Generator,
    ) -> np.ndarray:
        """:meth:`sense` then :meth:`observe` in one step; perfect senses (no noise, no delay) take one copy."""
        if self.noise or self.delay:
            return self.observe(self.sense(base_obs, qpos, n_root_xy, contacts), command, np_random)
        body = base_obs if self.mode == "full" else qpos[n_root_xy:]
        return np.concatenate((body, contacts, command), dtype=np.float64)

    def _corrupt(self, sensed: np.ndarray, np_random: np.random.Generator) -> np.ndarray:
        # Sensations are new arrays that nothing writes to, so a clean one is kept as it is.
        if self.noise == 0.0:
            return sensed
        return sensed + np_random.normal(0.0, self.noise, size=sensed.shape)
