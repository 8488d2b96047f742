"""Roll a brain out: the one rollout, and the one :func:`evaluate_brain`, that evaluation, videos, recipes,
sweeps, analyses and benchmarks use."""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from tqdm.auto import tqdm

import envs
from agents.brains.store import Brain, check_fits, find_brain, load_model
from agents.constants import TEST_EPISODES, TEST_SEED
from agents.evaluation import metrics as gait
from agents.evaluation import video
from agents.runs import read_vecnormalize
from agents.vecenvs import EnvFactory, single_env
from envs.tasks.gait import GAITS

#: Receives each rendered frame and the foot contacts ``(t, feet)`` of the steps before it.
FrameSink = Callable[[np.ndarray, np.ndarray], None]


@dataclasses.dataclass
class Episode:
    """Everything recorded in one episode, one row per env step (``frames``: one per filmed step)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    reward_terms: dict[str, np.ndarray]
    foot_contacts: np.ndarray
    com_position: np.ndarray
    com_velocity: np.ndarray
    torso_pitch: np.ndarray
    commands: np.ndarray
    lstm_hidden: np.ndarray | None
    lstm_cell: np.ndarray | None
    frames: list[np.ndarray]
    fell: bool
    dt: float
    standing_com_height: float
    foot_labels: tuple[str, ...]
    task: str = ""
    terminated: bool = False
    #: The gait and speed commanded after each step, for tasks that report them in ``info`` (the clock task).
    commanded_gaits_after: np.ndarray | None = None
    commanded_speeds_after: np.ndarray | None = None
    #: ``frames[i]`` shows the state after ``i * frame_every`` steps.
    frame_every: int = 1
    #: The observation after the last step (as the brain would have seen it; ``None`` for an env that gives none).
    final_observation: np.ndarray | None = None

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())

    def metrics(self) -> dict[str, Any]:
        """Return, length, fall, and (in our envs) the gait metrics of
        :func:`agents.evaluation.metrics.episode_metrics`."""
        if not self.foot_labels:
            return {"return": self.episode_return, "fell": self.fell, "length": self.length}
        measured = gait.episode_metrics(
            self.foot_contacts,
            self.com_position,
            self.torso_pitch,
            self.standing_com_height,
            self.dt,
            foot_labels=self.foot_labels,
            from_first_contact=True,
        )
        metrics = {"return": self.episode_return, "fell": self.fell, **measured}
        if self.task == "gait" or self.commanded_gaits_after is not None:
            metrics.update(self.following_metrics())
        return metrics

    def commands_during(self) -> np.ndarray:
        """The command in force during each step (each step's ``info`` carries the command for the step after it)."""
        return np.vstack([self.commands[:1], self.commands[:-1]])

    def commanded_gaits(self) -> np.ndarray:
        """The gait commanded during each step of a gait-task or clock-task episode."""
        if self.commanded_gaits_after is not None:
            return _during(self.commanded_gaits_after)
        return np.array(GAITS)[self.commands_during()[:, : len(GAITS)].argmax(axis=1)]

    def commanded_speeds(self) -> np.ndarray:
        """The speed (m/s) commanded during each step of a gait-task or clock-task episode."""
        if self.commanded_speeds_after is not None:
            return _during(self.commanded_speeds_after)
        return self.commands_during()[:, len(GAITS)]

    def following_metrics(self, within: float = 1.0) -> dict[str, Any]:
        """How a gait-task episode followed its commands: switches, the fraction followed within ``within`` s, the
        mean latency, and per commanded gait what its segments measured."""
        commanded = self.commanded_gaits()
        speeds = self.commanded_speeds()
        result = gait.command_following(
            commanded, self.foot_contacts, self.com_position, self.standing_com_height, self.dt, speeds=speeds
        )
        latencies = np.array(result["switch_latencies"])
        walks = [seg for seg in result["segments"] if seg["commanded"] == "walk"]
        jumps = [seg for seg in result["segments"] if seg["commanded"] == "jump"]
        speed_errors = [abs(seg["forward_speed"] / speeds[seg["start"]] - 1.0) for seg in walks]

        def mean(values: list[float]) -> float:
            finite = [v for v in values if not math.isnan(v)]
            return float(np.mean(finite)) if finite else math.nan

        return {
            "switches": len(latencies),
            "switches_followed": float(np.mean(np.nan_to_num(latencies, nan=np.inf) <= within))
            if len(latencies)
            else math.nan,
            "switch_latencies": latencies.tolist(),
            "walk_speed_error": mean(speed_errors),
            "walk_flights_per_1000": mean([seg["flight_phases_per_1000"] for seg in walks]),
            "jump_apex_rise": mean([seg["mean_apex_rise"] for seg in jumps]),
            "segment_gaits": [f"{seg['commanded']}->{seg['gait']}" for seg in result["segments"]],
            # An episode cut short (a fall, or the jump's stray limit) names the gait it was commanded at the end.
            "ended_early_in": [str(commanded[-1])] if self.terminated else [],
        }


def _during(after: np.ndarray) -> np.ndarray:
    """Per step, what was in force during it, from what each step's ``info`` says holds after it."""
    return np.concatenate([after[:1], after[:-1]])


def rollout(
    model: BaseAlgorithm,
    venv: VecEnv,
    *,
    seed: int,
    deterministic: bool = True,
    render: bool = False,
    before_step: Callable[[int, Any], None] | None = None,
    frame_sink: FrameSink | None = None,
    frame_every: int = 1,
) -> Episode:
    """Run one episode of a single-env ``venv`` from ``seed``.

    The LSTM state starts at zero and is carried from step to step, with ``episode_start`` True only on the first
    step, exactly as during training. Works for feed-forward models too (their state stays ``None``), and for envs
    other than ours (then only rewards, actions and observations are recorded). ``before_step(t, env)``, if given,
    is called with the step index and the unwrapped env before each step (to push the body, for instance).
    ``render`` keeps the frames in ``Episode.frames``; a ``frame_sink`` instead receives each frame as it is
    rendered, with the foot contacts of the steps before it, so that a video holds a bounded number of frames.
    Either films the state after every ``frame_every``-th step only (the reset state first): rendering costs more
    than the step itself.
    """
    if frame_every < 1:
        raise ValueError(f"frame_every must be >= 1, got {frame_every!r}")
    env = single_env(venv)
    check_fits(model, venv, "the brain", f"env {env.spec.id if env.spec else type(env.unwrapped).__name__}")
    base = env.unwrapped
    ours = isinstance(base, envs.LocomotionEnv)
    venv.seed(seed)
    obs = venv.reset()
    state = None
    episode_start = np.ones(1, dtype=bool)
    keys = ("obs", "action", "reward", "contacts", "com", "vel", "pitch", "command", "h", "c", "gait", "speed")
    rows: dict[str, list] = {k: [] for k in keys}
    terms: dict[str, list[float]] = {}
    frames: list[np.ndarray] = []
    n_feet = len(base.foot_labels) if ours else 0

    def film() -> None:
        if len(rows["reward"]) % frame_every:
            return
        if frame_sink is not None:
            frame_sink(env.render(), np.asarray(rows["contacts"], dtype=bool).reshape(len(rows["contacts"]), n_feet))
        elif render:
            frames.append(env.render())

    film()
    done = False
    while not done:
        action, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        rows["obs"].append(obs[0].copy())
        if state is not None:
            rows["h"].append(np.asarray(state[0])[:, 0].copy())
            rows["c"].append(np.asarray(state[1])[:, 0].copy())
        if before_step is not None:
            before_step(len(rows["reward"]), base)
        obs, reward, dones, infos = venv.step(action)
        info = infos[0]
        done = bool(dones[0])
        episode_start = dones
        rows["action"].append(np.asarray(action[0], dtype=np.float64))
        rows["reward"].append(float(reward[0]))
        if ours:
            rows["contacts"].append(np.asarray(info["foot_contacts"], dtype=bool))
            rows["com"].append([info["com_x"], info["com_y"], info["com_height"]])
            rows["vel"].append(np.asarray(info["com_velocity"], dtype=np.float64))
            rows["pitch"].append(info["torso_pitch"])
            rows["command"].append(np.asarray(info["command"], dtype=np.float64))
            if "commanded_gait" in info:
                rows["gait"].append(str(info["commanded_gait"]))
                rows["speed"].append(float(info["commanded_speed"]))
        for key, value in info.items():
            if key.startswith("reward_"):
                terms.setdefault(key.removeprefix("reward_"), []).append(float(value))
        if not done:
            film()
    final = info.get("terminal_observation")
    steps = len(rows["reward"])
    truncated = bool(info.get("TimeLimit.truncated", False))
    fell = bool(info.get("fallen", 1.0)) and not truncated
    return Episode(
        observations=np.array(rows["obs"]),
        actions=np.array(rows["action"]),
        rewards=np.array(rows["reward"]),
        reward_terms={k: np.array(v) for k, v in terms.items()},
        foot_contacts=np.array(rows["contacts"], dtype=bool) if ours else np.zeros((steps, 0), dtype=bool),
        com_position=np.array(rows["com"]) if ours else np.full((steps, 3), np.nan),
        com_velocity=np.array(rows["vel"]) if ours else np.full((steps, 3), np.nan),
        torso_pitch=np.array(rows["pitch"]) if ours else np.full(steps, np.nan),
        commands=np.array(rows["command"]) if ours else np.zeros((steps, 0)),
        lstm_hidden=np.array(rows["h"]) if rows["h"] else None,
        lstm_cell=np.array(rows["c"]) if rows["c"] else None,
        frames=frames,
        fell=fell,
        dt=float(base.dt),
        standing_com_height=float(base.body.standing_com_height) if ours else float("nan"),
        foot_labels=tuple(base.foot_labels) if ours else (),
        task=base.task.name if ours else "",
        terminated=not truncated,
        commanded_gaits_after=np.array(rows["gait"]) if rows["gait"] else None,
        commanded_speeds_after=np.array(rows["speed"]) if rows["speed"] else None,
        frame_every=frame_every,
        final_observation=None if final is None else np.asarray(final).copy(),
    )


def summarize(episodes: list[Episode]) -> dict[str, Any]:
    """Per-episode metrics and their aggregate: ``{"summary": {...}, "episodes": [...]}``."""
    per_episode = [ep.metrics() for ep in episodes]
    summary = gait.aggregate(per_episode)
    if "switch_latencies" in per_episode[0]:
        pooled = [x for ep in per_episode for x in ep["switch_latencies"]]
        summary["switch_latency_distribution"] = gait.latency_distribution(pooled)
        summary["ended_early_in"] = dict(collections.Counter(g for ep in per_episode for g in ep["ended_early_in"]))
    return {"summary": summary, "episodes": per_episode}


def make_env(
    brain: Brain,
    env_kwargs: dict[str, Any] | None = None,
    *,
    model: BaseAlgorithm | None = None,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
) -> VecEnv:
    """One env as the brain was trained in (overridable kwargs), normalised with frozen training statistics.

    An env whose observations or actions are shaped otherwise than the brain's (its normalisation statistics', and
    ``model``'s if given) is refused with a ``RunError`` naming both shapes."""
    kwargs = {**brain.config.env_kwargs, **(env_kwargs or {})}
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    envs.resolve_env_id(brain.config.env_id)
    try:
        venv: VecEnv = DummyVecEnv([EnvFactory(brain.config.env_id, kwargs)])
    except (TypeError, gym.error.Error) as exc:
        raise ValueError(f"env {brain.config.env_id!r} with env kwargs {kwargs}: {exc}") from None
    shown = {k: v for k, v in (env_kwargs or {}).items() if k not in ("width", "height")}
    where = f"env {brain.config.env_id}" + (f" with env kwargs {shown}" if shown else "")
    try:
        if model is not None:
            check_fits(model, venv, f"brain {str(brain.model_path)!r}", where)
        if brain.vecnormalize_path is not None:
            # load_vecnormalize's two steps, with the shapes checked between them (SB3 would only assert).
            stats = read_vecnormalize(brain.vecnormalize_path)
            check_fits(stats, venv, f"brain {str(brain.model_path)!r}", where)
            stats.set_venv(venv)
            stats.training = False
            stats.norm_reward = False
            venv = stats
    except BaseException:
        venv.close()
        raise
    return venv


def env_dt(env_id: str, env_kwargs: dict[str, Any] | None = None) -> float:
    """Seconds of simulated time per step of an env."""
    env = EnvFactory(env_id, dict(env_kwargs or {}))()
    try:
        return float(env.unwrapped.dt)
    finally:
        env.close()


def run_episodes(
    model: Any,
    venv: VecEnv,
    *,
    seed: int = TEST_SEED,
    count: int = TEST_EPISODES,
    deterministic: bool = True,
    render_first: bool = False,
    before_step: Callable[[int, Any], None] | None = None,
    frame_sink: FrameSink | None = None,
    frame_every: int = 1,
    progress: bool = False,
) -> list[Episode]:
    """``count`` episodes of ``model`` in ``venv``, episode ``i`` from seed ``seed + i``; the first is filmed with
    ``render_first`` (frames kept) or into ``frame_sink`` (frames streamed), every ``frame_every``-th step.
    ``progress`` shows a bar."""
    return [
        rollout(model, venv, seed=seed + i, deterministic=deterministic, render=render_first and i == 0,
                before_step=before_step, frame_sink=frame_sink if i == 0 else None, frame_every=frame_every)
        for i in tqdm(range(count), desc="episodes", unit="episode", disable=not progress, leave=False)
    ]  # fmt: skip


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate_brain` ran: the brain, its model and the recorded episodes."""

    brain: Brain
    model: BaseAlgorithm
    episodes: list[Episode]

    def summary(self) -> dict[str, Any]:
        return summarize(self.episodes)


def evaluate_brain(
    target: str | Path | Brain,
    *,
    episodes: int = TEST_EPISODES,
    seed: int = TEST_SEED,
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = True,
    render: bool = False,
    max_episode_steps: int | None = None,
    before_step: Callable[[int, Any], None] | None = None,
    model: BaseAlgorithm | None = None,
    frame_sink: FrameSink | None = None,
    frame_every: int = 1,
    progress: bool = False,
) -> Evaluation:
    """Find ``target`` (a bundled name, run directory, model ``.zip`` or a found :class:`Brain`), load it, and run
    ``episodes`` episodes from ``seed`` on (the test seeds by default) in its training env with ``env_kwargs``
    overridden. With ``render`` the first episode is filmed (640x480 frames, tracking camera) and its frames kept;
    with a ``frame_sink`` they are streamed to it instead; either way every ``frame_every``-th step is filmed.
    ``progress`` shows a bar over the episodes."""
    brain = target if isinstance(target, Brain) else find_brain(target)
    model = model or load_model(brain)
    kwargs = dict(env_kwargs or {})
    filming = render or frame_sink is not None
    if filming:
        kwargs.update(width=video.FRAME_WIDTH, height=video.FRAME_HEIGHT)
    venv = make_env(brain, kwargs, model=model, render_mode="rgb_array" if filming else None,
                    max_episode_steps=max_episode_steps)  # fmt: skip
    try:
        if filming:
            video.use_tracking_camera(single_env(venv))
        recorded = run_episodes(model, venv, seed=seed, count=episodes, deterministic=deterministic,
                                render_first=render, before_step=before_step, frame_sink=frame_sink,
                                frame_every=frame_every, progress=progress)  # fmt: skip
    finally:
        venv.close()
    return Evaluation(brain, model, recorded)
