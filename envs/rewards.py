"""Bounded reward shaping: a smooth band-pass in the style of dm_control's ``tolerance``."""

from __future__ import annotations

import math

import numpy as np

SIGMOIDS = ("gaussian", "linear")


def tolerance(
    x: float,
    bounds: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    sigmoid: str = "gaussian",
    value_at_margin: float = 0.1,
) -> float:
    """Return 1 when ``x`` lies in ``bounds`` and decay towards 0 outside them.

    Args:
        x: The value to score.
        bounds: ``(lower, upper)``; either end may be infinite.
        margin: Distance outside the bounds at which the score has fallen to ``value_at_margin``.
            With ``margin=0`` the score is a hard 0/1 indicator.
        sigmoid: ``"gaussian"`` (smooth, never exactly 0) or ``"linear"`` (a straight fall that
            reaches 0 at ``margin / (1 - value_at_margin)``).
        value_at_margin: Score at exactly ``margin`` outside the bounds, in ``(0, 1)``.
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"tolerance bounds must satisfy lower <= upper, got {bounds}")
    if margin < 0:
        raise ValueError(f"tolerance margin must be >= 0, got {margin}")
    if sigmoid not in SIGMOIDS:
        raise ValueError(f"unknown sigmoid {sigmoid!r}; valid: {', '.join(SIGMOIDS)}")
    if not 0.0 < value_at_margin < 1.0:
        raise ValueError(f"value_at_margin must be in (0, 1), got {value_at_margin}")
    return band_score(x, lower, upper, margin, linear=sigmoid == "linear", value_at_margin=value_at_margin)


def band_score(
    x: float, lower: float, upper: float, margin: float, linear: bool = False, value_at_margin: float = 0.1
) -> float:
    """:func:`tolerance` without its argument checks, for tasks that check their settings once (every step's path).

    Args as for :func:`tolerance`; ``linear`` picks the linear fall instead of the Gaussian.
    """
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    distance = (lower - x if x < lower else x - upper) / margin
    if linear:
        return max(0.0, 1.0 - distance * (1.0 - value_at_margin))
    # exp(-(d * s)^2) with s chosen so that d = 1 gives value_at_margin.
    scale = _GAUSSIAN_SCALE if value_at_margin == 0.1 else math.sqrt(-math.log(value_at_margin))
    return math.exp(-((distance * scale) ** 2))


_GAUSSIAN_SCALE = math.sqrt(-math.log(0.1))


def check_non_negative(**values: float) -> None:
    """Raise a one-line ``ValueError`` naming the first of ``values`` that is negative (bands, margins, ...)."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")


def control_cost(action: np.ndarray) -> float:
    """Mean squared action, so that the cost does not grow with the number of actuators."""
    return mean_square(action)


def mean_square(x: np.ndarray) -> float:
    """``np.mean(np.square(x))`` to the bit, without ``np.mean``'s per-call overhead (a hot path: every step)."""
    return float(np.add.reduce(np.square(x))) / x.size
