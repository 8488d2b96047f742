"""The gait task: one brain walks and jumps on command, the command changing within an episode."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.arguments import check_arguments, is_number, parameters
from envs.bodies import BodyReading, BodySpec
from envs.tasks.base import Task
from envs.tasks.jump import JumpTask
from envs.tasks.walk import WalkTask

#: Gaits a command can ask for, in the order of the command's one-hot part (fixed, so observations keep their size).
GAITS = ("walk", "jump")
_SUBTASKS: dict[str, type[Task]] = {"walk": WalkTask, "jump": JumpTask}
#: Each gait's term names as the gait task reports them (``speed`` -> ``walk_speed``), built once.
_PREFIXED = {gait: {term: f"{gait}_{term}" for term in task.terms} for gait, task in _SUBTASKS.items()}
_COMMAND = re.compile(r"^\s*(?P<gait>[a-z]+)\s*(?::\s*(?P<speed>[^@\s]+))?\s*@\s*(?P<step>[^,\s]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Command:
    """From env step ``step`` on, do ``gait`` (at ``speed`` m/s when walking; ``None``: the body's walk speed)."""

    step: int
    gait: str
    speed: float | None = None


def check_schedule_length(commands: tuple[Command, ...], steps: int, length: str) -> None:
    """Raise ``ValueError`` if a command is due at or after ``steps``, the episode's length (``length`` says where
    that number comes from): a command due at step N takes effect from step N + 1, so such a one never would."""
    late = [command for command in commands if command.step >= steps]
    if late:
        first = late[0]
        text = f"{first.gait}{'' if first.speed is None else f':{first.speed:g}'}@{first.step}"
        raise ValueError(
            f"{text} is due at step {first.step}, past the episode's last step {steps} ({length}); schedule every "
            f"command before step {steps}"
        )


def parse_schedule(
    text: str, gaits: tuple[str, ...] = GAITS, in_place: tuple[str, ...] | None = None
) -> tuple[Command, ...]:
    """Parse ``"walk:1.0@0,jump@300,walk:0.5@600"``: gait, optional speed, and the env step it starts at.

    Gaits named in ``in_place`` take no speed (default: every gait but ``walk``). The first command starts at step 0
    and steps increase. Raises ``ValueError`` naming the bad part.
    """
    commands = []
    for part in str(text).split(","):
        match = _COMMAND.match(part)
        if not match:
            raise ValueError(f"bad command {part.strip()!r} in schedule {text!r}: expected GAIT[:SPEED]@STEP, "
                             "e.g. walk:1.0@0,jump@300")  # fmt: skip
        gait, speed, step = match["gait"], match["speed"], match["step"]
        if gait not in gaits:
            raise ValueError(f"bad command {part.strip()!r}: gait must be one of {', '.join(gaits)}")
        if not step.isdecimal():
            raise ValueError(f"bad command {part.strip()!r}: the step after @ must be a whole number >= 0")
        value = None
        if speed is not None:
            if (gait != "walk") if in_place is None else (gait in in_place):
                moving = ", ".join(g for g in gaits if g not in in_place) if in_place is not None else "walk"
                raise ValueError(f"bad command {part.strip()!r}: only {moving} takes a speed")
            try:
                value = float(speed)
            except ValueError:
                value = float("nan")
            if not (is_number(value) and value > 0):
                raise ValueError(f"bad command {part.strip()!r}: the speed must be a number > 0 (m/s) and finite, "
                                 f"got {speed!r}")  # fmt: skip
        commands.append(Command(int(step), gait, value))
    if commands[0].step != 0:
        raise ValueError(f"schedule {text!r} must start at step 0 (e.g. {commands[0].gait}@0)")
    for before, after in itertools.pairwise(commands):
        if after.step <= before.step:
            raise ValueError(f"schedule {text!r}: steps must increase ({after.step} after {before.step})")
    return tuple(commands)


def check_command_ranges(
    switch_interval: tuple[float, float], speed_range: tuple[float, float]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The random commands' ``switch_interval`` (s) and ``speed_range`` as floats; a one-line ``ValueError`` unless
    each is ``(low, high)`` with ``0 < low <= high``."""
    low, high = switch_interval
    if not 0 < low <= high:
        raise ValueError(f"switch_interval must be (low, high) seconds with 0 < low <= high, got {switch_interval}")
    if not 0 < speed_range[0] <= speed_range[1]:
        raise ValueError(f"speed_range must be (low, high) with 0 < low <= high, got {speed_range}")
    return (float(low), float(high)), (float(speed_range[0]), float(speed_range[1]))


def _check_subtask_kwargs(gait: str, kwargs: Any) -> None:
    """Check the gait task's ``walk`` or ``jump`` argument: names and numbers as ``gym.make`` checks them."""
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{gait} must be a dict of {gait} task arguments, got {kwargs!r}")
    if gait == "walk" and "speed" in kwargs:
        raise ValueError("the walking speed comes from the command: set speed_range or schedule, not walk.speed")
    valid = parameters(_SUBTASKS[gait].__init__) - {"self"}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise ValueError(
            f"unknown {gait} task argument(s) {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(valid))}"
        )
    check_arguments(_SUBTASKS[gait].__init__, kwargs, prefix=f"{gait}.")


class GaitTask(Task):
    """Walk or jump, as the command says; the command changes at random times (or on a given schedule).

    ## Observation
    The command appended to the observation has five entries, labelled ``walk``, ``jump``, ``speed``, ``spot_x`` and
    ``spot_y``: a one-hot of the active gait, the walking speed (m/s; 0 while jumping) and the jump task's command,
    the vector to the jump's starting spot (0 while walking). The walk and jump tasks' own labels are kept, so a
    walking or jumping brain's inputs carry over to a gait brain.

    ## Commands
    Without a ``schedule``, each command draws a gait from ``gaits`` and a speed from ``speed_range`` (times the body's
    walk speed) and lasts a time drawn from ``switch_interval``. A schedule such as ``"walk:1.0@0,jump@300"`` fixes
    them instead (see :func:`parse_schedule`); ``env.reset(options={"schedule": ...})`` sets the next episode's
    (``None``: random ones). A command due at step ``N`` is in the observation that the ``N``-th ``env.step``
    returns (``reset`` for ``N = 0``), and the next step is rewarded by it.

    ## Rewards
    The reward is the active gait's task's own terms, reported as ``info["reward_walk_<term>"]`` or
    ``info["reward_jump_<term>"]`` (the other gait's terms are 0), computed by a :class:`~envs.tasks.walk.WalkTask`
    and a :class:`~envs.tasks.jump.JumpTask`. Each restarts (its running duty factors, its jump's starting spot) when
    its gait is commanded.

    ## Episode end
    The episode ends as the active task ends it: a fall, or straying ``max_stray`` from the spot while jumping. The
    registration truncates it after 1000 steps.

    ## Arguments
    Given to ``gym.make``; the body's walk and jump defaults do not apply inside the gait task.

    Args:
        gaits: Gaits drawn for random commands.
        switch_interval: Range (s) of the time between random command changes.
        speed_range: Range of walking speeds drawn, as multiples of the body's walk speed.
        schedule: Fixed commands instead of random ones, e.g. ``"walk:1.0@0,jump@300,walk:0.5@600"``.
        walk: Keyword arguments of the walk task (its weights and thresholds; not ``speed``, which the command sets).
        jump: Keyword arguments of the jump task.

    ## Version history
    * v2: follows Jump-v3: the command carries the vector to the jump's starting spot (five entries, from three).
    * v1: follows Jump-v2; the episode ends as the active task ends it (before, only on a fall).
    * v0: initial version.
    """

    name = "gait"
    title = "Gait"
    version = 2
    terms = tuple(f"{gait}_{term}" for gait in GAITS for term in _SUBTASKS[gait].terms)
    # The walk task's speed and the jump task's spot keep their names: a walking or jumping brain's inputs carry over.
    command_labels = (*GAITS, *WalkTask.command_labels, *JumpTask.command_labels)

    def __init__(
        self,
        gaits: tuple[str, ...] = GAITS,
        switch_interval: tuple[float, float] = (3.0, 6.0),
        speed_range: tuple[float, float] = (0.5, 1.5),
        schedule: str | None = None,
        walk: Mapping[str, Any] | None = None,
        jump: Mapping[str, Any] | None = None,
    ) -> None:
        gaits = tuple(gaits)
        if not gaits or set(gaits) - set(GAITS):
            raise ValueError(f"gaits must be some of {', '.join(GAITS)}, got {gaits!r}")
        self.gaits = gaits
        self.switch_interval, self.speed_range = check_command_ranges(switch_interval, speed_range)
        self.schedule = parse_schedule(schedule) if schedule else ()
        self.episode_schedule = self.schedule
        self.next_schedule: tuple[Command, ...] | None = None
        subtasks = {"walk": walk or {}, "jump": jump or {}}
        for gait, kwargs in subtasks.items():
            _check_subtask_kwargs(gait, kwargs)
        self.tasks: dict[str, Task] = {gait: _SUBTASKS[gait](**kwargs) for gait, kwargs in subtasks.items()}
        self.active = gaits[0]
        self.speed = 0.0
        self.step_count = 0
        self.next_switch = 0
        self.np_random = np.random.default_rng()
        self._due: dict[int, Command] = {}

    def setup(self, spec: BodySpec, dt: float) -> None:
        super().setup(spec, dt)
        self.walk_speed = spec.walk_speed
        for task in self.tasks.values():
            task.setup(spec, dt)

    @property
    def command(self) -> np.ndarray:
        one_hot = [float(self.active == gait) for gait in GAITS]
        walking = self.active == "walk"
        spot = np.zeros(2) if walking else self.tasks["jump"].command
        return np.array([*one_hot, self.speed if walking else 0.0, *spot])

    def _command(self, gait: str, speed: float | None, reading: BodyReading) -> None:
        self.active = gait
        self.speed = float(speed if speed is not None else self.walk_speed)
        task = self.tasks[gait]
        if isinstance(task, WalkTask):
            task.speed = self.speed
        task.reset(reading, self.np_random)

    def _draw(self, reading: BodyReading) -> None:
        gait = self.gaits[int(self.np_random.integers(len(self.gaits)))]
        speed = self.walk_speed * float(self.np_random.uniform(*self.speed_range))
        self._command(gait, speed, reading)
        seconds = float(self.np_random.uniform(*self.switch_interval))
        self.next_switch = self.step_count + max(1, round(seconds / self.dt))

    def episode_options(self, options: Mapping[str, Any]) -> None:
        """``{"schedule": "walk:1.0@0,jump@300"}``: the next episode's commands (``None``: random ones, even where
        the env was given a fixed ``schedule``)."""
        unknown = set(options) - {"schedule"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(unknown))} of the gait task; valid: schedule")
        text = options.get("schedule")
        self.next_schedule = parse_schedule(text) if text else ()

    def reset(self, reading: BodyReading, np_random: np.random.Generator) -> None:
        self.np_random = np_random
        self.step_count = 0
        self.episode_schedule = self.schedule if self.next_schedule is None else self.next_schedule
        self.next_schedule = None
        self._due = {}
        for command in self.episode_schedule:
            self._due.setdefault(command.step, command)
        if self.episode_schedule:
            first = self.episode_schedule[0]
            self._command(first.gait, first.speed, reading)
        else:
            self._draw(reading)

    def terminated(self, reading: BodyReading, base_terminated: bool) -> bool:
        return self.tasks[self.active].terminated(reading, base_terminated)

    def reward_terms(self, reading: BodyReading, action: np.ndarray, base_info: Mapping[str, Any]) -> dict[str, float]:
        terms = dict.fromkeys(self.terms, 0.0)
        names = _PREFIXED[self.active]
        for name, value in self.tasks[self.active].reward_terms(reading, action, base_info).items():
            terms[names.get(name) or f"{self.active}_{name}"] = value
        # The next command applies from the next step on, and the observation of this step already carries it.
        self.step_count += 1
        if self.episode_schedule:
            due = self._due.get(self.step_count)
            if due is not None:
                self._command(due.gait, due.speed, reading)
        elif self.step_count >= self.next_switch:
            self._draw(reading)
        return terms
