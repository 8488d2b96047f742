"""The ideal clock follower: footfalls exactly on a clock task's schedule, to find what any brain can best score.

A brain of the clock task can follow a command no sooner than the clock lets it: a new gait takes effect when it can
take over with every foot's schedule continuous (:meth:`~envs.clock.Gait.can_take_over`), and the gait label that
judges a switch looks back over a trailing window. Feeding the
clock's own hard schedule (every foot down exactly when due, the centre of mass on
:func:`~envs.clock.rise_reference` and moving at the commanded speed) through the same
:func:`~agents.evaluation.metrics.command_following` as a real brain gives the switch latencies of a perfect brain:
an upper bound on ``switches_followed`` for a schedule, body and gait catalogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.evaluation.metrics import command_following
from envs.bodies import BodyReading, BodySpec
from envs.clock import rise_reference
from envs.tasks.clock import ClockTask


def ideal_footfalls(
    spec: BodySpec, dt: float, schedule: str, *, seed: int = 0, steps: int = 1000, **task_kwargs: Any
) -> dict[str, np.ndarray]:
    """One episode of footfalls exactly on the schedule of a clock task with ``schedule`` (random start phase from
    ``seed``): per step the commanded gait, each foot's contact and the centre of mass (standing height 1 m)."""
    task = ClockTask(schedule=schedule, **task_kwargs)
    task.setup(spec, dt)
    n = len(spec.feet)
    standing = 1.0

    def reading(t: int, position: np.ndarray, contacts: np.ndarray) -> BodyReading:
        forces = tuple(float(c) / max(1, int(contacts.sum())) for c in contacts)
        return BodyReading(t * dt, position, np.zeros(3), 1.0, 0.0, 1.0, contacts, standing, False, forces, (0.0,) * n)

    position = np.array([0.0, 0.0, standing])
    task.reset(reading(0, position, np.ones(n, dtype=bool)), np.random.default_rng(seed))
    commanded, contacts, com = [], [], []
    for t in range(steps):
        commanded.append(task.commanded_gait)
        gait, clock = task.clock.gait, task.clock
        down = np.array([phase < 1.0 - gait.swing_ratio for phase in clock.foot_phases()])
        x = position[0] + (0.0 if gait.in_place else task.speed * dt)
        position = np.array([x, 0.0, standing + rise_reference(gait, clock.phase, task.crouch)])
        task.reward_terms(reading(t + 1, position, down), np.zeros(1), {})
        contacts.append(down)
        com.append(position)
    return {"commanded": np.array(commanded), "contacts": np.array(contacts), "com_position": np.array(com)}


def ideal_switch_latencies(
    spec: BodySpec, dt: float, schedule: str, *, episodes: int = 100, within: float = 1.0, **task_kwargs: Any
) -> dict[str, Any]:
    """Switch latencies (s) of the ideal follower over ``episodes`` random start phases: all of them, those per
    kind of switch (``"walk->jump"``), and the fraction followed within ``within`` seconds overall and per kind."""
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for seed in range(episodes):
        run = ideal_footfalls(spec, dt, schedule, seed=seed, **task_kwargs)
        commanded = run["commanded"]
        result = command_following(commanded, run["contacts"], run["com_position"], 1.0, dt)
        switches = [t for t in range(1, len(commanded)) if commanded[t] != commanded[t - 1]]
        for t, latency in zip(switches, result["switch_latencies"], strict=True):
            latencies.append(latency)
            by_kind.setdefault(f"{commanded[t - 1]}->{commanded[t]}", []).append(latency)

    def followed(values: list[float]) -> float:
        return float(np.mean(np.nan_to_num(np.asarray(values), nan=np.inf) <= within))

    return {
        "latencies": latencies,
        "followed": followed(latencies),
        "by_kind": {kind: {"latencies": values, "followed": followed(values)} for kind, values in by_kind.items()},
    }
