"""The gait clock: gaits as footfall schedules, a phase that runs through switches, and smooth stance indicators.

A :class:`Gait` says when each foot should stand and when it should swing: a cycle ``period`` (s), each foot's
phase ``offsets`` (fractions of a cycle) and the ``swing_ratio`` (the fraction of each foot's cycle spent in the
air, at the end of its cycle). A :class:`Clock` keeps one phase in ``[0, 1)``, advanced by ``dt / period`` and never
reset within an episode; a requested gait (a new period, offsets or swing ratio) takes effect as soon as no foot in
the air would be due on the floor and no flight would start, at the latest when the phase next passes 0, so the
phase and every foot's schedule stay continuous. :func:`stance_indicator` is the smooth version
of "this foot should be down": the probability, under a normal blur of the phase with ``width`` (a fraction of a
cycle), that the foot's phase lies in its stance part.
"""

from __future__ import annotations

import dataclasses
import functools
import math

from envs.arguments import is_number


@dataclasses.dataclass(frozen=True)
class Gait:
    """One footfall schedule.

    Attributes:
        name: What the gait is called (``walk``, ``jump``, ``hop``, ``trot``, ``pronk``).
        period: Seconds per cycle.
        offsets: Each foot's phase offset, a fraction of a cycle in ``[0, 1)``.
        swing_ratio: Fraction of each foot's cycle in swing, in ``(0, 1)``; the stance part comes first.
        in_place: The gait stays on its spot (a jump, a pronk): it is commanded at speed 0 and takes no speed.
    """

    name: str
    period: float
    offsets: tuple[float, ...]
    swing_ratio: float
    in_place: bool = False

    def __post_init__(self) -> None:
        if not is_number(self.period) or self.period <= 0:
            raise ValueError(f"gait {self.name!r}: period must be a finite number > 0 (s), got {self.period!r}")
        if not self.offsets or not all(is_number(o) and 0 <= o < 1 for o in self.offsets):
            raise ValueError(
                f"gait {self.name!r}: offsets must be numbers in [0, 1), one per foot, got {self.offsets!r}"
            )
        if not is_number(self.swing_ratio) or not 0 < self.swing_ratio < 1:
            raise ValueError(f"gait {self.name!r}: swing_ratio must be a number in (0, 1), got {self.swing_ratio!r}")

    def flight_fraction(self) -> float:
        """Fraction of the cycle in which the hard schedule has every foot in swing (0 for a walk)."""
        return sum((length for _, length, air in self.segments if air), 0.0)

    def airborne(self, phase: float) -> bool:
        """Whether the hard schedule has every foot in swing at clock ``phase``."""
        return all(self.swinging(phase))

    def swinging(self, phase: float) -> tuple[bool, ...]:
        """Per foot, whether the hard schedule has it in swing at clock ``phase``."""
        stance = 1.0 - self.swing_ratio
        return tuple((phase + o) % 1.0 >= stance for o in self.offsets)

    def can_take_over(self, old: Gait, phase: float) -> bool:
        """Whether this gait can take over from ``old`` at clock ``phase`` with every foot's schedule continuous in
        what a body can do at once: a foot may lift (stance to swing) but none in the air is due on the floor, and no
        flight starts (leaving the floor with every foot takes a push that the old schedule did not prepare)."""
        before, after = old.swinging(phase), self.swinging(phase)
        if any(was and not now for was, now in zip(before, after, strict=True)):
            return False
        return not all(after) or all(before)

    @functools.cached_property
    def segments(self) -> tuple[tuple[float, float, bool], ...]:
        """The cycle cut into flights and ground phases of the hard schedule: ``(start, length, airborne)`` in clock
        phase, in order from the first start, the lengths summing to 1 (one ground segment of length 1 for a walk).

        Exact: a segment's ends are ends of the feet's swing arcs (a foot with offset ``o`` swings on clock phases
        ``[1 - swing_ratio - o, 1 - o)``), so the state is tested once between each pair of neighbouring ends.
        """
        stance = 1.0 - self.swing_ratio
        cuts = sorted({(stance - o) % 1.0 for o in self.offsets} | {(1.0 - o) % 1.0 for o in self.offsets})
        pieces = []
        for i, start in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else cuts[0] + 1.0
            pieces.append([start, end - start, self.airborne((start + end) / 2.0 % 1.0)])
        # Merge neighbours in the same state, round the cycle included.
        merged: list[list] = []
        for piece in pieces:
            if merged and merged[-1][2] == piece[2]:
                merged[-1][1] += piece[1]
            else:
                merged.append(piece)
        if len(merged) > 1 and merged[-1][2] == merged[0][2]:
            merged[0] = [merged[-1][0], merged[-1][1] + merged[0][1], merged[0][2]]
            merged.pop()
        return tuple((start % 1.0, length, state) for start, length, state in merged)

    def ground_phase(self, u: float) -> float:
        """The clock phase a fraction ``u`` in ``[0, 1)`` of the way through the cycle's ground phases (everything
        but its flights): ``u`` uniform gives a uniform phase at which a body standing still can start the gait."""
        ground = [(start, length) for start, length, air in self.segments if not air]
        total = sum(length for _, length in ground)
        left = u * total
        for start, length in ground:
            if left < length:
                return (start + left) % 1.0
            left -= length
        start, length = ground[-1]
        return (start + length * (1.0 - 1e-9)) % 1.0

    def flight_time(self) -> float:
        """Seconds of the longest scheduled flight in a cycle (0 for a gait without one)."""
        return self.period * max((length for _, length, air in self.segments if air), default=0.0)


#: Standard gravity (m/s^2), for ballistic flights.
GRAVITY = 9.81


def rise_reference(gait: Gait, phase: float, crouch: float = 0.15) -> float:
    """The centre-of-mass rise above standing (m) that ``gait``'s schedule implies at clock ``phase``.

    In a scheduled flight of ``T`` seconds, the ballistic arc that leaves and returns to standing height:
    ``g t (T - t) / 2``, whose apex ``g T^2 / 8`` is the rise the flight's length allows (0.33 m for 0.52 s). On the
    ground between two flights, a dip of ``crouch`` m (a half sine): land, absorb, crouch, push off. A gait without a
    flight stays at standing height (0).
    """
    segments = gait.segments
    if not any(air for _, _, air in segments):
        return 0.0
    for start, length, air in segments:
        into = (phase - start) % 1.0
        if into < length:
            if air:
                t, total = into * gait.period, length * gait.period
                return 0.5 * GRAVITY * t * (total - t)
            return -crouch * math.sin(math.pi * into / length)
    return 0.0


def normal_cdf(x: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


#: Beyond this many standard deviations :func:`normal_cdf` is exactly 0 or 1 in doubles (``erf`` rounds to 1 past
#: about 5.93, i.e. 8.4 standard deviations).
SATURATED = 8.5


def _reach(width: float) -> int:
    """How many cycles either side a blur of ``width`` reaches (beyond 6 widths a normal CDF is 0 or 1 in floats)."""
    return math.ceil(6.0 * width) + 1


def _arc_probability(phase: float, start: float, length: float, width: float) -> float:
    """Probability that ``phase - X`` (``X ~ N(0, width^2)``) falls in an arc ``[k + start, k + start + length)`` of
    any cycle ``k``. The arcs that a blur of a few widths can reach are disjoint, so the sum of their probabilities
    is the probability of their union and stays in ``[0, 1]``."""
    if width <= 0:
        raise ValueError(f"width must be > 0 (a fraction of a cycle), got {width!r}")
    phase %= 1.0
    total = 0.0
    for k in range(-_reach(width), _reach(width) + 1):
        upper = (phase - k - start) / width
        if upper <= -SATURATED:
            continue  # both ends below: 0 - 0, skipped without changing the sum's bits
        lower = (phase - k - start - length) / width
        if lower >= SATURATED:
            continue  # both ends above: 1 - 1
        total += normal_cdf(upper) - normal_cdf(lower)
    return min(max(total, 0.0), 1.0)


def stance_indicator(phase: float, swing_ratio: float, width: float = 0.04) -> float:
    """How much a foot at ``phase`` should be in stance, in ``[0, 1]``; its swing indicator is ``1 -`` this.

    The hard schedule is stance on ``[0, 1 - swing_ratio)`` of each cycle; this is the probability that
    ``phase - X`` falls in a stance part of any cycle, for ``X ~ N(0, width^2)``, so the edges are smooth and the
    value is exactly a probability. ``width`` is a fraction of a cycle (> 0).
    """
    return _arc_probability(phase, 0.0, 1.0 - swing_ratio, width)


def swing_indicator(phase: float, swing_ratio: float, width: float = 0.04) -> float:
    """How much a foot at ``phase`` should be in swing, in ``[0, 1]``: the same blur over the swing arcs
    ``[k + 1 - swing_ratio, k + 1)``, computed on its own (so with :func:`stance_indicator` it sums to 1)."""
    return _arc_probability(phase, 1.0 - swing_ratio, swing_ratio, width)


class Clock:
    """The gait clock of one episode.

    Args:
        gait: The gait to start with.
    """

    def __init__(self, gait: Gait) -> None:
        self.gait = gait
        self.phase = 0.0
        self.pending: Gait | None = None

    def reset(self, gait: Gait, phase: float = 0.0) -> None:
        """Start an episode in ``gait`` at ``phase``."""
        self.gait, self.phase, self.pending = gait, phase % 1.0, None

    def request(self, gait: Gait) -> None:
        """Switch to ``gait`` at the first step at which it can take over (:meth:`Gait.can_take_over`: a jump in
        stance can start walking at once), at the latest when the phase next passes 0; the phase runs on through the
        switch. ``gait`` must have the clock's feet."""
        if len(gait.offsets) != len(self.gait.offsets):
            raise ValueError(f"gait {gait.name!r} has {len(gait.offsets)} feet, the clock's {len(self.gait.offsets)}")
        self.pending = gait

    def cancel(self) -> None:
        """Drop a requested gait that has not taken effect yet."""
        self.pending = None

    def advance(self, dt: float) -> bool:
        """Move the phase on by ``dt`` seconds; returns whether a requested gait took effect.

        A requested gait takes effect at the end of the first step at which it can take over (the phase unchanged,
        the new period from the next step on), or at a cycle boundary, where the rest of the step runs at its
        period. Either way the phase never jumps.
        """
        step = dt / self.gait.period
        if self.phase + step < 1.0:
            self.phase += step
            pending = self.pending
            if pending is not None and pending.can_take_over(self.gait, self.phase):
                self.gait, self.pending = pending, None
                return True
            return False
        # The part of dt that finishes this cycle, then the remainder in the (possibly new) gait.
        left = dt - (1.0 - self.phase) * self.gait.period
        switched = self.pending is not None
        if switched:
            self.gait, self.pending = self.pending, None
        self.phase = (left / self.gait.period) % 1.0
        return switched

    def foot_phases(self) -> tuple[float, ...]:
        """Each foot's phase: the clock's plus the foot's offset, in ``[0, 1)``."""
        return tuple((self.phase + offset) % 1.0 for offset in self.gait.offsets)

    def stance(self, width: float = 0.04) -> tuple[float, ...]:
        """Each foot's stance indicator now (see :func:`stance_indicator`)."""
        return tuple(stance_indicator(p, self.gait.swing_ratio, width) for p in self.foot_phases())

    def features(self) -> tuple[float, ...]:
        """What a brain sees of the clock: sin and cos of each foot's phase (cos tells feet in phase apart)."""
        angles = [2.0 * math.pi * p for p in self.foot_phases()]
        return tuple(v for a in angles for v in (math.sin(a), math.cos(a)))


def default_gaits(n_feet: int) -> dict[str, Gait]:
    """Starting schedules for a body with ``n_feet`` feet (first guesses to tune per body, not measured optima).

    ``walk``: feet evenly spread over the cycle, each in swing for less than its share, so some foot is always down
    (for one foot, a short swing: the one-footed gait closest to a walk). ``jump``: every foot in phase with a long
    swing, so each cycle has a flight. One foot also gets ``hop`` (a forward hop's schedule, the jump's shape).
    """
    if n_feet < 1:
        raise ValueError(f"a body needs at least one foot for a gait, got {n_feet}")
    spread = tuple(i / n_feet for i in range(n_feet))
    walk_swing = 0.3 if n_feet == 1 else min(0.4, 0.9 / n_feet)
    gaits = {
        "walk": Gait("walk", period=0.5, offsets=spread, swing_ratio=walk_swing),
        "jump": Gait("jump", period=0.7, offsets=(0.0,) * n_feet, swing_ratio=0.55, in_place=True),
    }
    if n_feet == 1:
        gaits["hop"] = Gait("hop", period=0.6, offsets=(0.0,), swing_ratio=0.5)
    return gaits
