"""Lesions and perturbations: silence units, push the body, degrade the senses, and measure the gait after."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from torch import nn

from agents.analysis.recording import LABEL_WINDOW
from agents.brains.store import Brain
from agents.evaluation import metrics as gait
from agents.evaluation.rollout import Episode, make_env, run_episodes, summarize


def _motor_layer(policy: nn.Module) -> nn.Linear:
    """The first layer that reads the actor LSTM's output: the policy MLP's first layer, or the action head."""
    net = getattr(policy.mlp_extractor, "policy_net", None)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)] if net is not None else []
    return linears[0] if linears else policy.action_net


@contextlib.contextmanager
def lesion(model: BaseAlgorithm, units: Sequence[int]) -> Iterator[None]:
    """Silence actor LSTM units (of the top layer) while the block runs: every weight that carries their output,
    to the other units and to the motor layer, is zero, so their activity reaches nothing. Weights are restored
    on exit."""
    policy = model.policy
    lstm = getattr(policy, "lstm_actor", None)
    if lstm is None:
        raise ValueError("only a recurrent brain (an actor LSTM) can be lesioned")
    units = sorted({int(u) for u in units})
    if units and not 0 <= units[0] <= units[-1] < lstm.hidden_size:
        raise ValueError(f"units must be in [0, {lstm.hidden_size}), got {units[0]}..{units[-1]}")
    weights = [getattr(lstm, f"weight_hh_l{lstm.num_layers - 1}"), _motor_layer(policy).weight]
    saved = [w.detach().clone() for w in weights]
    try:
        with th.no_grad():
            for w in weights:
                w[:, units] = 0.0
        yield
    finally:
        with th.no_grad():
            for w, original in zip(weights, saved, strict=True):
                w.copy_(original)


@dataclasses.dataclass
class Push:
    """A horizontal push on the torso: ``impulse`` (N s; positive is forward) spread over ``duration`` seconds from
    env step ``step``. Pass it to :func:`agents.evaluation.rollout.rollout` as ``before_step``."""

    step: int
    impulse: float
    duration: float = 0.1

    def steps(self, dt: float) -> range:
        """The env steps during which the push acts."""
        return range(self.step, self.step + max(1, round(self.duration / dt)))

    def __call__(self, t: int, env: Any) -> None:
        window = self.steps(env.dt)
        force = self.impulse / (len(window) * env.dt) if t in window else 0.0
        env.base.data.xfrc_applied[env.body.torso_id, 0] = force


def recovery_time(labels: np.ndarray, baseline: str, start: int, dt: float) -> float:
    """Seconds from step ``start`` until the per-step gait label is ``baseline`` again (NaN if it never is)."""
    after = np.flatnonzero(np.asarray(labels[start:]) == baseline)
    return float(after[0] * dt) if after.size else float("nan")


def most_tuned(tuning_strength: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the ``fraction`` of units with the strongest tuning."""
    count = round(fraction * len(tuning_strength))
    return np.argsort(-np.asarray(tuning_strength), kind="stable")[:count]


def random_units(n_units: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random ``fraction`` of ``n_units`` unit indices."""
    return np.sort(rng.choice(n_units, size=round(fraction * n_units), replace=False))


def _summary(episodes: list[Episode]) -> dict[str, Any]:
    summary = summarize(episodes)["summary"]

    def mean(key: str) -> float:
        value = summary.get(key, math.nan)
        return value["mean"] if isinstance(value, dict) else float(value)

    return {
        "falls": int(summary["fell"]),
        "forward_speed": mean("forward_speed"),
        "alternation": mean("alternation"),
        "flight_phases_per_1000": mean("flight_phases_per_1000"),
        "return": mean("return"),
        "gait": summary.get("gait", ""),
    }


def lesion_sweep(
    model: BaseAlgorithm, brain: Brain, strength: np.ndarray, fractions, episodes: int, steps: int, seed: int
) -> list:
    """Gait metrics with ``fractions`` of the units silenced, chosen at random and most-tuned first."""
    venv = make_env(brain, model=model, max_episode_steps=steps)
    rng = np.random.default_rng(seed)
    rows = []
    measured: dict[tuple[int, ...], dict[str, Any]] = {}  # the same units silenced (none, at 0%) run once
    for selection in ("random", "most tuned"):
        for fraction in fractions:
            units = (
                random_units(len(strength), fraction, rng) if selection == "random" else most_tuned(strength, fraction)
            )
            key = tuple(int(u) for u in units)
            if key not in measured:
                with lesion(model, units):
                    measured[key] = _summary(run_episodes(model, venv, seed=seed, count=episodes))
            rows.append({"selection": selection, "fraction": fraction, "units": len(units), **measured[key]})
    venv.close()
    return rows


def push_sweep(
    model: BaseAlgorithm, brain: Brain, impulses, at_step: int, episodes: int, steps: int, seed: int
) -> list:
    """Recovery from a push at ``at_step``: falls, and the time from the push's end to the end of the first
    ``LABEL_WINDOW``-second window after it whose gait label is the unpushed one (at least one window)."""
    venv = make_env(brain, model=model, max_episode_steps=steps)
    baseline = run_episodes(model, venv, seed=seed, count=episodes)
    unpushed = [ep.metrics()["gait"] for ep in baseline]
    rows = []
    for impulse in impulses:
        push = Push(at_step, impulse)
        times, recovered = [], 0
        # A zero push changes nothing (tested), so it is the baseline itself.
        eps = baseline if impulse == 0 else run_episodes(model, venv, seed=seed, count=episodes, before_step=push)
        for ep, label in zip(eps, unpushed, strict=True):
            labels = gait.windowed_labels(ep.foot_contacts, ep.com_position, ep.dt)
            # Judged only on windows that start after the push: recovery takes at least one window.
            end = push.steps(ep.dt)[-1] + 1
            window = round(LABEL_WINDOW / ep.dt)
            time = LABEL_WINDOW + recovery_time(labels, label, end + window - 1, ep.dt)
            time = math.nan if ep.fell else time
            recovered += not math.isnan(time)
            times.append(time)
        finite = [t for t in times if not math.isnan(t)]
        rows.append({
            "kind": "push", "impulse": impulse, "recovery_rate": recovered / len(baseline),
            "recovery_time": float(np.mean(finite)) if finite else math.nan, **_summary(eps),
        })  # fmt: skip
    venv.close()
    return rows


def sense_sweep(model: BaseAlgorithm, brain: Brain, key: str, levels, episodes: int, steps: int, seed: int) -> list:
    """Gait metrics with more sensor noise (``obs_noise``) or a longer sensory delay (``obs_delay``)."""
    rows = []
    base = brain.config.env_kwargs.get(key, 0)
    for level in levels:
        venv = make_env(brain, {key: base + level}, model=model, max_episode_steps=steps)
        eps = run_episodes(model, venv, seed=seed, count=episodes)
        venv.close()
        summary = _summary(eps)
        rows.append({"kind": key, "added": level, "survival_rate": 1 - summary["falls"] / episodes, **summary})
    return rows
