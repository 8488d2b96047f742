"""Gait metrics: plain functions over recorded arrays of foot contacts and centre-of-mass motion.

Nothing here looks at reward. A gait is named from its contact pattern and the body's displacement, so a
bent-over shuffle with a high return is not called a walk.
"""

from __future__ import annotations

import collections
import itertools
import math
from typing import Any

import numpy as np

#: Air phases shorter than this (steps) between two contacts of a foot are contact chatter, not steps.
MIN_SWING_STEPS = 2
#: Touchdowns of different feet at most this far apart (s) are one two-footed landing.
SIMULTANEOUS_TIME = 0.05
#: All feet off the floor for at least this many steps makes a flight phase.
MIN_FLIGHT_STEPS = 3
#: Below this mean forward speed (m/s) the body is not going anywhere.
MOVE_SPEED = 0.2
#: Flight phases per 1000 steps from which a gait is aerial (jump, hop, run).
MIN_FLIGHTS_PER_1000 = 5.0
#: Touchdowns per second per foot from which a grounded body is stepping.
MIN_STEP_RATE = 0.5
#: Fraction of alternating touchdowns from which a moving aerial gait is a run rather than a hop.
RUN_ALTERNATION = 0.5

GAIT_LABELS = ("stand", "walk", "run", "hop", "jump", "other")


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def touchdown_steps(contact: np.ndarray, min_swing_steps: int = MIN_SWING_STEPS) -> np.ndarray:
    """Steps at which one foot lands after at least ``min_swing_steps`` in the air (chatter ignored)."""
    contact = np.asarray(contact, dtype=bool)
    return np.array(
        [stop for start, stop in runs(~contact) if stop < len(contact) and stop - start >= min_swing_steps],
        dtype=np.int64,
    )


def flight_phases(contacts: np.ndarray, min_flight_steps: int = MIN_FLIGHT_STEPS) -> list[tuple[int, int]]:
    """``(start, stop)`` of the phases with every foot off the floor for at least ``min_flight_steps``."""
    airborne = ~np.asarray(contacts, dtype=bool).any(axis=1)
    return [(a, b) for a, b in runs(airborne) if b - a >= min_flight_steps]


def two_footed_landings(contacts: np.ndarray, flights: list[tuple[int, int]], together_steps: int) -> float:
    """Fraction of the landings after ``flights`` on which every foot touches down within ``together_steps`` of the
    first (both feet, for a biped: a two-footed landing). NaN for one foot or no landing inside the record."""
    contacts = np.asarray(contacts, dtype=bool)
    steps, n_feet = contacts.shape
    landings = [stop for _, stop in flights if stop < steps]
    if n_feet < 2 or not landings:
        return math.nan
    together = [bool(contacts[stop : stop + together_steps + 1].any(axis=0).all()) for stop in landings]
    return float(np.mean(together))


def alternation(touchdowns: list[np.ndarray], simultaneous_steps: int = 2) -> float:
    """Fraction of consecutive touchdown events landing on a different set of feet than the event before.

    Touchdowns of several feet within ``simultaneous_steps`` of each other are one event (a two-footed landing),
    so a walk scores 1 and a two-footed bound 0. NaN with fewer than two feet or two events.
    """
    if len(touchdowns) < 2:
        return math.nan
    events: list[set[int]] = []
    start = -(10**9)
    for t, foot in sorted((int(t), foot) for foot, steps in enumerate(touchdowns) for t in steps):
        if t - start > simultaneous_steps:
            events.append(set())
            start = t
        events[-1].add(foot)
    if len(events) < 2:
        return math.nan
    return float(np.mean([a != b for a, b in itertools.pairwise(events)]))


def stride_frequency(touchdowns: list[np.ndarray], dt: float) -> float:
    """Strides per second: the inverse of the median interval between touchdowns of the same foot (NaN if none)."""
    intervals = np.concatenate([np.diff(t) for t in touchdowns] or [np.zeros(0)])
    return float(1.0 / (np.median(intervals) * dt)) if intervals.size else math.nan


def gait_label(
    forward_speed: float,
    flights_per_1000: float,
    step_rate: float,
    alternation_fraction: float,
    *,
    move_speed: float = MOVE_SPEED,
    min_flights_per_1000: float = MIN_FLIGHTS_PER_1000,
    min_step_rate: float = MIN_STEP_RATE,
    run_alternation: float = RUN_ALTERNATION,
) -> str:
    """Name the gait from measured quantities.

    | label   | contact pattern and motion                                          |
    |---------|---------------------------------------------------------------------|
    | `jump`  | flight phases, staying in place                                     |
    | `hop`   | flight phases, moving, feet not alternating (or one foot)           |
    | `run`   | flight phases, moving, feet alternating                             |
    | `walk`  | no flight phases, moving, stepping                                  |
    | `stand` | no flight phases, in place, not stepping                            |
    | `other` | anything else: sliding without steps, stepping on the spot          |
    """
    moving = abs(forward_speed) >= move_speed
    if flights_per_1000 >= min_flights_per_1000:
        if not moving:
            return "jump"
        alternating = not math.isnan(alternation_fraction) and alternation_fraction >= run_alternation
        return "run" if alternating else "hop"
    stepping = step_rate >= min_step_rate
    if moving and stepping:
        return "walk"
    if not moving and not stepping:
        return "stand"
    return "other"


def episode_metrics(
    contacts: np.ndarray,
    com_position: np.ndarray,
    torso_pitch: np.ndarray,
    standing_com_height: float,
    dt: float,
    *,
    foot_labels: tuple[str, ...] | None = None,
    min_swing_steps: int = MIN_SWING_STEPS,
    min_flight_steps: int = MIN_FLIGHT_STEPS,
    from_first_contact: bool = False,
) -> dict[str, Any]:
    """Gait metrics of one episode from per-step arrays.

    Args:
        contacts: ``(T, n_feet)`` whether each foot is on the floor.
        com_position: ``(T, 3)`` centre of mass (m).
        torso_pitch: ``(T,)`` torso pitch (rad).
        standing_com_height: Centre-of-mass height when standing (m).
        dt: Seconds per step.
        foot_labels: Names of the feet for the per-foot entries (default ``foot0``, ``foot1``, ...).
        from_first_contact: Measure from the first step with a foot on the floor, so that the drop from the spawn
            pose is not taken for a flight phase (``length`` still counts every step).
    """
    contacts = np.asarray(contacts, dtype=bool)
    com_position = np.asarray(com_position, dtype=np.float64)
    torso_pitch = np.asarray(torso_pitch, dtype=np.float64)
    length = len(contacts)
    if from_first_contact and contacts.any():
        first = int(np.flatnonzero(contacts.any(axis=1))[0])
        contacts, com_position, torso_pitch = contacts[first:], com_position[first:], torso_pitch[first:]
    steps, n_feet = contacts.shape
    if steps == 0:
        raise ValueError("cannot measure a gait over zero steps")
    labels = tuple(foot_labels) if foot_labels else tuple(f"foot{i}" for i in range(n_feet))
    duration = steps * dt
    touchdowns = [touchdown_steps(contacts[:, i], min_swing_steps) for i in range(n_feet)]
    flights = flight_phases(contacts, min_flight_steps)
    rises = [float(com_position[a:b, 2].max() - standing_com_height) for a, b in flights]
    displacement = com_position[-1, :2] - com_position[0, :2]
    forward_speed = float(displacement[0] / duration)
    touchdown_rates = [len(t) / duration for t in touchdowns]
    together = max(1, round(SIMULTANEOUS_TIME / dt))
    alternating = alternation(touchdowns, together) if n_feet > 1 else math.nan
    flights_per_1000 = 1000.0 * len(flights) / steps
    landed_together = two_footed_landings(contacts, flights, together)
    return {
        "length": length,
        "forward_speed": forward_speed,
        "horizontal_drift": float(np.linalg.norm(displacement)),
        "torso_pitch": float(np.mean(torso_pitch)),
        "ground_contact_fraction": float(contacts.any(axis=1).mean()),
        "duty_factor": dict(zip(labels, contacts.mean(axis=0).tolist(), strict=True)),
        "duty_factor_gap": float(np.ptp(contacts.mean(axis=0))),
        "touchdowns_per_second": dict(zip(labels, touchdown_rates, strict=True)),
        "alternation": alternating,
        "stride_frequency": stride_frequency(touchdowns, dt),
        "flight_phases_per_1000": flights_per_1000,
        "apex_rises": rises,
        "mean_apex_rise": float(np.mean(rises)) if rises else math.nan,
        "two_footed_landings": landed_together,
        "gait": gait_label(forward_speed, flights_per_1000, float(np.mean(touchdown_rates)), alternating),
    }


def gait_phase(contact: np.ndarray, min_swing_steps: int = MIN_SWING_STEPS) -> np.ndarray:
    """Per-step phase in ``[0, 1)`` of one foot's cycle: the fraction of the way from one of its touchdowns to the
    next (0 at touchdown). NaN before the first touchdown and from the last one on, where no cycle is complete."""
    contact = np.asarray(contact, dtype=bool)
    phase = np.full(len(contact), np.nan)
    for start, stop in itertools.pairwise(touchdown_steps(contact, min_swing_steps).tolist()):
        phase[start:stop] = np.arange(stop - start) / (stop - start)
    return phase


def windowed_labels(
    contacts: np.ndarray,
    com_position: np.ndarray,
    dt: float,
    *,
    window: float = 1.0,
    every: int = 5,
) -> np.ndarray:
    """The gait label of the trailing ``window`` seconds at each step (computed every ``every`` steps and held).

    Steps before the first full window get ``""``: there is not yet enough motion to name.
    """
    contacts = np.asarray(contacts, dtype=bool)
    com_position = np.asarray(com_position, dtype=np.float64)
    steps, n_feet = contacts.shape
    width = max(2, round(window / dt))
    labels = np.full(steps, "", dtype=object)
    for t in range(width - 1, steps, every):
        lo = t + 1 - width
        span = contacts[lo : t + 1]
        touchdowns = [touchdown_steps(span[:, i]) for i in range(n_feet)]
        speed = float((com_position[t, 0] - com_position[lo, 0]) / (width * dt))
        flights = 1000.0 * len(flight_phases(span)) / width
        rate = float(np.mean([len(td) for td in touchdowns])) / (width * dt)
        alternating = alternation(touchdowns, max(1, round(SIMULTANEOUS_TIME / dt))) if n_feet > 1 else math.nan
        labels[t : t + every] = gait_label(speed, flights, rate, alternating)
    return labels


#: Trailing window (s) of the per-step gait labels that judge whether a gait follows its command.
FOLLOW_WINDOW = 0.5


def command_following(
    commanded: np.ndarray,
    contacts: np.ndarray,
    com_position: np.ndarray,
    standing_com_height: float,
    dt: float,
    *,
    window: float = FOLLOW_WINDOW,
    settle: float = 1.0,
    speeds: np.ndarray | None = None,
) -> dict[str, Any]:
    """How a gait followed commanded gaits (``commanded``: the gait asked for at each step; ``speeds``, if given, the
    commanded walking speed).

    At each switch of the commanded gait, the latency is the time until the gait label of the trailing ``window``
    seconds names the new gait (NaN if it never does before the next switch). Each segment between command changes
    (of gait, or of speed) is also measured on its own, from ``settle`` seconds after its start: its label, forward
    speed, flights per 1000 steps and mean apex rise.
    """
    commanded = np.asarray(commanded).astype(str)
    labels = windowed_labels(contacts, com_position, dt, window=window, every=1)
    changed = commanded[1:] != commanded[:-1]
    if speeds is not None:
        changed |= np.asarray(speeds)[1:] != np.asarray(speeds)[:-1]
    starts = [0, *np.flatnonzero(changed) + 1]
    bounds = [*starts, len(commanded)]
    latencies, segments = [], []
    for start, stop in itertools.pairwise(bounds):
        if start > 0 and commanded[start] != commanded[start - 1]:
            hit = np.flatnonzero(labels[start:stop] == commanded[start])
            latencies.append(float(hit[0] * dt) if hit.size else math.nan)
        lo = start + round(settle / dt)
        if stop - lo >= 2:
            measured = episode_metrics(contacts[lo:stop], com_position[lo:stop], np.zeros(stop - lo),
                                       standing_com_height, dt)  # fmt: skip
            segments.append({
                "commanded": str(commanded[start]), "start": start, "stop": stop, "gait": measured["gait"],
                **{k: measured[k] for k in ("forward_speed", "flight_phases_per_1000", "mean_apex_rise")},
            })  # fmt: skip
    return {"switch_latencies": latencies, "segments": segments}


def latency_distribution(latencies: list[float]) -> dict[str, float]:
    """Switch latencies (s) pooled over episodes: how many, how many never followed (NaN), and the 10th, 50th and
    90th percentiles of the followed ones."""
    values = np.asarray(latencies, dtype=np.float64)
    followed = values[~np.isnan(values)]
    quantiles = np.percentile(followed, [10, 50, 90]) if followed.size else [math.nan] * 3
    return {
        "switches": int(values.size),
        "never_followed": int(values.size - followed.size),
        **{f"p{q}": float(v) for q, v in zip((10, 50, 90), quantiles, strict=True)},
    }


def aggregate(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std, min and max over episodes of every scalar metric (NaNs ignored), per foot for per-foot metrics; flags
    (``fell``) and gait labels are counted."""
    if not episodes:
        raise ValueError("no episodes to aggregate")
    summary: dict[str, Any] = {"episodes": len(episodes)}
    for key, value in episodes[0].items():
        if key == "gait":
            counts = collections.Counter(ep["gait"] for ep in episodes)
            summary["gait"] = counts.most_common(1)[0][0]
            summary["gait_counts"] = dict(counts)
        elif isinstance(value, dict):
            summary[key] = {foot: _mean_std([ep[key][foot] for ep in episodes]) for foot in value}
        elif isinstance(value, list):
            items = [x for ep in episodes for x in ep[key]]
            if items and all(isinstance(x, str) for x in items):
                summary[key] = dict(collections.Counter(items))
            else:
                summary[key] = _mean_std(items)
        elif isinstance(value, (bool, np.bool_)):
            summary[key] = int(sum(bool(ep[key]) for ep in episodes))
        else:
            summary[key] = _mean_std([ep[key] for ep in episodes])
    return summary


def _mean_std(values: list[float]) -> dict[str, float]:
    finite = np.array([v for v in values if v is not None and not math.isnan(float(v))], dtype=np.float64)
    if finite.size == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": float(finite.mean()), "std": float(finite.std()), "min": float(finite.min()),
            "max": float(finite.max())}  # fmt: skip
