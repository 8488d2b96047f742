"""The native task: Gymnasium's own v5 reward and termination, for comparison with published numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.bodies import BodyReading
from envs.tasks.base import Task


class NativeTask(Task):
    """Pass the base env's reward terms (``reward_forward``, ``reward_ctrl``, ...) and termination through."""

    name = "native"
    title = "Native"
    judges_termination = False

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        return {k.removeprefix("reward_"): float(v) for k, v in base_info.items() if k.startswith("reward_")}

    def terminated(self, reading: BodyReading, base_terminated: bool) -> bool:
        return base_terminated
