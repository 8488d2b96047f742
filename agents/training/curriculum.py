"""Curricula that advance on what the brain does: a stage ends when a signal measured on its training episodes
crosses a threshold, not at a step count found on one seed (as legged_gym widens its commands once tracking reaches
80% of its best, and Walk These Ways opens command cells whose tracking passes).

A stage's ``until`` is a step count or a condition ``{signal: NAME, above: X}`` (or ``below``), judged over the last
``episodes`` training episodes that ran wholly within the stage (20 by default), checked after each rollout; once it
holds, the stage ends after that rollout's update, one step of each env into the next rollout (so an advance's step
is whole rollouts plus ``n_envs``). Signals (:data:`agents.config.SIGNALS`):

| signal            | per episode                                                                          |
|-------------------|--------------------------------------------------------------------------------------|
| `fell`            | 1 if the episode ended in a fall, else 0                                              |
| `length`          | steps                                                                                 |
| `flights_per_1000`| flights (every foot off the floor) per 1000 steps                                     |
| `apex_rise`       | the centre of mass's highest rise above standing in each flight (m), over the flights |
| `reward:TERM`     | the reward term's mean per step as a fraction of its weight (1: always at its best)   |
| `speed_error`     | the relative error of the mean forward speed per walking command, from 1 s into it   |

``flights_per_1000`` and ``apex_rise`` read the ``airborne`` and ``com_rise`` that neuromotor envs put in ``info``.
A step-count stage that a run has passed when it begins (placed after a condition stage that ended late) is skipped.
Every advance is recorded in the run's ``curriculum.json`` (see :func:`record_advance`) and on TensorBoard under
``curriculum/``; a resumed run continues the stage its checkpoint was in.
"""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.config import DEFAULT_EPISODES
from agents.runs import write_json

#: The run directory's record of its stage advances.
RECORD = "curriculum.json"
#: Seconds into a walking command before its speed counts towards ``speed_error`` (as ``walk_speed_error``
#: measures a segment from 1 s after its command).
SETTLE_SECONDS = 1.0


def describe(condition: dict[str, Any]) -> str:
    """``apex_rise above 0.25 over 20 episodes``."""
    side = "above" if "above" in condition else "below"
    episodes = condition.get("episodes", DEFAULT_EPISODES)
    return f"{condition['signal']} {side} {condition[side]} over {episodes} episodes"


def holds(condition: dict[str, Any], value: float) -> bool:
    """Whether a measured ``value`` meets the condition (strictly past its threshold)."""
    return value > condition["above"] if "above" in condition else value < condition["below"]


class EpisodeSignals:
    """Per-episode signals of vectorised training envs, from the ``infos`` and ``dones`` of each step.

    ``weights`` gives each reward term's weight (for ``reward:TERM``); the last ``window`` finished episodes are kept.
    """

    def __init__(self, n_envs: int, weights: dict[str, float], window: int, settle_steps: int = 0) -> None:
        self.weights = weights
        self.settle_steps = settle_steps
        self.episodes: collections.deque[dict[str, float]] = collections.deque(maxlen=window)
        self._open = [self._fresh() for _ in range(n_envs)]

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {"length": 0, "terms": collections.defaultdict(float), "flights": [], "air": False, "apex": 0.0,
                "command": None, "since": 0, "speeds": [], "errors": []}  # fmt: skip

    def _track(self, episode: dict[str, Any], info: dict[str, Any]) -> None:
        """A walking command's stretch: its forward speeds from ``settle_steps`` into it; at its end, its error."""
        if "commanded_speed" not in info:
            return
        command = (info.get("commanded_gait"), float(info["commanded_speed"]))
        if command != episode["command"]:
            self._close_stretch(episode)
            episode["command"], episode["since"], episode["speeds"] = command, 0, []
        if episode["since"] >= self.settle_steps:
            episode["speeds"].append(float(np.asarray(info.get("com_velocity", (np.nan,)))[0]))
        episode["since"] += 1

    @staticmethod
    def _close_stretch(episode: dict[str, Any]) -> None:
        command, speeds = episode["command"], episode["speeds"]
        if command is not None and command[0] in (None, "walk") and command[1] > 0 and len(speeds) >= 2:
            episode["errors"].append(abs(float(np.mean(speeds)) / command[1] - 1.0))

    def step(self, infos: list[dict[str, Any]], dones: np.ndarray) -> None:
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            episode = self._open[i]
            episode["length"] += 1
            terms = episode["terms"]
            for name in self.weights:
                terms[name] += info.get(f"reward_{name}", 0.0)
            airborne = bool(info.get("airborne", False))
            if airborne:
                rise = float(info.get("com_rise", 0.0))
                episode["apex"] = max(episode["apex"], rise) if episode["air"] else rise
            elif episode["air"]:
                episode["flights"].append(episode["apex"])
            episode["air"] = airborne
            self._track(episode, info)
            if done:
                self._finish(episode, fell=not info.get("TimeLimit.truncated", False))
                self._open[i] = self._fresh()

    def _finish(self, episode: dict[str, Any], fell: bool) -> None:
        length = episode["length"]
        record = {"fell": float(fell), "length": float(length),
                  "flights_per_1000": 1000.0 * len(episode["flights"]) / length,
                  "apex_sum": float(sum(episode["flights"])), "flights": float(len(episode["flights"]))}  # fmt: skip
        for name, weight in self.weights.items():
            record[f"reward:{name}"] = episode["terms"][name] / (length * weight)
        self._close_stretch(episode)
        record["speed_error"] = float(np.mean(episode["errors"])) if episode["errors"] else math.nan
        self.episodes.append(record)

    def value(self, signal: str, episodes: int) -> float | None:
        """The signal over the last ``episodes`` finished episodes, or ``None`` before that many finished (or, for
        ``apex_rise``, when they had no flight; for ``reward:TERM``, when the task has no such weighted term)."""
        if len(self.episodes) < episodes:
            return None
        last = list(self.episodes)[-episodes:]
        if signal == "apex_rise":
            flights = sum(e["flights"] for e in last)
            return sum(e["apex_sum"] for e in last) / flights if flights else None
        if signal not in last[0]:
            return None
        values = [e[signal] for e in last if not math.isnan(e[signal])]
        return float(np.mean(values)) if values else None  # (speed_error: episodes with a walking stretch)


def task_weights(task: Any) -> dict[str, float]:
    """A task's reward terms with a weight above 0 (``{}`` for a task that keeps no ``weights``)."""
    weights = dict(getattr(task, "weights", None) or {})
    return {str(k): float(v) for k, v in weights.items() if float(v) > 0}


def reward_weights(venv: Any) -> dict[str, float]:
    """:func:`task_weights` of the first env of a vectorised env (``{}`` for an env without a task)."""
    if not venv.has_attr("task"):
        return {}
    return task_weights(venv.get_attr("task", [0])[0])


def check_signal(condition: dict[str, Any], weights: dict[str, float]) -> None:
    """Refuse a ``reward:TERM`` signal that is not a weighted term of the stage's task."""
    signal = condition["signal"]
    if signal.startswith("reward:") and signal[7:] not in weights:
        valid = ", ".join(f"reward:{k}" for k in weights) or "none (its task reports no weighted terms)"
        raise ValueError(
            f"curriculum signal {signal!r} is not a weighted reward term of the stage's task; valid: {valid}"
        )


class Advance(BaseCallback):
    """Log a curriculum stage's number and signal after every rollout; with a ``condition``, end ``learn`` once it
    holds after a rollout (that rollout's update done first: the next step of collection returns ``False``).
    ``advanced`` holds the measured value once it did."""

    def __init__(self, condition: dict[str, Any] | None, stage: int) -> None:
        super().__init__()
        self.condition = condition
        self.stage = stage
        self.episodes = int((condition or {}).get("episodes", DEFAULT_EPISODES))
        self.signals: EpisodeSignals | None = None
        self.advanced: float | None = None
        self._stop = False

    def _on_training_start(self) -> None:
        if self.condition is None:
            return
        weights = {}
        signal = self.condition["signal"]
        if signal.startswith("reward:"):
            weights = reward_weights(self.training_env)
            check_signal(self.condition, weights)
            weights = {signal[7:]: weights[signal[7:]]}  # the one term summed on every step
        dt = self.training_env.get_attr("dt", [0])[0] if self.training_env.has_attr("dt") else 0.0
        settle = round(SETTLE_SECONDS / dt) if dt else 0
        self.signals = EpisodeSignals(self.training_env.num_envs, weights, self.episodes, settle)

    def _on_step(self) -> bool:
        if self._stop:
            return False
        if self.signals is not None:
            self.signals.step(self.locals["infos"], self.locals["dones"])
        return True

    def _on_rollout_end(self) -> None:
        self.logger.record("curriculum/stage", self.stage)
        if self.signals is None or self.condition is None:
            return
        value = self.signals.value(self.condition["signal"], self.episodes)
        if value is not None:
            self.logger.record(f"curriculum/{self.condition['signal'].replace(':', '_')}", value)
            if holds(self.condition, value):
                self.advanced, self._stop = value, True


def read_advances(run_dir: Path) -> list[dict[str, Any]]:
    """The run's recorded stage advances (``[]`` when it has none or its record is unreadable)."""
    path = Path(run_dir) / RECORD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def stage_began(run_dir: Path, stage: int) -> int:
    """The step at which ``stage`` began: where the stage before it advanced (0 for the first stage)."""
    return max((a["step"] for a in read_advances(run_dir) if a["stage"] == stage - 1), default=0)


def record_advance(run_dir: Path, stage: int, step: int, reason: str, value: float | None) -> list[dict[str, Any]]:
    """Record that stage ``stage`` ended at ``step`` (replacing any record of it or a later stage, from a run
    resumed from before them); returns the record."""
    advances = [a for a in read_advances(run_dir) if a.get("stage", 0) < stage]
    entry: dict[str, Any] = {"stage": stage, "step": int(step), "until": reason}
    if value is not None:
        entry["value"] = round(float(value), 4)
    advances.append(entry)
    write_json(Path(run_dir) / RECORD, advances)
    return advances


def forget_advances_after(run_dir: Path, step: int) -> None:
    """Drop the record of advances past ``step`` (a run resumed from an earlier checkpoint makes them again)."""
    advances = read_advances(run_dir)
    kept = [a for a in advances if int(a.get("step", 0)) <= step]
    if kept != advances:
        write_json(Path(run_dir) / RECORD, kept)


def stage_at(run_dir: Path, step: int) -> int:
    """The stage a checkpoint at ``step`` is in: the number of recorded advances at or before it."""
    return sum(1 for a in read_advances(run_dir) if int(a.get("step", 0)) <= step)
