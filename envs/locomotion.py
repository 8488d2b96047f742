"""The locomotion env: one body, one task and the brain's senses, composed into a Gymnasium env."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco import MujocoEnv

from envs.arguments import Limit, check_arguments, check_limits, is_number, parameters
from envs.bodies import BODY_KWARGS, BODY_LIMITS, Body, BodySpec
from envs.catalog import BODIES
from envs.mirror import Mirror, SignedPermutation, body_maps, body_rows
from envs.senses import Senses
from envs.tasks import TASKS, Task

#: MujocoEnv arguments that the locomotion env sets itself.
_RESERVED_BASE_KWARGS = {"self", "model_path", "observation_space", "render_mode", "args", "kwargs"}

#: Bounds of base-env numbers that Gymnasium's envs do not check (their annotations give the types): a frame skip
#: of 0 divides by zero, and a negative noise scale would mean the scale of its size.
BASE_LIMITS = {
    "frame_skip": Limit("a whole number >= 1", lambda v: v >= 1),
    "reset_noise_scale": Limit("a finite number >= 0", lambda v: v >= 0),
    "width": Limit("a whole number >= 1 (pixels)", lambda v: v >= 1),
    "height": Limit("a whole number >= 1 (pixels)", lambda v: v >= 1),
}


def get_body(name: str) -> BodySpec:
    """The registered body called ``name``; a ``ValueError`` lists the valid names otherwise."""
    if not isinstance(name, str) or name not in BODIES:
        raise ValueError(f"unknown body {name!r}; valid bodies: {', '.join(BODIES)}")
    return BODIES[name]


def get_task(name: str) -> type[Task]:
    """The registered task class called ``name``; a ``ValueError`` lists the valid names otherwise."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


def base_settings(base_env: type) -> set[str]:
    """Keyword arguments of ``base_env`` (and of :class:`~gymnasium.envs.mujoco.MujocoEnv`) that a user may set."""
    return (parameters(base_env.__init__) | parameters(MujocoEnv.__init__)) - _RESERVED_BASE_KWARGS


def check_base_kwargs(base_env: type, kwargs: dict[str, Any], prefix: str = "") -> None:
    """Raise a ``ValueError`` for the first of ``kwargs`` that does not fit its annotation in ``base_env`` or
    :class:`~gymnasium.envs.mujoco.MujocoEnv` (a weight that is not a finite number, a range that is not
    ``(low, high)``, ...) or lies outside :data:`BASE_LIMITS`."""
    check_arguments(base_env.__init__, kwargs, prefix)
    check_arguments(MujocoEnv.__init__, kwargs, prefix)
    check_limits(kwargs, BASE_LIMITS, prefix)


def split_kwargs(spec: BodySpec, task_cls: type[Task], kwargs: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Route ``gym.make`` keyword arguments to the task, the body adapter and the base env, in that order.

    A name that several accept goes to the first (``ctrl_cost_weight`` is the task's in walk and jump, the base
    env's in native). An unknown name raises a ``ValueError`` that lists every valid one, and so does a value that
    does not fit its annotation (a weight, threshold or speed that is not a finite number, a range that is not
    ``(low, high)``; see :func:`~envs.arguments.check_arguments`) or its limit (:data:`~envs.bodies.BODY_LIMITS`,
    :data:`BASE_LIMITS`).
    """
    task_keys = parameters(task_cls.__init__) - {"self"}
    base_keys = base_settings(spec.base_env) - set(spec.base_kwargs)
    if task_cls.judges_termination:
        base_keys -= set(spec.task_base_kwargs)
    routed: tuple[dict, dict, dict] = ({}, {}, {})
    unknown = []
    for key, value in kwargs.items():
        for keys, out in zip((task_keys, set(BODY_KWARGS), base_keys), routed, strict=True):
            if key in keys:
                out[key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        # A registered id fixes its body and task, so they are not listed as settings.
        valid = sorted(task_keys | set(BODY_KWARGS) | base_keys | (set(_ENV_KWARGS) - {"body", "task"}))
        raise ValueError(
            f"unknown keyword argument(s) {', '.join(map(repr, unknown))} for body {spec.name!r} and task "
            f"{task_cls.name!r}; valid: {', '.join(valid)}"
        )
    check_arguments(task_cls.__init__, routed[0])
    check_arguments(Body.__init__, routed[1])
    check_limits(routed[1], BODY_LIMITS)
    check_base_kwargs(spec.base_env, routed[2])
    return routed


_ENV_KWARGS = ("body", "task", "obs", "obs_noise", "obs_delay", "action_noise", "render_mode")


class LocomotionEnv(gym.Env):
    """A body doing a task, seen through the brain's senses.

    | part        | what it is                                                                                  |
    |-------------|---------------------------------------------------------------------------------------------|
    | observation | ``full``: the base Gymnasium observation; ``proprio``: joint positions (no velocities);      |
    |             | then foot contacts (0/1 per foot), then the task command. Noise and delay apply to all but  |
    |             | the command.                                                                                |
    | action      | the base env's actuator controls; ``action_noise`` is added, then clipped to the bounds      |
    | reward      | the sum of the task's named terms, each in ``info["reward_<name>"]``                        |
    | episode end | the task's termination (walk, jump: the body fell); time limits live in the registration   |
    | info        | reward terms, gait signals (``com_height``, ``forward_velocity``, ``torso_pitch``,          |
    |             | ``foot_contacts``, ``airborne``, ...) and the ``command``                                   |

    Args:
        body: A registered body (see ``envs.BODIES``); a registered id fixes it (see
            :class:`~envs.registration.LocomotionId`).
        task: A registered task (see ``envs.TASKS``); a registered id fixes it.
        obs: Sense mode, ``"full"`` or ``"proprio"``.
        obs_noise: Standard deviation of Gaussian noise on the sensed state and contacts.
        obs_delay: Steps of sensory latency, at most the episode length (:data:`envs.senses.MAX_DELAY`).
        action_noise: Standard deviation of Gaussian noise added to the action (motor noise).
        strength: Motor gain in ``(0, 1]``: the body receives the action times ``strength``, so a brain of full
            range drives weaker muscles (a light body with strong motors, like the Ant, is easily thrown off the floor).
        render_mode: Gymnasium render mode, handled by the base MuJoCo env.
        **kwargs: Task arguments (e.g. ``speed``), body arguments (``min_torso_height``, ...) or base env arguments
            (``reset_noise_scale``, ``frame_skip``, ``width``, ...).

    Bad arguments raise a one-line ``ValueError`` that names the value and what is valid, and so does
    :meth:`step` for an action of the wrong shape or with entries that are not finite.
    """

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        body: str = "Walker2d",
        task: str = "walk",
        obs: str = "full",
        obs_noise: float = 0.0,
        obs_delay: int = 0,
        action_noise: float = 0.0,
        strength: float = 1.0,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.body_spec = get_body(body)
        task_cls = get_task(task)
        if not is_number(action_noise) or action_noise < 0:
            raise ValueError(f"action_noise must be a finite number >= 0, got {action_noise!r}")
        if not (is_number(strength) and 0 < strength <= 1):
            raise ValueError(f"strength must be a number in (0, 1], got {strength!r}")
        self.senses = Senses(obs, obs_noise, obs_delay)
        self.action_noise = float(action_noise)
        self.strength = float(strength)
        task_kwargs, body_kwargs, base_kwargs = split_kwargs(self.body_spec, task_cls, kwargs)
        self.task = task_cls(**{**self.body_spec.task_kwargs.get(task_cls.name, {}), **task_kwargs})
        if task_cls.judges_termination:
            base_kwargs.update(self.body_spec.task_base_kwargs)
        self.base = self.body_spec.base_env(render_mode=render_mode, **self.body_spec.base_kwargs, **base_kwargs)
        self.body = Body(
            self.base.model,
            self.base.data,
            **{
                "torso": self.body_spec.torso,
                "feet": self.body_spec.feet,
                "floor": self.body_spec.floor,
                "min_torso_height": self.body_spec.min_torso_height,
                "max_torso_pitch": self.body_spec.max_torso_pitch,
                "min_torso_upright": self.body_spec.min_torso_upright,
                "standing_settle_time": self.body_spec.standing_settle_time,
                **body_kwargs,
            },
        )
        self.task.setup(self.body_spec, self.base.dt)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.base.metadata["render_fps"]}
        self.action_space = self.base.action_space
        self._action_shape = self.action_space.shape
        self._action_low, self._action_high = self.action_space.low, self.action_space.high
        self._action_bounds = list(zip(self._action_low.tolist(), self._action_high.tolist(), strict=True))
        # A task that needs nothing of the base env's step gets the physics stepped directly (the base env's reward,
        # health checks and info are skipped); a human render needs the base env's step, which draws the frame.
        self._steps_physics = (
            not task_cls.uses_base_step and isinstance(self.base, MujocoEnv) and render_mode != "human"
        )
        self._needs_base_obs = self.senses.mode == "full"
        self._foot_dynamics = task_cls.reads_foot_dynamics
        # Each foot's distance from the floor costs a distance query per foot: read only for a task that pays it.
        self._foot_clearances = bool(getattr(self.task, "reads_foot_clearances", False))
        self._task_info = task_cls.reports_info
        self._term_keys = {name: f"reward_{name}" for name in task_cls.terms}
        sensed = (
            self.base.observation_space.shape[0]
            if self.senses.mode == "full"
            else self.base.model.nq - self.body.n_root_xy
        )
        size = sensed + self.body.n_feet + self.task.command.size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float64)

    @property
    def mirror(self) -> Mirror | None:
        """The observation's and the action's left-right mirror (:class:`~envs.mirror.Mirror`), or ``None`` (then
        :attr:`mirror_refusal` says why)."""
        if not hasattr(self, "_mirror"):
            self._mirror, self._mirror_refusal = self._build_mirror()
        return self._mirror

    @property
    def mirror_refusal(self) -> str | None:
        """Why this env has no mirror, in a phrase (``None`` when it has one)."""
        _ = self.mirror
        return self._mirror_refusal

    def _build_mirror(self) -> tuple[Mirror | None, str | None]:
        spec = self.body_spec.mirror
        name = self.body_spec.name
        if spec is None:
            return None, f"the {name}'s BodySpec names none"
        model = self.base.model
        maps = body_maps(model, spec, self.body_spec.foot_labels)
        feet = maps["feet"]
        command = self.task.command_mirror(feet)
        if command is None:
            return None, f"the {self.task.name} task's command has none, the clock task's has one"
        k = self.body.n_root_xy
        qpos = SignedPermutation(maps["qpos"].index[k:] - k, maps["qpos"].sign[k:])
        body = qpos
        if self.senses.mode == "full":
            # Gymnasium's observation: qpos (less the root's x, y), qvel, then the per-body rows and the motors'
            # joint forces its flags ask for, in this order (the v5 Ant and Humanoid).
            body = qpos + maps["qvel"]
            for part in ("cinert", "cvel", "qfrc_actuator", "cfrc_ext"):
                if not getattr(self.base, f"_include_{part}_in_observation", False):
                    continue
                if part == "qfrc_actuator":
                    root = 6 if int(model.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_FREE) else 0  # the root's dofs
                    qvel = maps["qvel"]
                    body = body + SignedPermutation(qvel.index[root:] - root, qvel.sign[root:])
                else:
                    body = body + body_rows(part, maps["bodies"])
            low, high = getattr(self.base, "_contact_force_range", (-1.0, 1.0))
            if low != -high:
                return None, f"the {name}'s contact_force_range ({low}, {high}) is not symmetric about 0"
            if len(body) != self.base.observation_space.shape[0]:
                return None, (
                    f"the {name}'s Gymnasium observation ({self.base.observation_space.shape[0]} entries) is not qpos "
                    f"less the root's x and y, qvel and the per-body rows its flags ask for ({len(body)})"
                )
        sensed = body + SignedPermutation(feet, np.ones(len(feet)))
        obs = sensed + command[0]
        obs.check(f"{name}'s mirror")
        maps["action"].check(f"{name}'s mirror of the action")
        return Mirror(obs, maps["action"], len(sensed) + command[1]), None

    @property
    def model(self):
        return self.base.model

    @property
    def data(self):
        return self.base.data

    @property
    def dt(self) -> float:
        return self.base.dt

    @property
    def foot_labels(self) -> tuple[str, ...]:
        return self.body_spec.foot_labels

    @property
    def command_labels(self) -> tuple[str, ...]:
        """Names of the observation's last entries, the task's command (``command_<i>`` if the task names none)."""
        labels = tuple(self.task.command_labels)
        size = self.task.command.size
        return labels if len(labels) == size else tuple(f"command_{i}" for i in range(size))

    def _sense(self, base_obs: np.ndarray, contacts: np.ndarray) -> np.ndarray:
        return self.senses.sense(base_obs, self.base.data.qpos, self.body.n_root_xy, contacts)

    def sensed_state(self) -> np.ndarray:
        """What the senses read from the current simulation state, before noise and delay (no command)."""
        return self._sense(self.base._get_obs(), self.body.foot_contacts())

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        base_seed = None if seed is None else int(self.np_random.integers(2**31))
        base_obs, _ = self.base.reset(seed=base_seed)
        reading = self.body.read(self._foot_dynamics, self._foot_clearances)
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"reset options must be a dict of option names to values, got {options!r}")
        if options:
            self.task.episode_options(options)
        self.task.reset(reading, self.np_random)
        obs = self.senses.reset(self._sense(base_obs, reading.foot_contacts), self.task.command, self.np_random)
        info = {**reading.signals(), "command": self.task.command}
        if self._task_info:
            info.update(self.task.info())
        return obs, info

    def _action_error(self, action: np.ndarray) -> ValueError:
        if action.shape != self._action_shape:
            return ValueError(f"action must have shape {self._action_shape}, got {action.shape}")
        bad = np.flatnonzero(~np.isfinite(action))
        return ValueError(f"action entries must be finite numbers, got {action[bad].tolist()} at index {bad.tolist()}")

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self._action_shape:
            raise self._action_error(action)
        # On the hot path, over a list (a few actuators: cheaper than NumPy's calls): an action within the bounds
        # (SB3 clips its own) is finite and needs no clipping; NaN fails every comparison. The message is built only
        # for a bad action.
        bounds = self._action_bounds
        if not all(low <= a <= high for a, (low, high) in zip(action.tolist(), bounds, strict=True)):
            if not all(map(math.isfinite, action.tolist())):
                raise self._action_error(action)
            action = np.minimum(np.maximum(action, self._action_low), self._action_high)
        applied = action
        if self.action_noise:
            noise = self.np_random.normal(0.0, self.action_noise, action.shape)
            applied = np.clip(action + noise, self._action_low, self._action_high)
        if self.strength != 1.0:
            applied = applied * self.strength
        base = self.base
        if self._steps_physics:
            base._step_mujoco_simulation(applied, base.frame_skip)
            base_obs = base._get_obs() if self._needs_base_obs else None
            base_info: dict = {}
            base_terminated = False
        else:
            base_obs, _, base_terminated, _, base_info = base.step(applied)
        reading = self.body.read(self._foot_dynamics, self._foot_clearances)
        terms = self.task.reward_terms(reading, action, base_info)
        terminated = bool(self.task.terminated(reading, bool(base_terminated)))
        command = self.task.command
        obs = self.senses.observe_state(
            base_obs, base.data.qpos, self.body.n_root_xy, reading.foot_contacts, command, self.np_random
        )
        info = {k: v for k, v in base_info.items() if not k.startswith("reward_")} if base_info else {}
        keys = self._term_keys
        for name, value in terms.items():
            info[keys.get(name) or f"reward_{name}"] = value
        info.update(reading.signals())
        info["command"] = command
        if self._task_info:
            info.update(self.task.info())
        return obs, float(sum(terms.values())), terminated, False, info

    def render(self):
        return self.base.render()

    def close(self) -> None:
        self.base.close()
