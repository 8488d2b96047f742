"""Load a trained brain and roll it out: the one rollout used by evaluation, videos and analyses."""

from __future__ import annotations

import collections
import dataclasses
import math
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

import envs
from agents import gait
from agents.config import TrainConfig
from agents.training import EnvFactory, RunError, load_run_config

BRAINS_DIR = Path(__file__).with_name("brains")
_CHECKPOINT = re.compile(r"^(?P<prefix>.+)_(?P<steps>\d+)_steps\.zip$")


@dataclasses.dataclass
class Brain:
    """A trained model with what is needed to run it: the run's settings and its normalisation statistics."""

    model_path: Path
    config: TrainConfig
    vecnormalize_path: Path | None


def bundled_brains() -> dict[str, Path]:
    """Bundled brains by name (folders of ``agents/brains`` holding a run layout)."""
    if not BRAINS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(BRAINS_DIR.iterdir()) if (p / "config.yaml").is_file()}


def run_dir_of(path: Path) -> Path:
    """The run directory holding ``path`` (a model or checkpoint): the nearest folder with a ``config.yaml``."""
    for folder in (path.parent, *path.parents):
        if (folder / "config.yaml").is_file():
            return folder
    raise RunError(f"no config.yaml found above {str(path)!r}: cannot tell which env the brain ran in")


def find_brain(target: str) -> Brain:
    """Resolve a run directory, a model or checkpoint ``.zip``, or a bundled brain's name."""
    bundled = bundled_brains()
    path = bundled.get(target, Path(target))
    if path.is_dir():
        run_dir, model = path, path / "model.zip"
        if not model.is_file():
            raise RunError(f"{str(path)!r} has no model.zip (an unfinished run? evaluate a checkpoint .zip instead)")
        stats = path / "vecnormalize.pkl"
    elif path.is_file():
        if path.suffix != ".zip":
            raise RunError(f"{str(path)!r} is not a model: expected a .zip, a run directory or a bundled brain")
        run_dir, model = run_dir_of(path), path
        match = _CHECKPOINT.match(path.name)
        stats = (
            path.with_name(f"{match['prefix']}_vecnormalize_{match['steps']}_steps.pkl")
            if match
            else path.with_name("vecnormalize.pkl")
        )
    else:
        names = ", ".join(bundled) or "none yet"
        raise RunError(f"{target!r} is not a run directory, a model .zip or a bundled brain (bundled: {names})")
    config = load_run_config(run_dir)
    if config.normalize and not stats.is_file():
        raise RunError(
            f"{str(model)!r} was trained with normalised observations but {stats.name} is missing beside it; "
            "without those statistics the brain would see inputs on the wrong scale"
        )
    return Brain(model, config, stats if config.normalize else None)


def load_model(brain: Brain, device: str = "cpu") -> BaseAlgorithm:
    """The brain's SB3 model; a missing or corrupt file is a ``RunError``."""
    algo = RecurrentPPO if brain.config.algo == "rppo" else PPO
    try:
        return algo.load(brain.model_path, device=device)
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, RuntimeError) as exc:
        raise RunError(f"cannot load model {str(brain.model_path)!r}: {type(exc).__name__}: {exc}") from None


def make_env(
    brain: Brain,
    env_kwargs: dict[str, Any] | None = None,
    *,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
) -> VecEnv:
    """One env as the brain was trained in (overridable kwargs), normalised with frozen training statistics."""
    kwargs = {**brain.config.env_kwargs, **(env_kwargs or {})}
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    envs.resolve_env_id(brain.config.env_id)
    venv: VecEnv = DummyVecEnv([EnvFactory(brain.config.env_id, kwargs)])
    if brain.vecnormalize_path is not None:
        venv = VecNormalize.load(str(brain.vecnormalize_path), venv)
        venv.training = False
        venv.norm_reward = False
    return venv


def single_env(venv: VecEnv):
    """The one gym env inside a single-env ``DummyVecEnv``, normalised or not."""
    if venv.num_envs != 1:
        raise ValueError(f"expected a single-env VecEnv, got {venv.num_envs} envs")
    return venv.envs[0] if isinstance(venv, DummyVecEnv) else venv.venv.envs[0]


@dataclasses.dataclass
class Episode:
    """Everything recorded in one episode, one row per env step."""

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

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())

    def metrics(self) -> dict[str, Any]:
        """Return, length, fall, and (in our envs) the gait metrics of :func:`agents.gait.episode_metrics`."""
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
        if self.task == "gait":
            metrics.update(self.following_metrics())
        return metrics

    def commands_during(self) -> np.ndarray:
        """The command in force during each step (each step's ``info`` carries the command for the step after it)."""
        return np.vstack([self.commands[:1], self.commands[:-1]])

    def commanded_gaits(self) -> np.ndarray:
        """The gait commanded during each step of a gait-task episode."""
        from envs.tasks.gait import GAITS

        return np.array(GAITS)[self.commands_during()[:, : len(GAITS)].argmax(axis=1)]

    def following_metrics(self, within: float = 1.0) -> dict[str, Any]:
        """How a gait-task episode followed its commands: switches, the fraction followed within ``within`` s, the
        mean latency, and per commanded gait what its segments measured."""
        from envs.tasks.gait import GAITS

        commanded = self.commanded_gaits()
        speeds = self.commands_during()[:, len(GAITS)]
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


def rollout(
    model: BaseAlgorithm,
    venv: VecEnv,
    *,
    seed: int,
    deterministic: bool = True,
    render: bool = False,
    before_step: Callable[[int, Any], None] | None = None,
) -> Episode:
    """Run one episode of a single-env ``venv`` from ``seed``.

    The LSTM state starts at zero and is carried from step to step, with ``episode_start`` True only on the first
    step, exactly as during training. Works for feed-forward models too (their state stays ``None``), and for envs
    other than ours (then only rewards, actions and observations are recorded). ``before_step(t, env)``, if given,
    is called with the step index and the unwrapped env before each step (to push the body, for instance).
    """
    env = single_env(venv)
    base = env.unwrapped
    ours = isinstance(base, envs.LocomotionEnv)
    venv.seed(seed)
    obs = venv.reset()
    state = None
    episode_start = np.ones(1, dtype=bool)
    keys = ("obs", "action", "reward", "contacts", "com", "vel", "pitch", "command", "h", "c")
    rows: dict[str, list] = {k: [] for k in keys}
    terms: dict[str, list[float]] = {}
    frames = [env.render()] if render else []
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
        for key, value in info.items():
            if key.startswith("reward_"):
                terms.setdefault(key.removeprefix("reward_"), []).append(float(value))
        if render and not done:
            frames.append(env.render())
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
