"""The clock task: gaits as footfall schedules, followed by periodic rewards, switching with every foot continuous."""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.arguments import is_number
from envs.bodies import BodyReading, BodySpec
from envs.clock import GRAVITY, Clock, Gait, rise_reference
from envs.gaits import gaits_of
from envs.mirror import SignedPermutation
from envs.rewards import check_non_negative, mean_square
from envs.tasks.base import Task
from envs.tasks.gait import Command, check_command_ranges, parse_schedule


def parse_clock_schedule(text: str, spec: BodySpec) -> tuple[Command, ...]:
    """A schedule over ``spec``'s gaits (``walk:1.0@0,jump@300``); gaits in place take no speed."""
    catalogue = gaits_of(spec)
    in_place = tuple(name for name, gait in catalogue.items() if gait.in_place)
    return parse_schedule(text, tuple(catalogue), in_place)


@dataclasses.dataclass(frozen=True)
class _Step:
    """What every reward term of one step reads."""

    reading: BodyReading
    action: np.ndarray
    #: Each foot's smooth stance indicator (all 1 while the episode stands first).
    stance: tuple[float, ...]
    #: How much the schedule has every foot in swing: the product of the swing indicators.
    swing_all: float
    #: Mean squared change of the action since the last step (0 at the first).
    change: float


class ClockTask(Task):
    """Step to a gait clock: each foot stands and swings when the body's gait schedule says, at a commanded speed.

    A gait (:class:`~envs.clock.Gait`, the body's own from ``envs.catalog.GAITS``) is a period, a phase offset per
    foot and a swing ratio. The :class:`~envs.clock.Clock` runs through the whole episode; a new gait takes effect
    as soon as no foot in the air would be due on the floor and no flight would start (a jump in stance walks at
    once, a jump in flight lands first), at the latest when the phase next passes 0, so the phase and the schedule
    of every foot stay continuous (the method of Siekmann et al.
    2021, Walk These Ways and MuJoCo Playground's gait tracking). Walking and jumping differ only in their schedules:
    a walk has its feet half a cycle apart and no flight, a jump its feet in phase and a flight every cycle.

    ## Observation
    The command appended to the observation is, per foot, ``sin`` and ``cos`` of its phase; then the gait's
    ``swing_ratio``, its ``frequency`` (1 / period, Hz) and each foot's ``offset``; then the ``speed`` (m/s, 0 for a
    gait in place). It shows the gait in force: a requested gait appears when it takes effect.

    ## Commands
    Without a ``schedule``, each command draws a gait from ``gaits`` and a speed from ``speed_range`` (times the body's
    walk speed; 0 for gaits in place) and lasts a time drawn from ``switch_interval``. A schedule such as
    ``"walk:1.0@0,jump@300"`` fixes them (see :func:`~envs.tasks.gait.parse_schedule`);
    ``env.reset(options={"schedule": ...})`` sets the next episode's (``None``: random ones). A command due at step
    ``N`` is requested after the ``N``-th step. Its speed applies at once (a walk told to jump first slows to a
    stop, a jump told to walk sets off); its gait takes effect when the clock lets it take over. ``info`` carries
    the ``commanded_gait`` and ``commanded_speed`` (the latest command), the ``active_gait`` and the ``clock_phase``.

    ## Rewards
    Every term is ``weight * exp(-scale * error)`` (or ``weight`` times a fraction), so it lies in ``[0, weight]``
    and none can be farmed. Each term is one method (``_<term>``, returning its error or its fraction) and two
    numbers, its weight and its scale (``weights`` and ``scales``, from the ``<term>_weight`` and ``<term>_scale``
    arguments), as MuJoCo Playground's locomotion rewards are. ``S_i`` is foot ``i``'s smooth stance indicator
    (:func:`~envs.clock.stance_indicator`, blur ``indicator_width``), ``1 - S_i`` its swing indicator.

    | term           | error (or pay)                                                                            |
    |----------------|-------------------------------------------------------------------------------------------|
    | `swing_force`  | mean over feet of ``(1 - S_i) * F_i``, the floor force in body weights: no weight in swing |
    | `stance_contact` | pays ``1 -`` the mean over feet of ``S_i * (1 - C_i)``, ``C_i`` the foot touching the |
    |                | floor: a foot due in stance is down, not hovering                                         |
    | `grounded`     | pays ``1 -`` (every foot off the floor) ``* (1 - F)``, ``F = prod_i (1 - S_i)`` while the |
    |                | body has not yet landed from the scheduled flight and 0 once it has: a flight the schedule |
    |                | does not have (a walk that runs, a second hop in a jump's stance, a rebound after landing, |
    |                | even inside the scheduled flight's time) costs the whole term                            |
    | `stance_speed` | mean over feet of ``S_i * v_i``, the foot speed (m/s): no sliding in stance               |
    | `clearance`    | mean over feet of ``(1 - S_i)`` times how far foot ``i`` is below ``clearance_height``     |
    |                | above the floor (off by default): a swing foot lifted clear, not scuffing                 |
    | `speed`        | centre-of-mass velocity averaged over the last cycle, its distance from the command       |
    |                | (forward, and 0 sideways) less ``speed_deadzone``                                         |
    | `upright`      | ``1 - cos`` of the torso's tilt from vertical                                             |
    | `height`       | distance of the centre-of-mass rise from the schedule's (:func:`~envs.clock.rise_reference`: |
    |                | a ballistic arc through each scheduled flight, a ``crouch`` between them, standing height |
    |                | for a gait without flight), less ``height_deadzone``                                      |
    | `launch`       | pays, while the schedule has every foot in swing, the upward centre-of-mass speed in      |
    |                | units of the take-off speed of the scheduled flight (capped at 1; nothing going down)     |
    | `action_rate`  | mean squared change of the action since the last step                                     |
    | `ctrl`         | mean squared action                                                                       |

    ## Episode end
    The episode ends when the body has fallen (see :class:`~envs.bodies.BodySpec`); the registration truncates it
    after 1000 steps.

    Args:
        gaits: Names of the body's gaits drawn for random commands (see ``envs.catalog.gaits_of``).
        switch_interval: Range (s) of the time between random command changes.
        speed_range: Range of speeds drawn for moving gaits, as multiples of the body's walk speed.
        schedule: Fixed commands instead of random ones, e.g. ``"walk:1.0@0,jump@300,walk:0.5@600"``.
        random_phase: Start each episode at a random phase on the ground (not in a scheduled flight, which a body
            standing still cannot be in); otherwise at 0.
        stand_first: Each episode begins standing: every foot in stance and no flight scheduled until the clock
            first passes 0, so the first flight comes after a full stance. A body dropped at the spawn cannot meet
            a flight due a few steps after it lands; the observation is unchanged (a recurrent brain knows it has
            just started).
        one_flight: A scheduled flight allows one flight: once the body has flown and landed, ``grounded`` charges
            leaving the floor again until the next scheduled flight (False: v3's rule, every step of a scheduled
            flight free, which lets a jump learned from scratch find its height through a second hop).
        period_jitter: Gait randomisation (Siekmann et al. 2021): each random command's period is its gait's times a
            factor drawn from ``[1 - period_jitter, 1 + period_jitter]``, so a brain learns to follow the clock, not
            two fixed rhythms. Fixed schedules keep the named gaits.
        swing_jitter: Likewise, each random command's swing ratio is its gait's plus a number drawn from
            ``[-swing_jitter, swing_jitter]``.
        in_place_moving: Fraction of the random commands of in-place gaits (the jump, the pronk) that take a speed
            drawn from ``speed_range`` instead of 0, as the field trains every gait at every speed: with the jump
            always in place, standing still is the compromise between a walk and a jump that a brain learning both
            settles on. Fixed schedules keep in-place gaits in place.
        indicator_width: Blur of the stance indicator's edges, a fraction of a cycle (``width`` is the renderer's).
        swing_force_weight: Weight of ``swing_force``.
        swing_force_scale: Scale of ``swing_force``, per body weight.
        stance_contact_weight: Weight of ``stance_contact``.
        grounded_weight: Weight of ``grounded``.
        stance_speed_weight: Weight of ``stance_speed``.
        stance_speed_scale: Scale of ``stance_speed``, per m/s.
        clearance_weight: Weight of ``clearance`` (0: off).
        clearance_scale: Scale of ``clearance``, per m.
        clearance_height: Height (m) above the floor that a foot due in swing is asked to clear.
        speed_weight: Weight of ``speed``.
        speed_scale: Scale of ``speed``, per m/s.
        speed_deadzone: Speed error (m/s) that costs nothing (a body's speed wavers within a cycle).
        upright_weight: Weight of ``upright``.
        upright_scale: Scale of ``upright``, per unit of ``1 - cos(tilt)``.
        height_weight: Weight of ``height``.
        height_scale: Scale of ``height``, per m.
        height_deadzone: Distance (m) from the scheduled rise that costs nothing.
        crouch: Depth (m) below standing of the scheduled crouch between two flights (see
            :func:`envs.reach.deepest_crouch` for how deep a body can crouch; the built-in planar bodies set their own).
        launch_weight: Weight of ``launch``.
        action_rate_weight: Weight of ``action_rate``.
        action_rate_scale: Scale of ``action_rate``.
        ctrl_weight: Weight of ``ctrl``.
        ctrl_scale: Scale of ``ctrl``.

    ## Version history
    * v1: initial version.
    * v2: ``height`` tracks the schedule's rise through the whole cycle (v1 paid the rise in flight only, and its
      jumps stayed low); ``stance_contact`` added; ``launch`` in units of the scheduled flight's take-off speed.
    * v3: ``crouch`` is the body's own (:class:`~envs.bodies.BodySpec` ``task_kwargs``): 0.06 m for the Walker2d and
      0.08 m for the Hopper, within what their joints allow standing still (:func:`envs.reach.deepest_crouch`);
      v2 asked every body for 0.15 m, and the Walker2d's jumps stayed at 0.21 m. A new gait takes over as soon as
      every foot's schedule stays continuous (:meth:`~envs.clock.Gait.can_take_over`), not only at the cycle
      boundary: a jump told to walk in its stance no longer jumps once more. A random start phase is on the ground,
      never in a flight that a body standing still cannot be in. ``grounded`` charges flights the schedule does not
      have: the clock walks ran (a foot down on 93% of steps).
    * v4: ``grounded`` charges a second flight in one scheduled flight's time: once the body has flown and landed,
      it is charged for leaving the floor again until the next scheduled flight begins. v3 forgave the rebounds
      that follow a landing near the schedule's blurred edges (1-3 cm, 3-5 steps): in the best v3 jump's 10 test
      episodes, 18 of 115 flights rose under 5 cm, and its mean apex rise was 0.268 m while its jumps rose 0.30-0.36 m.
      ``stand_first`` added; ``one_flight=False`` keeps v3's rule.
    """

    name = "clock"
    title = "Clock"
    version = 4
    terms = (
        "swing_force",
        "stance_contact",
        "grounded",
        "stance_speed",
        "clearance",
        "speed",
        "upright",
        "height",
        "launch",
        "action_rate",
        "ctrl",
    )
    reads_foot_dynamics = True
    reports_info = True

    def __init__(
        self,
        gaits: tuple[str, ...] = ("walk", "jump"),
        switch_interval: tuple[float, float] = (2.0, 5.0),
        speed_range: tuple[float, float] = (0.5, 1.5),
        schedule: str | None = None,
        random_phase: bool = True,
        stand_first: bool = False,
        one_flight: bool = True,
        period_jitter: float = 0.0,
        swing_jitter: float = 0.0,
        in_place_moving: float = 0.0,
        indicator_width: float = 0.04,
        swing_force_weight: float = 0.3,
        swing_force_scale: float = 6.0,
        stance_contact_weight: float = 0.2,
        grounded_weight: float = 0.3,
        stance_speed_weight: float = 0.2,
        stance_speed_scale: float = 2.0,
        clearance_weight: float = 0.0,
        clearance_scale: float = 40.0,
        clearance_height: float = 0.04,
        speed_weight: float = 0.3,
        speed_scale: float = 3.0,
        speed_deadzone: float = 0.05,
        upright_weight: float = 0.15,
        upright_scale: float = 20.0,
        height_weight: float = 0.5,
        height_scale: float = 8.0,
        height_deadzone: float = 0.03,
        crouch: float = 0.15,
        launch_weight: float = 0.2,
        action_rate_weight: float = 0.1,
        action_rate_scale: float = 2.0,
        ctrl_weight: float = 0.05,
        ctrl_scale: float = 1.0,
    ) -> None:
        gaits = tuple(gaits)
        if not gaits or not all(isinstance(g, str) for g in gaits):
            raise ValueError(f"gaits must be a non-empty list of gait names, got {gaits!r}")
        if not (is_number(period_jitter) and 0 <= period_jitter < 0.5):
            raise ValueError(f"period_jitter must be a fraction in [0, 0.5), got {period_jitter!r}")
        if not (is_number(swing_jitter) and 0 <= swing_jitter < 0.25):
            raise ValueError(f"swing_jitter must be a fraction of a cycle in [0, 0.25), got {swing_jitter!r}")
        if not (is_number(in_place_moving) and 0 <= in_place_moving <= 1):
            raise ValueError(f"in_place_moving must be a fraction in [0, 1], got {in_place_moving!r}")
        if not (is_number(indicator_width) and 0 < indicator_width <= 0.25):
            raise ValueError(f"indicator_width must be a fraction of a cycle in (0, 0.25], got {indicator_width!r}")
        check_non_negative(
            swing_force_weight=swing_force_weight,
            stance_contact_weight=stance_contact_weight,
            grounded_weight=grounded_weight,
            stance_speed_weight=stance_speed_weight,
            clearance_weight=clearance_weight,
            clearance_scale=clearance_scale,
            clearance_height=clearance_height,
            speed_weight=speed_weight,
            upright_weight=upright_weight,
            height_weight=height_weight,
            launch_weight=launch_weight,
            action_rate_weight=action_rate_weight,
            ctrl_weight=ctrl_weight,
            swing_force_scale=swing_force_scale,
            stance_speed_scale=stance_speed_scale,
            speed_scale=speed_scale,
            speed_deadzone=speed_deadzone,
            height_scale=height_scale,
            height_deadzone=height_deadzone,
            crouch=crouch,
            upright_scale=upright_scale,
            action_rate_scale=action_rate_scale,
            ctrl_scale=ctrl_scale,
        )
        self.gaits = gaits
        self.switch_interval, self.speed_range = check_command_ranges(switch_interval, speed_range)
        self.schedule_text = schedule
        self.random_phase = bool(random_phase)
        self.stand_first = bool(stand_first)
        self.one_flight = bool(one_flight)
        self.period_jitter, self.swing_jitter = float(period_jitter), float(swing_jitter)
        self.in_place_moving = float(in_place_moving)
        self.standing = False
        self._in_flight = False  # the hard schedule has every foot in swing
        self._flown = False  # the body was airborne in the current scheduled flight
        self._landed = False  # ... and has touched the floor since
        self.indicator_width = float(indicator_width)
        #: Each term's weight, and the scale of the error of each term paid as ``weight * exp(-scale * error)``
        #: (terms without a scale pay ``weight`` times a fraction): a new term is a ``_<name>`` method and its two
        #: numbers here (the shape of MuJoCo Playground's reward configs).
        self.weights = {
            "swing_force": swing_force_weight,
            "stance_contact": stance_contact_weight,
            "grounded": grounded_weight,
            "stance_speed": stance_speed_weight,
            "clearance": clearance_weight,
            "speed": speed_weight,
            "upright": upright_weight,
            "height": height_weight,
            "launch": launch_weight,
            "action_rate": action_rate_weight,
            "ctrl": ctrl_weight,
        }
        self.scales = {
            "swing_force": swing_force_scale,
            "stance_speed": stance_speed_scale,
            "clearance": clearance_scale,
            "speed": speed_scale,
            "upright": upright_scale,
            "height": height_scale,
            "action_rate": action_rate_scale,
            "ctrl": ctrl_scale,
        }
        self._terms = tuple((name, getattr(self, f"_{name}")) for name in self.terms)
        self.speed_deadzone = speed_deadzone
        self.clearance_height = clearance_height
        #: The env reads each foot's distance from the floor only when ``clearance`` is paid.
        self.reads_foot_clearances = clearance_weight > 0
        self.height_deadzone = height_deadzone
        self.crouch = crouch
        self.np_random = np.random.default_rng()
        self.catalogue: dict[str, Gait] = {}
        self.schedule: tuple[Command, ...] = ()
        self.next_schedule: tuple[Command, ...] | None = None
        self.episode_schedule: tuple[Command, ...] = ()
        self._due: dict[int, Command] = {}
        self.clock: Clock | None = None
        self.speed = 0.0
        self.commanded_gait = gaits[0]
        self.commanded_speed = 0.0
        self.step_count = 0
        self.next_switch = 0
        self.last_action: np.ndarray | None = None
        self._positions: collections.deque = collections.deque()
        self._window = 1

    def setup(self, spec: BodySpec, dt: float) -> None:
        super().setup(spec, dt)
        self.catalogue = gaits_of(spec)
        unknown = [g for g in self.gaits if g not in self.catalogue]
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise ValueError(f"gaits {names} are not gaits of {spec.name}; valid: {', '.join(self.catalogue)}")
        self.walk_speed = spec.walk_speed
        self.spec = spec
        self.schedule = self.parse(self.schedule_text) if self.schedule_text else ()
        self.episode_schedule = self.schedule
        self.clock = Clock(self.catalogue[self.gaits[0]])
        feet = spec.foot_labels
        self.command_labels = (
            *(f"clock_{f}_{part}" for f in feet for part in ("sin", "cos")),
            "swing_ratio",
            "frequency",
            *(f"offset_{f}" for f in feet),
            "speed",
        )

    def parse(self, text: str) -> tuple[Command, ...]:
        """A schedule over this body's gaits (see :func:`parse_clock_schedule`)."""
        return parse_clock_schedule(text, self.spec)

    @property
    def command(self) -> np.ndarray:
        gait = self.clock.gait
        return np.array([*self.clock.features(), gait.swing_ratio, 1.0 / gait.period, *gait.offsets, self.speed])

    def command_mirror(self, feet: np.ndarray) -> tuple[SignedPermutation, np.ndarray]:
        """Feet trade their clocks and offsets; the swing ratio, the frequency and the (forward) speed stay."""
        n = len(feet)
        clocks = np.stack([2 * feet, 2 * feet + 1], axis=1).ravel()
        index = np.concatenate([clocks, [2 * n, 2 * n + 1], 2 * n + 2 + feet, [3 * n + 2]])
        return SignedPermutation(index, np.ones(len(index))), 2 * n + 2 + np.arange(n)

    def info(self) -> dict[str, Any]:
        """The latest command, the gait in force and the clock's phase, for ``info``."""
        return {
            "commanded_gait": self.commanded_gait,
            "commanded_speed": self.commanded_speed,
            "active_gait": self.clock.gait.name,
            "clock_phase": self.clock.phase,
            "standing_first": self.standing,
        }

    def _command(self, gait: Gait, speed: float | None, *, now: bool = False) -> None:
        """Command ``gait`` at ``speed`` (``None``: in place for an in-place gait, else the body's walk speed)."""
        value = float(speed) if speed is not None else 0.0 if gait.in_place else float(self.walk_speed)
        self.commanded_gait, self.commanded_speed = gait.name, value
        if now:
            self.clock.reset(gait, self.clock.phase)
        elif gait == self.clock.gait:
            self.clock.cancel()
        else:
            self.clock.request(gait)
        if now or value != self.speed:
            self._activate(value)

    def _activate(self, speed: float) -> None:
        """Put ``speed`` in force; the speed average restarts, over one cycle of the gait in force."""
        self.speed = speed
        self._window = max(1, round(self.clock.gait.period / self.dt))
        positions = self._positions
        last = positions[-1] if positions else None
        positions.clear()
        if last is not None:
            positions.append(last)

    def _draw(self, *, now: bool = False) -> None:
        name = self.gaits[int(self.np_random.integers(len(self.gaits)))]
        speed = self.walk_speed * float(self.np_random.uniform(*self.speed_range))
        gait = self._jittered(self.catalogue[name])
        # Draws only when it can matter, so runs without it see the random stream they always did.
        if gait.in_place and not (self.in_place_moving > 0 and float(self.np_random.uniform()) < self.in_place_moving):
            speed = 0.0
        self._command(gait, speed, now=now)
        seconds = float(self.np_random.uniform(*self.switch_interval))
        self.next_switch = self.step_count + max(1, round(seconds / self.dt))

    def _jittered(self, gait: Gait) -> Gait:
        """``gait`` with its period and swing ratio randomised by ``period_jitter`` and ``swing_jitter``."""
        if not (self.period_jitter or self.swing_jitter):
            return gait  # draws nothing, so runs without jitter see the random stream they always did
        period = gait.period * float(self.np_random.uniform(1.0 - self.period_jitter, 1.0 + self.period_jitter))
        swing = gait.swing_ratio + float(self.np_random.uniform(-self.swing_jitter, self.swing_jitter))
        return dataclasses.replace(gait, period=period, swing_ratio=min(max(swing, 0.05), 0.95))

    def episode_options(self, options: Mapping[str, Any]) -> None:
        """``{"schedule": "walk:1.0@0,jump@300"}``: the next episode's commands (``None``: random ones)."""
        unknown = set(options) - {"schedule"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(unknown))} of the clock task; valid: schedule")
        text = options.get("schedule")
        self.next_schedule = self.parse(text) if text else ()

    def reset(self, reading: BodyReading, np_random: np.random.Generator) -> None:
        self.np_random = np_random
        self.step_count = 0
        self.last_action = None
        self.episode_schedule = self.schedule if self.next_schedule is None else self.next_schedule
        self.next_schedule = None
        self._due = {}
        for command in self.episode_schedule:
            self._due.setdefault(command.step, command)
        self.clock.reset(self.clock.gait, 0.0)
        if self.episode_schedule:
            first = self.episode_schedule[0]
            self._command(self.catalogue[first.gait], first.speed, now=True)
        else:
            self._draw(now=True)
        if self.random_phase:
            gait = self.clock.gait
            self.clock.reset(gait, gait.ground_phase(float(np_random.uniform())))
        self.standing = self.stand_first
        self._in_flight = self._flown = self._landed = False
        self._positions.clear()
        self._positions.append(tuple(reading.com_position[:2].tolist()))

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        self._advance_clock()
        step = self._step_state(reading, action)
        terms = {}
        weights, scales = self.weights, self.scales
        for name, term in self._terms:
            value = term(step)
            scale = scales.get(name)
            terms[name] = weights[name] * (value if scale is None else math.exp(-scale * value))
        self._next_command()
        return terms

    def _advance_clock(self) -> None:
        """Move the clock on one step; the speed average restarts when a new gait takes over, and a standing start
        ends when the clock passes 0."""
        clock = self.clock
        before = clock.phase
        if clock.advance(self.dt):
            self._activate(self.speed)
        if self.standing and clock.phase < before:
            self.standing = False  # the clock passed 0: the schedule starts

    def _step_state(self, reading: BodyReading, action: np.ndarray) -> _Step:
        """What the terms share this step: each foot's stance indicator, the body's reading, the action and the
        schedule's flight bookkeeping (one flight per scheduled flight)."""
        clock = self.clock
        stance = (1.0,) * len(clock.gait.offsets) if self.standing else clock.stance(self.indicator_width)
        # How much the schedule has every foot in swing (a flight, for gaits that have one).
        swing_all = 1.0
        for s in stance:
            swing_all *= 1.0 - s
        # One flight per scheduled flight: after the body has flown and landed, leaving the floor again is a rebound.
        in_flight = not self.standing and clock.gait.airborne(clock.phase)
        if in_flight and not self._in_flight:
            self._flown = self._landed = False
        self._in_flight = in_flight
        if reading.airborne and (in_flight or swing_all > 0.5):
            self._flown = True
        elif self._flown and not reading.airborne and self.one_flight:
            self._landed = True
        change = 0.0
        if self.last_action is not None:
            change = mean_square(action - self.last_action)
        self.last_action = np.array(action, dtype=np.float64)
        return _Step(reading, action, stance, swing_all, change)

    # One method per reward term: the error of a term with a scale, the pay (a fraction) of one without.

    def _swing_force(self, step: _Step) -> float:
        """Mean over feet of the floor force (body weights) on a foot due in swing."""
        forces = step.reading.foot_forces
        return sum((1.0 - s) * f for s, f in zip(step.stance, forces, strict=True)) / len(step.stance)

    def _stance_contact(self, step: _Step) -> float:
        """One less the mean over feet of a foot due in stance hovering off the floor."""
        contacts = step.reading.foot_contacts
        return 1.0 - sum(s * (not c) for s, c in zip(step.stance, contacts, strict=True)) / len(step.stance)

    def _grounded(self, step: _Step) -> float:
        """One less every foot off the floor outside the scheduled flight (or after its one flight)."""
        free = 0.0 if self._landed else step.swing_all
        return 1.0 - (1.0 - free) * step.reading.airborne

    def _stance_speed(self, step: _Step) -> float:
        """Mean over feet of the speed (m/s) of a foot due in stance."""
        speeds = step.reading.foot_speeds
        return sum(s * v for s, v in zip(step.stance, speeds, strict=True)) / len(step.stance)

    def _clearance(self, step: _Step) -> float:
        """Mean over feet of how far (m) a foot due in swing is below ``clearance_height`` above the floor: a
        swing foot lifted clear, not scuffing the floor on its way."""
        height, clearances = self.clearance_height, step.reading.foot_clearances
        if clearances is None:  # a reading without foot dynamics: nothing to charge
            return 0.0
        return sum((1.0 - s) * max(0.0, height - d) for s, d in zip(step.stance, clearances, strict=True)) / len(
            step.stance
        )

    def _speed(self, step: _Step) -> float:
        """Distance of the centre of mass's velocity over the last cycle from the command, less the deadzone."""
        positions = self._positions
        x, y = step.reading.com_position[:2].tolist()
        positions.append((x, y))
        while len(positions) > self._window + 1:
            positions.popleft()
        span = (len(positions) - 1) * self.dt
        x0, y0 = positions[0]
        vx, vy = ((x - x0) / span, (y - y0) / span) if span > 0 else (0.0, 0.0)
        return max(0.0, math.hypot(vx - self.speed, vy) - self.speed_deadzone)

    def _upright(self, step: _Step) -> float:
        """``1 - cos`` of the torso's tilt from vertical."""
        return 1.0 - step.reading.torso_upright

    def _height(self, step: _Step) -> float:
        """Distance of the centre-of-mass rise from the schedule's, less the deadzone."""
        clock = self.clock
        reference = 0.0 if self.standing else rise_reference(clock.gait, clock.phase, self.crouch)
        return max(0.0, abs(step.reading.com_rise - reference) - self.height_deadzone)

    def _launch(self, step: _Step) -> float:
        """Upward speed in a scheduled flight, in units of the flight's take-off speed (g T / 2), capped at 1: a dense
        hint towards an explosive take-off, never paid on the way down."""
        takeoff_speed = 0.5 * GRAVITY * self.clock.gait.flight_time()
        if takeoff_speed > 0 and not self.standing:
            return min(max(float(step.reading.com_velocity[2]) / takeoff_speed, 0.0), 1.0) * step.swing_all
        return 0.0

    def _action_rate(self, step: _Step) -> float:
        """Mean squared change of the action since the last step."""
        return step.change

    def _ctrl(self, step: _Step) -> float:
        """Mean squared action."""
        return mean_square(step.action)

    def _next_command(self) -> None:
        """Count the step; a command due after it (or a random one whose time has come) applies from the next."""
        self.step_count += 1
        if self.episode_schedule:
            due = self._due.get(self.step_count)
            if due is not None:
                self._command(self.catalogue[due.gait], due.speed)
        elif self.step_count >= self.next_switch:
            self._draw()
