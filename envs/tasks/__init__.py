"""Body-agnostic locomotion tasks. A new task is one module here plus one line in ``TASKS``."""

from envs.tasks.base import Task
from envs.tasks.clock import ClockTask
from envs.tasks.gait import GaitTask
from envs.tasks.jump import JumpTask
from envs.tasks.native import NativeTask
from envs.tasks.walk import WalkTask

#: Registered tasks by name; every body gets one env id per task.
TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (WalkTask, JumpTask, NativeTask, GaitTask, ClockTask)}

__all__ = ["TASKS", "ClockTask", "GaitTask", "JumpTask", "NativeTask", "Task", "WalkTask"]
