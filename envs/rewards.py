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
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    distance = (lower - x if x < lower else x - upper) / margin
    if sigmoid == "gaussian":
        # exp(-(d * s)^2) with s chosen so that d = 1 gives value_at_margin.
        scale = math.sqrt(-math.log(value_at_margin))
        return float(math.exp(-((distance * scale) ** 2)))
    return float(max(0.0, 1.0 - distance * (1.0 - value_at_margin)))


def control_cost(action: np.ndarray) -> float:
    """Mean squared action, so that the cost does not grow with the number of actuators."""
    return mean_square(action)


def mean_square(x: np.ndarray) -> float:
    """``np.mean(np.square(x))`` to the bit, without ``np.mean``'s per-call overhead (a hot path: every step)."""
    return float(np.square(x).sum()) / x.size
