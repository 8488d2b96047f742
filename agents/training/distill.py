"""Distillation: teach one student brain what several teacher brains do, each teacher for its own gait.

The gait in force (named by a gait env's command, or shown by a clock env's gait parameters, see :class:`GaitReader`)
chooses the teacher that says what to do. The student (an LSTM brain of the usual shape) learns the teachers'
deterministic actions by DAgger (Ross et al., 2011): the first rollouts follow the teachers, later ones more and more
the student itself, always labelled by the teachers, so the student also learns to recover from states its own
mistakes lead to. Every teacher runs on every step, seeing the observation as its own task would show it (its own
gait commanded, the walking speed held while another gait is active), so the teacher taking over at a switch has
followed the whole episode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.brains.models import build_model
from agents.brains.store import find_brain, load_model
from agents.brains.warmstart import input_layout, warm_start
from agents.config import ConfigError, TrainConfig
from agents.constants import TEST_EPISODES, TEST_SEED
from agents.evaluation.rollout import run_episodes, summarize
from agents.runs import (
    RunError,
    holds_run,
    own_run,
    read_vecnormalize,
    save_model,
    save_run_config,
    save_vecnormalize,
    sigterm_as_interrupt,
)
from agents.vecenvs import EnvFactory, build_vec_env
from envs.tasks.gait import GAITS

#: Command inputs a teacher sees held at their last value while another gait is active (the command zeroes them).
HELD_LABELS = ("speed",)


def _actor_state(model: Any, n_envs: int) -> tuple[th.Tensor, th.Tensor]:
    lstm = model.policy.lstm_actor
    shape = (lstm.num_layers, n_envs, lstm.hidden_size)
    return th.zeros(shape), th.zeros(shape)


def _mean_action(model: Any, obs: np.ndarray, state: tuple, starts: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The policy's action mean (before clipping) and its next actor LSTM state, for a batch of single steps."""
    with th.no_grad():
        dist, state = model.policy.get_distribution(
            th.as_tensor(obs, dtype=th.float32), state, th.as_tensor(starts, dtype=th.float32)
        )
    return dist.distribution.mean.numpy(), state


def action_loss(mean: th.Tensor, target: th.Tensor) -> th.Tensor:
    """Mean squared error of action means against clipped target actions, blind to how far past the bound a mean
    lies where the target is at that bound (the action is the mean clipped to [-1, 1], so both act alike)."""
    saturated = (target.abs() >= 1.0) & (mean * target.sign() >= 1.0)
    return th.where(saturated, th.zeros_like(mean), mean - target).pow(2).mean()


class Teacher:
    """A trained brain acting for one gait, fed the student env's observations as its own task shows them.

    Args:
        gait: The gait it teaches (a gait of the env's command).
        source: The brain (bundled name, run directory or model ``.zip``).
        labels: Command labels of the student env (its observation ends with them).
        senses: Sensory inputs of the student env (before the command).
        n_envs: Parallel envs it acts in.
    """

    def __init__(self, gait: str, source: str, labels: tuple[str, ...], senses: int, n_envs: int) -> None:
        try:
            self.brain = find_brain(source)
        except ValueError as exc:
            raise ConfigError(f"teacher {gait}={source}: {exc}") from None
        if self.brain.config.algo != "rppo":
            raise ConfigError(f"teacher {gait}={source} is a {self.brain.config.algo} brain; teachers are rppo")
        own_senses, own_labels = input_layout(
            self.brain.config.env_id, self.brain.config.env_kwargs, f"teacher {gait}={source}"
        )
        if own_senses != senses:
            raise ConfigError(
                f"teacher {gait}={source} senses {own_senses} inputs and the student's env {senses}: "
                "teachers need the same body and senses"
            )
        self.gait = gait
        self.model = load_model(self.brain)
        self.stats = None
        if self.brain.vecnormalize_path is not None:
            self.stats = read_vecnormalize(self.brain.vecnormalize_path)
        # Where each of its inputs comes from in the student's observation (-1: an input the student lacks).
        self.source = np.array(
            [*range(senses), *(senses + labels.index(x) if x in labels else -1 for x in own_labels)], dtype=np.int64
        )
        default = self.stats.obs_rms.mean if self.stats is not None else np.zeros(len(self.source))
        gaits = _gait_labels(labels)
        # Its gait inputs always say its own gait; inputs the student's env lacks stay at their mean.
        self.fixed: dict[int, float] = {}
        for i, label in enumerate(own_labels, start=senses):
            if label in gaits:
                self.fixed[i] = float(label == gait)
            elif label not in labels:
                self.fixed[i] = float(default[i])
        self.held = {senses + i: default[senses + i] for i, x in enumerate(own_labels) if x in HELD_LABELS}
        self.held_values = {i: np.full(n_envs, v, dtype=np.float64) for i, v in self.held.items()}
        self.state = _actor_state(self.model, n_envs)

    def view(self, obs: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Its (normalised) observations of the student env's raw observations; ``active``: its gait commanded."""
        own = obs[:, np.maximum(self.source, 0)].astype(np.float64)
        for i, value in self.fixed.items():
            own[:, i] = value
        for i, values in self.held_values.items():
            values[active] = own[active, i]
            own[:, i] = values
        if self.stats is not None:
            own = self.stats.normalize_obs(own)
        return own

    def act(self, obs: np.ndarray, active: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Its action means for one step of every env (its LSTM carried on)."""
        for i, values in self.held_values.items():
            values[starts] = self.held[i]
        means, self.state = _mean_action(self.model, self.view(obs, active), self.state, starts)
        return means


def _gait_labels(labels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x for x in labels if x in GAITS)


#: Command inputs of a clock env that say which gait is in force (then one offset per foot).
CLOCK_GAIT_LABELS = ("swing_ratio", "frequency")


class GaitReader:
    """Which gait each observation's command has in force, read from its raw inputs.

    A gait env's command names the gait (one input per gait, 1 for the commanded one); a clock env's shows the
    parameters of the gait in force (swing ratio, frequency and per-foot offsets), matched here to the body's gaits.

    Args:
        env_id: The env.
        env_kwargs: Its keyword arguments.
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]) -> None:
        env = EnvFactory(env_id, env_kwargs)()
        try:
            self.labels: tuple[str, ...] = tuple(getattr(env.unwrapped, "command_labels", ()))
            self.senses = env.observation_space.shape[0] - len(self.labels)
            catalogue = getattr(getattr(env.unwrapped, "task", None), "catalogue", None) or {}
        finally:
            env.close()
        labels, senses = self.labels, self.senses
        self.table: np.ndarray | None = None
        one_hot = _gait_labels(labels)
        if one_hot:
            self.names = one_hot
            self.columns = np.array([senses + labels.index(g) for g in one_hot])
        elif catalogue and all(x in labels for x in CLOCK_GAIT_LABELS):
            self.names = tuple(catalogue)
            shown = [x for x in labels if x in CLOCK_GAIT_LABELS or x.startswith("offset_")]
            self.columns = np.array([senses + labels.index(x) for x in shown])
            self.table = np.array([[g.swing_ratio, 1.0 / g.period, *g.offsets] for g in catalogue.values()])
        else:
            raise ConfigError(f"{env_id} has no gait command (its commands: {labels}): no teacher could be chosen")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Index into ``names`` of the gait in force in each of a batch of raw observations."""
        values = obs[:, self.columns]
        if self.table is None:
            return values.argmax(axis=1)
        return np.abs(values[:, None, :] - self.table[None]).sum(axis=2).argmin(axis=1)


class Teachers:
    """One teacher per gait, switched by the gait in force (:class:`GaitReader`): each env's action is its active
    teacher's.

    Also a stand-in for a model (``predict``), so the teachers can be rolled out and measured as one brain.
    With ``fresh``, a teacher's LSTM starts from zero each time its gait is commanded, instead of having followed the
    whole episode.
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any],
        teachers: Mapping[str, str],
        n_envs: int,
        fresh: bool = False,
    ) -> None:
        self.reader = GaitReader(env_id, env_kwargs)
        senses, labels, gaits = self.reader.senses, self.reader.labels, self.reader.names
        if not teachers or set(teachers) - set(gaits):
            raise ConfigError(f"teachers must be given for gaits of {', '.join(gaits)}; got {', '.join(teachers)}")
        self.teachers = [Teacher(g, s, labels, senses, n_envs) for g, s in teachers.items()]
        self.number = {g: gaits.index(g) for g in teachers}
        self.n_envs = n_envs
        self.fresh = fresh
        self.was_active = {t.gait: np.zeros(n_envs, dtype=bool) for t in self.teachers}

    def act(self, obs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Each env's active teacher's action, clipped to [-1, 1] (every teacher steps, active or not)."""
        actions = np.zeros((len(obs), *self.teachers[0].model.action_space.shape))
        starts = np.asarray(starts, dtype=bool)
        in_force = self.reader(obs)
        for teacher in self.teachers:
            active = in_force == self.number[teacher.gait]
            own_starts = starts | (active & ~self.was_active[teacher.gait]) if self.fresh else starts
            self.was_active[teacher.gait] = active
            actions[active] = teacher.act(obs, active, own_starts)[active]
        return np.clip(actions, -1.0, 1.0)

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        """As ``model.predict`` for raw (unnormalised) observations; the teachers keep their own states."""
        starts = np.ones(len(obs), dtype=bool) if episode_start is None else np.asarray(episode_start, dtype=bool)
        return self.act(obs, starts), None


@dataclasses.dataclass
class Dataset:
    """Chunks of consecutive steps: raw observations, episode starts, teacher actions, student LSTM states."""

    obs: list[np.ndarray] = dataclasses.field(default_factory=list)
    starts: list[np.ndarray] = dataclasses.field(default_factory=list)
    targets: list[np.ndarray] = dataclasses.field(default_factory=list)
    h0: list[np.ndarray] = dataclasses.field(default_factory=list)
    c0: list[np.ndarray] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(x) for x in self.obs)


class Distiller:
    """DAgger from gait teachers into a RecurrentPPO student on the gait env of ``config``.

    Args:
        config: The student's training settings (env, policy, normalisation); ``init_from`` warm-starts it.
        teachers: Teacher brain of each gait, e.g. ``{"walk": "runs/walk", "jump": "walker2d-jump"}``.
        n_envs: Parallel envs of the rollouts.
        chunk: Steps per training sequence (backpropagation through time).
        action_noise: Std of Gaussian noise added to the executed actions (not the labels), to visit more states.
        learning_rate: Adam learning rate of the student's fitting.
        fresh_teachers: Each teacher's memory starts when its gait is commanded (see :class:`Teachers`).
        log: Where progress lines go.
    """

    def __init__(
        self,
        config: TrainConfig,
        teachers: Mapping[str, str],
        *,
        n_envs: int = 16,
        chunk: int = 128,
        action_noise: float = 0.1,
        learning_rate: float = 1e-3,
        fresh_teachers: bool = False,
        log: Callable[[str], None] = print,
    ) -> None:
        self.config, self.n_envs, self.chunk, self.action_noise, self.log = config, n_envs, chunk, action_noise, log
        self.teachers = Teachers(config.env_id, config.env_kwargs, teachers, n_envs, fresh=fresh_teachers)
        self.venv = make_vec_env(EnvFactory(config.env_id, config.env_kwargs), n_envs=n_envs, seed=config.seed)
        holder = build_vec_env(config, 1, config.seed)
        self.model = build_model(config, holder, None)
        if config.init_from:
            log(warm_start(self.model, config, config.init_from))
        # The student explores as little as its most precise teacher, per action (no loss here trains the noise).
        floors = [t.model.policy.log_std.detach() for t in self.teachers.teachers if hasattr(t.model.policy, "log_std")]
        if floors and hasattr(self.model.policy, "log_std"):
            self.model.policy.log_std.data = th.stack(floors).min(dim=0).values.clone()
        self.norm = self.model.get_vec_normalize_env()
        if isinstance(self.norm, VecNormalize):
            self.norm.training = False
        self.optimizer = th.optim.Adam(self.model.policy.parameters(), lr=learning_rate)
        self.data = Dataset()
        self.rng = np.random.default_rng(config.seed)
        self.obs = self.venv.reset()
        self.starts = np.ones(n_envs, dtype=bool)
        self.state = _actor_state(self.model, n_envs)

    def _normalise(self, obs: np.ndarray) -> np.ndarray:
        return self.norm.normalize_obs(obs) if isinstance(self.norm, VecNormalize) else obs

    def collect(self, steps: int, beta: float) -> dict[str, float]:
        """Roll out ``steps`` per env, acting as the teacher with probability ``beta`` per step; store the labels."""
        n_chunks = steps // self.chunk
        falls = episodes = 0
        for _ in range(n_chunks):
            h0, c0 = (x.numpy().copy() for x in self.state)
            rows = {"obs": [], "starts": [], "targets": []}
            for _ in range(self.chunk):
                norm = self._normalise(self.obs)
                targets = self.teachers.act(self.obs, self.starts)
                student, self.state = _mean_action(self.model, norm, self.state, self.starts)
                use_teacher = self.rng.random(self.n_envs) < beta
                actions = np.where(use_teacher[:, None], targets, student)
                actions = actions + self.action_noise * self.rng.standard_normal(actions.shape)
                rows["obs"].append(self.obs.copy())
                rows["starts"].append(self.starts.copy())
                rows["targets"].append(targets)
                self.obs, _, dones, infos = self.venv.step(np.clip(actions, -1.0, 1.0))
                for done, info in zip(dones, infos, strict=True):
                    if done:
                        episodes += 1
                        falls += bool(info.get("fallen", 0.0)) and not info.get("TimeLimit.truncated", False)
                self.starts = dones.astype(bool)
            # Per env: (chunk, ...) sequences.
            for key, value in rows.items():
                getattr(self.data, key).append(np.stack(value, axis=1))
            self.data.h0.append(h0)
            self.data.c0.append(c0)
        return {"episodes": episodes, "falls": falls}

    def fit_normalisation(self) -> None:
        """Set the student's observation statistics to those of all data so far: the gait env's, not a warm
        start's (reinforcement learning from the student goes on updating them; far-off statistics would shift its
        inputs under it)."""
        if not isinstance(self.norm, VecNormalize):
            return
        obs = np.concatenate(self.data.obs).reshape(-1, self.norm.observation_space.shape[0])
        self.norm.obs_rms.mean = obs.mean(axis=0)
        self.norm.obs_rms.var = obs.var(axis=0)
        self.norm.obs_rms.count = float(len(obs))

    def train(self, epochs: int, batch_chunks: int = 32) -> float:
        """Fit the student's action means to the teachers' labels over all data so far (normalised with statistics
        of all that data); returns the mean loss of the last minibatches."""
        self.fit_normalisation()
        obs = self._normalise(np.concatenate(self.data.obs))
        starts = np.concatenate(self.data.starts)
        targets = np.concatenate(self.data.targets)
        h0 = np.concatenate(self.data.h0, axis=1)
        c0 = np.concatenate(self.data.c0, axis=1)
        policy = self.model.policy
        losses = []
        for _ in range(epochs):
            order = self.rng.permutation(len(obs))
            for first in range(0, len(order), batch_chunks):
                idx = order[first : first + batch_chunks]
                n = len(idx)
                dist, _ = policy.get_distribution(
                    th.as_tensor(obs[idx].reshape(n * self.chunk, -1), dtype=th.float32),
                    (th.as_tensor(h0[:, idx]), th.as_tensor(c0[:, idx])),
                    th.as_tensor(starts[idx].reshape(-1), dtype=th.float32),
                )
                target = th.as_tensor(targets[idx].reshape(n * self.chunk, -1), dtype=th.float32)
                loss = action_loss(dist.distribution.mean, target)
                self.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                self.optimizer.step()
                losses.append(loss.item())
        return float(np.mean(losses[-20:]))

    def save(self, run_dir: Path) -> Path:
        """Write a run directory (``config.yaml``, ``model.zip``, ``vecnormalize.pkl``) evaluate.py can load."""
        save_run_config(self.config, run_dir)
        if isinstance(self.norm, VecNormalize):
            save_vecnormalize(self.norm, run_dir / "vecnormalize.pkl")
        save_model(self.model, run_dir / "model.zip")
        return run_dir


def distill(
    config: TrainConfig,
    teachers: Mapping[str, str],
    run_dir: Path,
    *,
    iterations: int = 5,
    steps_per_iteration: int = 8192,
    epochs: int = 3,
    beta_decay: float = 0.5,
    distiller_kwargs: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Run DAgger (iteration ``i`` acts as the teacher with probability ``beta_decay**i``) and save the student
    after each iteration into ``run_dir``, which this process owns meanwhile and which must not hold another run.
    SIGTERM stops it as Ctrl-C does, keeping the last iteration's student."""
    run_dir = Path(run_dir)
    if holds_run(run_dir):
        raise RunError(f"{str(run_dir)!r} already holds a run; distil into a new folder")
    distiller = Distiller(config, teachers, log=log, **(distiller_kwargs or {}))
    with sigterm_as_interrupt(), own_run(run_dir):
        if holds_run(run_dir):  # written by another process while the teachers loaded
            raise RunError(f"{str(run_dir)!r} already holds a run; distil into a new folder")
        for i in range(iterations):
            beta = beta_decay**i
            seen = distiller.collect(steps_per_iteration, beta)
            loss = distiller.train(epochs)
            log(
                f"iteration {i}: beta {beta:.2f}, {seen['episodes']} episodes ended, {seen['falls']} falls, "
                f"{len(distiller.data)} chunks, loss {loss:.4f}"
            )
            distiller.save(run_dir)
    return run_dir


def measure_teachers(
    config: TrainConfig,
    teachers: Mapping[str, str],
    schedule: str,
    episodes: int = TEST_EPISODES,
    seed: int = TEST_SEED,
    fresh: bool = False,
) -> dict[str, Any]:
    """Gait-following metrics of the teachers switched by ``schedule``: what a student is taught to do."""
    switch = Teachers(config.env_id, config.env_kwargs, teachers, 1, fresh=fresh)
    venv = DummyVecEnv([EnvFactory(config.env_id, {**config.env_kwargs, "schedule": schedule})])
    summary = summarize(run_episodes(switch, venv, seed=seed, count=episodes))
    venv.close()
    keys = ("fell", "length", "switches_followed", "switch_latency_distribution", "walk_speed_error",
            "walk_flights_per_1000", "jump_apex_rise", "segment_gaits", "ended_early_in")  # fmt: skip
    return {k: summary["summary"][k] for k in keys if k in summary["summary"]}
