"""The native task: Gymnasium's own v5 reward and termination, for comparison with published numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.bodies import BodyReading
from envs.tasks.base import Task


class NativeTask(Task):
    """Gymnasium's own task: the base env's reward terms and termination, passed through.

    ## Observation
    No command is appended (the observation is the senses' and the foot contacts).

    ## Rewards
    The base env's reward terms (``reward_forward``, ``reward_ctrl``, ``reward_survive``, ...), under the same names
    in ``info``; their sum is the base env's reward.

    ## Episode end
    As the base env ends it (Gymnasium's health check, ``terminate_when_unhealthy``); the registration truncates it
    after 1000 steps.

    ## Arguments
    None of its own: ``ctrl_cost_weight``, ``healthy_reward``, ... go to the base env (see its docstring).

    ## Version history
    * v0: initial version.
    """

    name = "native"
    title = "Native"
    judges_termination = False
    uses_base_step = True

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        return {k.removeprefix("reward_"): float(v) for k, v in base_info.items() if k.startswith("reward_")}

    def terminated(self, reading: BodyReading, base_terminated: bool) -> bool:
        return base_terminated
