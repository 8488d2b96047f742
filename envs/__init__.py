"""neuromotor bodies, tasks and senses, registered as ``neuromotor/<Body>-<Task>-v<N>`` Gymnasium ids."""

from envs import _mujoco_warnings
from envs.bodies import Body, BodyReading, BodySpec
from envs.catalog import BODIES
from envs.locomotion import LocomotionEnv
from envs.mirror import BodyMirror
from envs.registration import MAX_EPISODE_STEPS, env_id, env_ids, register_body, resolve_env_id
from envs.senses import OBS_MODES
from envs.tasks import TASKS, Task

_mujoco_warnings.install()

__all__ = [
    "BODIES",
    "MAX_EPISODE_STEPS",
    "OBS_MODES",
    "TASKS",
    "Body",
    "BodyMirror",
    "BodyReading",
    "BodySpec",
    "LocomotionEnv",
    "Task",
    "env_id",
    "env_ids",
    "register_body",
    "resolve_env_id",
]
