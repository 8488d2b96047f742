"""The jump task: vertical jumps in place, landing upright and carrying on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.bodies import BodyReading
from envs.rewards import band_score, check_non_negative, control_cost
from envs.tasks.base import Task

#: Standard gravity (m/s^2), for the take-off speed of a jump.
GRAVITY = 9.81


class JumpTask(Task):
    """Jump straight up, again and again, without drifting or falling.

    ## Observation
    The command appended to the observation is ``[spot_x, spot_y]``: the horizontal vector (m, world frame) from
    the centre of mass to the episode's starting spot, so that a body whose senses hold no position can return to it.
    The starting spot is where the centre of mass is at reset, moved ahead by ``spot_lead`` seconds of its
    horizontal velocity.

    ## Rewards
    The reward is the sum of the terms below, each reported as ``info["reward_<term>"]``. ``height`` and ``launch``
    are paid only near the starting spot: they are scaled by the same tolerance on the distance from it as
    ``drift``, so that leaping forward, the easy way up, does not pay.

    | term      | pays for                                                                                          |
    |-----------|---------------------------------------------------------------------------------------------------|
    | `height`  | in flight (every foot off the floor): centre-of-mass rise above standing, in units of             |
    |           | ``target_rise`` and capped at ``max_rise_ratio``, near the start                                  |
    | `launch`  | upward centre-of-mass velocity, in units of the take-off speed of ``target_rise``, near the start |
    | `upright` | torso pitch within ``±max_pitch``                                                                 |
    | `drift`   | centre of mass within ``max_drift`` (horizontally) of the starting spot                           |
    | `ctrl`    | minus the mean squared action                                                                     |

    ``height`` cannot be earned standing still and, unlike a reward on vertical velocity, does not sum to zero over
    a jump. ``launch`` pays only upward motion (never charges the way down): a small dense hint that leads from
    crouching and extending to the first flights.

    ## Episode end
    The episode terminates when the body has fallen (see :class:`~envs.bodies.BodySpec`) or its centre of mass
    strays more than ``max_stray`` (horizontally) from the starting spot. Being high never ends it. The registration
    truncates it after 1000 steps.

    ## Arguments
    A body's defaults (``BodySpec.task_kwargs``) come first; ``gym.make`` keywords override them.

    Args:
        target_rise: Centre-of-mass rise (m) worth one unit of ``height`` per step.
        max_rise_ratio: Cap on the rise, in units of ``target_rise``, so the term stays bounded.
        height_weight: Weight of ``height``.
        launch_weight: Weight of ``launch``.
        upright_weight: Weight of ``upright``.
        max_pitch: Pitch (rad) up to which ``upright`` is full.
        pitch_margin: Extra pitch (rad) at which ``upright`` has fallen to 0.1.
        drift_weight: Weight of ``drift``.
        max_drift: Horizontal distance (m) from the start that still earns full ``drift``, ``height`` and ``launch``.
        drift_margin: Extra distance (m) at which the three have fallen to 0.1.
        max_stray: Horizontal distance (m) from the starting spot that ends the episode; ``None`` never ends it.
        ctrl_cost_weight: Weight of the control cost.
        spot_lead: Time (s) of the body's horizontal velocity at the start by which the starting spot lies ahead of
            the centre of mass: a jump commanded out of a walk (the gait task) is asked for where the walk can stop.
            From rest it makes no difference.

    ## Version history
    * v3: the command is the vector to the starting spot (it was empty); ``spot_lead`` added within v3 (default 0).
    * v2: no rise paid above ``target_rise`` (0.4 m, ``max_rise_ratio`` 1); straying ``max_stray`` ends the episode.
    * v1: ``height`` and ``launch`` paid only near the start, instead of ``height`` discounted by horizontal speed.
    * v0: initial version.
    """

    name = "jump"
    title = "Jump"
    version = 3
    terms = ("height", "launch", "upright", "drift", "ctrl")
    command_labels = ("spot_x", "spot_y")

    def __init__(
        self,
        target_rise: float = 0.4,
        max_rise_ratio: float = 1.0,
        height_weight: float = 3.0,
        launch_weight: float = 0.5,
        upright_weight: float = 0.5,
        max_pitch: float = 0.3,
        pitch_margin: float = 0.7,
        drift_weight: float = 0.2,
        max_drift: float = 0.2,
        drift_margin: float = 0.6,
        max_stray: float | None = 1.0,
        ctrl_cost_weight: float = 0.1,
        spot_lead: float = 0.0,
    ) -> None:
        if target_rise <= 0:
            raise ValueError(f"target_rise must be > 0 (m), got {target_rise}")
        check_non_negative(
            max_rise_ratio=max_rise_ratio,
            max_pitch=max_pitch,
            pitch_margin=pitch_margin,
            max_drift=max_drift,
            drift_margin=drift_margin,
        )
        self.target_rise = target_rise
        self.max_rise_ratio = max_rise_ratio
        self.height_weight = height_weight
        self.launch_weight = launch_weight
        # Vertical speed that carries the centre of mass target_rise up in free flight.
        self.takeoff_speed = math.sqrt(2.0 * GRAVITY * target_rise)
        self.upright_weight = upright_weight
        self.max_pitch = max_pitch
        self.pitch_margin = pitch_margin
        self.drift_weight = drift_weight
        self.max_drift = max_drift
        self.drift_margin = drift_margin
        if max_stray is not None and max_stray <= 0:
            raise ValueError(f"max_stray must be > 0 (m) or None, got {max_stray}")
        self.max_stray = max_stray
        self.ctrl_cost_weight = ctrl_cost_weight
        if spot_lead < 0:
            raise ValueError(f"spot_lead must be >= 0 (s), got {spot_lead}")
        self.spot_lead = spot_lead
        self.start_xy = np.zeros(2)
        self.offset = np.zeros(2)

    @property
    def command(self) -> np.ndarray:
        return self.offset.copy()

    def reset(self, reading: BodyReading, np_random: np.random.Generator) -> None:
        self.start_xy = reading.com_position[:2] + self.spot_lead * reading.com_velocity[:2]
        self.offset = self.start_xy - reading.com_position[:2]

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        x, y, _ = reading.com_position.tolist()
        vz = float(reading.com_velocity[2])
        rise = min(max(reading.com_rise / self.target_rise, 0.0), self.max_rise_ratio)
        upright = band_score(reading.torso_pitch, -self.max_pitch, self.max_pitch, self.pitch_margin)
        start_x, start_y = self.start_xy.tolist()
        self.offset = np.array([start_x - x, start_y - y])
        drift = math.sqrt((start_x - x) ** 2 + (start_y - y) ** 2)
        launch = min(max(vz / self.takeoff_speed, 0.0), 1.0)
        near = band_score(drift, 0.0, self.max_drift, self.drift_margin)
        airborne = 0.0 if np.count_nonzero(reading.foot_contacts) else 1.0
        return {
            "height": self.height_weight * rise * near * airborne,
            "launch": self.launch_weight * launch * near,
            "upright": self.upright_weight * upright,
            "drift": self.drift_weight * near,
            "ctrl": -self.ctrl_cost_weight * control_cost(action),
        }

    def terminated(self, reading: BodyReading, base_terminated: bool) -> bool:
        if reading.fallen:
            return True
        if self.max_stray is None:
            return False
        x, y, _ = reading.com_position.tolist()
        start_x, start_y = self.start_xy.tolist()
        return math.sqrt((x - start_x) ** 2 + (y - start_y) ** 2) > self.max_stray
