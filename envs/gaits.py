"""Each body's gaits as footfall schedules (see :mod:`envs.clock`): the built-in bodies' own, and defaults by feet."""

from __future__ import annotations

import dataclasses

from envs.bodies import BodySpec
from envs.clock import Gait, default_gaits


def _ant_gaits() -> dict[str, Gait]:
    # Feet in BodySpec order: front_left, back_left, back_right, front_right.
    pronk = Gait("pronk", period=0.6, offsets=(0.0, 0.0, 0.0, 0.0), swing_ratio=0.5, in_place=True)
    return {
        # The four-beat lateral sequence (back left, front left, back right, front right), three feet always down.
        "walk": Gait("walk", period=0.8, offsets=(0.25, 0.0, 0.5, 0.75), swing_ratio=0.25),
        "trot": Gait("trot", period=0.5, offsets=(0.0, 0.5, 0.0, 0.5), swing_ratio=0.4),
        "pronk": pronk,
        "jump": dataclasses.replace(pronk, name="jump"),
    }


#: Each built-in body's gaits by name. Periods and swing ratios are first guesses to tune (the Walker2d's walk
#: period is its bundled walker's measured stride, about 0.5 s), not measured optima.
GAITS: dict[str, dict[str, Gait]] = {
    # The Walker2d's jump: a flight of T s rises g T^2 / 8 (0.33 m for 0.52 s of swing in a 0.8 s cycle), above the
    # jump criterion's 0.30 m.
    "Walker2d": {
        **default_gaits(2),
        "jump": Gait("jump", period=0.8, offsets=(0.0, 0.0), swing_ratio=0.65, in_place=True),
    },
    "Hopper": default_gaits(1),
    "HalfCheetah": default_gaits(2),
    "Ant": _ant_gaits(),
    "Humanoid": {**default_gaits(2), "walk": Gait("walk", period=0.8, offsets=(0.0, 0.5), swing_ratio=0.4)},
}


def gaits_of(spec: BodySpec) -> dict[str, Gait]:
    """A body's gaits: its own if it is built in, otherwise :func:`~envs.clock.default_gaits` for its feet."""
    return GAITS.get(spec.name) or default_gaits(len(spec.feet))
