"""A Gymnasium-style MuJoCo env for any MJCF body: the base simulation of plug-in bodies."""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco import MujocoEnv
from gymnasium.spaces import Box


class GenericBodyEnv(MujocoEnv, utils.EzPickle):
    """Simulates an arbitrary MJCF body the way Gymnasium's v5 locomotion envs do.

    Observation: ``qpos`` without the root's horizontal position, then ``qvel``. Native reward, as in Walker2d-v5:
    ``forward + survive - ctrl``, reported as ``reward_forward``, ``reward_survive`` and ``reward_ctrl``; the episode
    ends when the torso is lower than ``min_torso_height`` (if ``terminate_when_unhealthy``).

    Args:
        xml_file: Path to the MJCF file.
        torso: MJCF body whose x velocity is rewarded and whose height judges health.
        frame_skip: Physics steps per env step.
        forward_reward_weight: Weight of the torso's forward velocity.
        ctrl_cost_weight: Weight of the squared action.
        healthy_reward: Reward per step while healthy.
        min_torso_height: Healthy while the torso is at least this high (m).
        terminate_when_unhealthy: End the episode when unhealthy.
        reset_noise_scale: Half-width of the uniform noise added to the initial ``qpos`` and ``qvel``.
        **kwargs: Passed to :class:`gymnasium.envs.mujoco.MujocoEnv` (render settings).
    """

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        xml_file: str,
        torso: str = "torso",
        frame_skip: int = 4,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 1e-3,
        healthy_reward: float = 1.0,
        min_torso_height: float = 0.0,
        terminate_when_unhealthy: bool = True,
        reset_noise_scale: float = 5e-3,
        **kwargs,
    ) -> None:
        utils.EzPickle.__init__(
            self,
            xml_file,
            torso,
            frame_skip,
            forward_reward_weight,
            ctrl_cost_weight,
            healthy_reward,
            min_torso_height,
            terminate_when_unhealthy,
            reset_noise_scale,
            **kwargs,
        )
        self._forward_reward_weight = forward_reward_weight
        self._ctrl_cost_weight = ctrl_cost_weight
        self._healthy_reward = healthy_reward
        self._min_torso_height = min_torso_height
        self._terminate_when_unhealthy = terminate_when_unhealthy
        self._reset_noise_scale = reset_noise_scale
        kwargs.setdefault("default_camera_config", {"distance": 4.0, "elevation": -20.0})
        MujocoEnv.__init__(self, xml_file, frame_skip, observation_space=None, **kwargs)
        self.metadata = {**self.metadata, "render_fps": int(np.round(1.0 / self.dt))}
        self._torso_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, torso)
        if self._torso_id < 0:
            raise ValueError(f"torso body {torso!r} is not in {xml_file}")
        root_joint = self.model.body_jntadr[self.model.body_rootid[self._torso_id]]
        free = root_joint >= 0 and self.model.jnt_type[root_joint] == mujoco.mjtJoint.mjJNT_FREE
        self._skipped_qpos = 2 if free else 1
        size = self.data.qpos.size + self.data.qvel.size - self._skipped_qpos
        self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)
        self.observation_structure = {
            "skipped_qpos": self._skipped_qpos,
            "qpos": self.data.qpos.size - self._skipped_qpos,
            "qvel": self.data.qvel.size,
        }

    @property
    def is_healthy(self) -> bool:
        return bool(self.data.xpos[self._torso_id, 2] >= self._min_torso_height)

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[self._skipped_qpos :], self.data.qvel]).astype(np.float64)

    def step(self, action: np.ndarray):
        x_before = self.data.xpos[self._torso_id, 0]
        self.do_simulation(action, self.frame_skip)
        x_velocity = (self.data.xpos[self._torso_id, 0] - x_before) / self.dt
        healthy = self.is_healthy
        terms = {
            "reward_forward": self._forward_reward_weight * x_velocity,
            "reward_survive": self._healthy_reward * healthy,
            "reward_ctrl": -self._ctrl_cost_weight * float(np.sum(np.square(action))),
        }
        reward = sum(terms.values())
        terminated = (not healthy) and self._terminate_when_unhealthy
        info = {"x_velocity": x_velocity, **terms}
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), reward, terminated, False, info

    def reset_model(self) -> np.ndarray:
        noise = self._reset_noise_scale
        qpos = self.init_qpos + self.np_random.uniform(-noise, noise, size=self.model.nq)
        qvel = self.init_qvel + self.np_random.uniform(-noise, noise, size=self.model.nv)
        self.set_state(qpos, qvel)
        return self._get_obs()
