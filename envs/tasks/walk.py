"""The walk task: track a commanded forward speed with an upright, grounded, two-sided gait."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.bodies import BodyReading, BodySpec
from envs.rewards import band_score, check_non_negative, control_cost, mean_square
from envs.tasks.base import Task


class WalkTask(Task):
    """Walk forward at a commanded speed.

    ## Observation
    The command appended to the observation is ``[speed]``, the commanded forward speed (m/s), labelled ``speed``.

    ## Rewards
    The reward is the sum of the terms below, each reported as ``info["reward_<term>"]``. Every term but the costs
    (``ctrl``, ``smooth``, ``bounce``) is bounded in ``[0, weight]``; the best step earns the sum of the weights.

    | term       | pays for                                                                  |
    |------------|---------------------------------------------------------------------------|
    | `speed`    | centre-of-mass forward velocity within ``speed_band`` of ``speed``, with  |
    |            | a linear fall outside the band (only with a foot down if                  |
    |            | ``grounded_speed``)                                                       |
    | `upright`  | torso pitch within ``±max_pitch``                                         |
    | `height`   | centre of mass at least ``min_height_ratio`` of its standing height       |
    | `support`  | feet on the floor, full from ``support_feet`` (a flight earns nothing)    |
    | `symmetry` | feet sharing the load: recent duty factors within ``max_duty_gap``        |
    | `stride`   | at each touchdown of the other foot than the last one to land, the        |
    |            | swing's time in single support beyond ``min_swing_time`` (capped at       |
    |            | ``max_swing_time``); shorter lifts cost, and so does a foot landing twice |
    |            | in a row (as much as a lift of no length)                                 |
    | `ctrl`     | minus the mean squared action                                             |
    | `smooth`   | minus the mean squared change of the action since the last step           |
    | `bounce`   | minus the squared vertical velocity (m/s) of the centre of mass           |

    A bent-over shuffle loses ``upright`` and ``height``; a run loses ``support`` in flight and ``speed`` when it
    overshoots; a limp (one leg stepping, the other dragging) loses ``symmetry`` and ``stride``. Only feet that swing
    for real earn ``stride``, and a swing's clock runs only while another foot carries the body, so hopping (both
    feet in the air together) earns none. ``smooth`` and ``bounce`` are off (weight 0) unless a body turns them on,
    for a light, strong body (the Ant) that jittery actions throw off the floor.

    ## Episode end
    The episode terminates when the body has fallen: the torso is lower than the body's ``min_torso_height``, or
    pitched beyond its ``max_torso_pitch``, or its up axis below ``min_torso_upright`` (see
    :class:`~envs.bodies.BodySpec`). The registration truncates it after 1000 steps.

    ## Arguments
    A body's defaults (``BodySpec.task_kwargs``) come first; ``gym.make`` keywords override them.

    Args:
        speed: Commanded forward speed (m/s); ``None`` takes the body's default.
        speed_band: Relative half-width of the speed band that earns full ``speed`` reward.
        speed_margin: Distance outside the band, relative to ``speed``, at which ``speed`` has fallen to 0.1
            (linearly).
        speed_weight: Weight of ``speed``.
        grounded_speed: Pay ``speed`` only on steps with some foot on the floor, so progress made in the air
            earns nothing.
        upright_weight: Weight of ``upright``.
        max_pitch: Pitch (rad) up to which ``upright`` is full.
        pitch_margin: Extra pitch (rad) at which ``upright`` has fallen to 0.1.
        height_weight: Weight of ``height``.
        min_height_ratio: Centre-of-mass height, as a fraction of standing, above which ``height`` is full.
        height_margin: Fraction of standing height below the bound at which ``height`` has fallen to 0.1.
        support_weight: Weight of ``support``.
        support_feet: Feet on the floor that earn full ``support``; fewer (but some) earn their share. A quadruped
            asked for 2 is paid in full only when each foot is down half the time or more (no flight between steps).
        symmetry_weight: Weight of ``symmetry``.
        max_duty_gap: Largest difference between feet's recent duty factors that earns full ``symmetry``.
        duty_gap_margin: Extra difference at which ``symmetry`` has fallen to 0.1.
        duty_time_constant: Time constant (s) of the running duty factor of each foot.
        stride_weight: Weight of ``stride``, per second of air time.
        min_swing_time: Air time (s) that a swing must exceed to earn ``stride``.
        max_swing_time: Air time (s) beyond which a swing earns no more.
        ctrl_cost_weight: Weight of the control cost.
        smooth_weight: Weight of the action-change cost.
        bounce_weight: Weight of the vertical-velocity cost, per (m/s)^2.

    ## Version history
    * v1: a foot that lands twice in a row is charged in ``stride``, so the feet take turns. Added within v1, with
      defaults that pay as before: ``smooth``, ``bounce``, ``grounded_speed``, ``support_feet`` (the Ant's walk
      defaults in ``envs/catalog.py`` use them).
    * v0: initial version; ``stride`` paid every touchdown.
    """

    name = "walk"
    title = "Walk"
    version = 1
    terms = ("speed", "upright", "height", "support", "symmetry", "stride", "ctrl", "smooth", "bounce")
    command_labels = ("speed",)

    def __init__(
        self,
        speed: float | None = None,
        speed_band: float = 0.1,
        speed_margin: float = 1.0,
        speed_weight: float = 1.5,
        grounded_speed: bool = False,
        upright_weight: float = 0.5,
        max_pitch: float = 0.2,
        pitch_margin: float = 0.5,
        height_weight: float = 0.5,
        min_height_ratio: float = 0.9,
        height_margin: float = 0.2,
        support_weight: float = 0.5,
        support_feet: int = 1,
        symmetry_weight: float = 1.0,
        max_duty_gap: float = 0.1,
        duty_gap_margin: float = 0.2,
        duty_time_constant: float = 1.0,
        stride_weight: float = 50.0,
        min_swing_time: float = 0.1,
        max_swing_time: float = 0.4,
        ctrl_cost_weight: float = 0.1,
        smooth_weight: float = 0.0,
        bounce_weight: float = 0.0,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0 (m/s), got {speed}")
        if isinstance(support_feet, bool) or not (isinstance(support_feet, int) and support_feet >= 1):
            raise ValueError(f"support_feet must be a whole number >= 1, got {support_feet!r}")
        check_non_negative(
            speed_band=speed_band,
            speed_margin=speed_margin,
            max_pitch=max_pitch,
            pitch_margin=pitch_margin,
            height_margin=height_margin,
            max_duty_gap=max_duty_gap,
            duty_gap_margin=duty_gap_margin,
        )
        if duty_time_constant <= 0:
            raise ValueError(f"duty_time_constant must be > 0 (s), got {duty_time_constant}")
        self.speed = speed
        self.speed_band = speed_band
        self.speed_margin = speed_margin
        self.speed_weight = speed_weight
        self.grounded_speed = grounded_speed
        self.upright_weight = upright_weight
        self.max_pitch = max_pitch
        self.pitch_margin = pitch_margin
        self.height_weight = height_weight
        self.min_height_ratio = min_height_ratio
        self.height_margin = height_margin
        self.support_weight = support_weight
        self.support_feet = support_feet
        self.symmetry_weight = symmetry_weight
        self.max_duty_gap = max_duty_gap
        self.duty_gap_margin = duty_gap_margin
        self.duty_time_constant = duty_time_constant
        self.stride_weight = stride_weight
        self.min_swing_time = min_swing_time
        self.max_swing_time = max_swing_time
        self.ctrl_cost_weight = ctrl_cost_weight
        self.smooth_weight = smooth_weight
        self.bounce_weight = bounce_weight
        self.last_action: np.ndarray | None = None
        # Per-foot state as Python lists: a body has a handful of feet, and list arithmetic on them costs a fraction
        # of NumPy's per-call overhead on every step.
        self.duty: list[float] = []
        self.air_time: list[float] = []
        self.contacts: list[bool] = []
        self.last_foot = -1
        self._alpha = 0.0

    def setup(self, spec: BodySpec, dt: float) -> None:
        super().setup(spec, dt)
        if self.support_feet > len(spec.feet):
            raise ValueError(f"support_feet must be at most the body's {len(spec.feet)} feet, got {self.support_feet}")
        if self.speed is None:
            self.speed = spec.walk_speed
        self._alpha = 1.0 - math.exp(-dt / self.duty_time_constant)

    @property
    def command(self) -> np.ndarray:
        return np.array([self.speed], dtype=np.float64)

    def reset(self, reading: BodyReading, np_random: np.random.Generator) -> None:
        contacts = reading.foot_contacts.tolist()
        self.duty = [float(c) for c in contacts]
        # A foot that starts in the air (the spawn drop) is not mid-swing: NaN air time, so its landing pays nothing.
        self.air_time = [0.0 if c else math.nan for c in contacts]
        self.contacts = contacts
        self.last_foot = -1
        self.last_action = None

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        contacts = reading.foot_contacts.tolist()
        alpha = self._alpha
        self.duty = duty = [d + alpha * (c - d) for d, c in zip(self.duty, contacts, strict=True)]
        airborne = not any(contacts)
        speed_command = self.speed
        band = speed_command * self.speed_band
        # Linear, not Gaussian: a Gaussian is nearly flat just outside the band and lets a slow walk settle there.
        speed = band_score(
            float(reading.com_velocity[0]),
            speed_command - band,
            speed_command + band,
            speed_command * self.speed_margin,
            linear=True,
        )
        if self.grounded_speed and airborne:
            speed = 0.0
        upright = band_score(reading.torso_pitch, -self.max_pitch, self.max_pitch, self.pitch_margin)
        height = band_score(
            float(reading.com_position[2]) / reading.standing_com_height,
            self.min_height_ratio,
            math.inf,
            self.height_margin,
        )
        stride = 0.0
        landed = [i for i, (now, before) in enumerate(zip(contacts, self.contacts, strict=True)) if now and not before]
        if landed:
            longest, shortest = self.max_swing_time, self.min_swing_time
            # A foot that was never mid-swing (NaN air time) earns nothing for landing.
            swings = [0.0 if math.isnan(t) else min(t, longest) - shortest for t in (self.air_time[i] for i in landed)]
            if len(landed) == 1:
                if landed[0] == self.last_foot:
                    swings = [-shortest]
                self.last_foot = landed[0]
            stride = sum(swings)
        # Time in flight (no foot down) is not swing time: hopping must not pay.
        tick = 0.0 if airborne else self.dt
        self.air_time = [0.0 if c else t + tick for c, t in zip(contacts, self.air_time, strict=True)]
        self.contacts = contacts
        symmetry = band_score(max(duty) - min(duty), 0.0, self.max_duty_gap, self.duty_gap_margin)
        change = 0.0
        if self.smooth_weight:
            if self.last_action is not None:
                change = mean_square(action - self.last_action)
            self.last_action = np.array(action, dtype=np.float64)
        return {
            "speed": self.speed_weight * speed,
            "upright": self.upright_weight * upright,
            "height": self.height_weight * height,
            "support": self.support_weight * min(sum(contacts) / self.support_feet, 1.0),
            "symmetry": self.symmetry_weight * symmetry,
            "stride": self.stride_weight * stride,
            "ctrl": -self.ctrl_cost_weight * control_cost(action),
            "smooth": -self.smooth_weight * change,
            "bounce": -self.bounce_weight * float(reading.com_velocity[2]) ** 2,
        }
