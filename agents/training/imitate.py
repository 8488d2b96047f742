"""Behaviour cloning: fit a brain to recorded action sequences, the motor-control text's example made real.

The text fits an LSTM of 50 units and a Dense output to walking and jumping action sequences with mean squared error
and Adam (100 epochs, batch 32) and reports the test loss. Here the same fit makes an ordinary brain: the policy of
our RecurrentPPO (any cell, its actor's recurrent layer followed directly by the action layer), whose action mean is
fitted to the recorded actions of whole episodes, each from a zero state as the brain meets them in the body. Its
observations are normalised with the training split's statistics, saved with it, so the fitted brain evaluates,
films, is analysed and is fine-tuned by RecurrentPPO (``init_from``) like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.vec_env import VecNormalize
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from agents.brains.models import build_model
from agents.brains.store import find_brain, load_model
from agents.config import ConfigError, TrainConfig, resolve_config
from agents.constants import DAGGER_SEED
from agents.evaluation.dataset import Dataset, Split
from agents.runs import (
    holds_run,
    own_run,
    read_vecnormalize,
    save_model,
    save_run_config,
    save_vecnormalize,
    write_json,
)
from agents.vecenvs import build_vec_env, close


@dataclass
class Fit:
    """What a fit did: the loss per epoch on the training and the test episodes."""

    train_loss: list[float]
    test_loss: list[float]


def imitation_config(dataset: Dataset, *, cell: str = "lstm", hidden: int = 50, seed: int = 0) -> TrainConfig:
    """The settings of a brain fitted to ``dataset``: its env, a ``hidden``-unit recurrent layer of kind ``cell``
    straight into the action layer (the text's LSTM + Dense), and a critic without a recurrent layer of its own
    (cloning does not train it; RecurrentPPO fine-tuning does)."""
    policy = {"lstm_hidden_size": hidden, "cell": cell, "net_arch": {"pi": [], "vf": [64, 64]},
              "enable_critic_lstm": False}  # fmt: skip
    return resolve_config(dataset.env_id, "rppo", {"env_kwargs": dataset.env_kwargs, "policy": policy, "seed": seed})


def _batch(split: Split, index: np.ndarray, norm: VecNormalize | None) -> tuple[th.Tensor, ...]:
    """Episodes ``index`` padded to the longest: observations (normalised, those the actions answered), episode
    starts, actions and the mask of real steps, each flattened sequence by sequence as the policy lays them out."""
    lengths = [len(split.actions[i]) for i in index]
    longest, n = max(lengths), len(index)
    obs = np.zeros((n, longest, split.observations[index[0]].shape[1]), dtype=np.float32)
    actions = np.zeros((n, longest, split.actions[index[0]].shape[1]), dtype=np.float32)
    mask = np.zeros((n, longest), dtype=np.float32)
    for row, (i, length) in enumerate(zip(index, lengths, strict=True)):
        seen = split.observations[i][:length]
        obs[row, :length] = norm.normalize_obs(seen) if norm is not None else seen
        actions[row, :length] = split.actions[i]
        mask[row, :length] = 1.0
    starts = np.zeros((n, longest), dtype=np.float32)
    starts[:, 0] = 1.0
    return tuple(th.as_tensor(x.reshape(n * longest, -1) if x.ndim == 3 else x.reshape(-1)) for x in
                 (obs, starts, actions, mask))  # fmt: skip


def _loss(policy: Any, batch: tuple[th.Tensor, ...], n: int) -> th.Tensor:
    """Mean squared error of the action means over the real steps of ``n`` padded sequences."""
    obs, starts, actions, mask = batch
    lstm = policy.lstm_actor
    zeros = th.zeros(lstm.num_layers, n, lstm.hidden_size)
    dist, _ = policy.get_distribution(obs, (zeros, zeros.clone()), starts)
    squared = (dist.distribution.mean - actions).pow(2).mean(dim=1)
    return (squared * mask).sum() / mask.sum()


def _split_loss(policy: Any, split: Split, norm: VecNormalize | None, batch_size: int) -> float:
    """The loss over every real step of a split (each step weighs the same)."""
    total = steps = 0.0
    with th.no_grad():
        for first in range(0, len(split.actions), batch_size):
            index = np.arange(first, min(first + batch_size, len(split.actions)))
            batch = _batch(split, index, norm)
            real = float(batch[3].sum())
            total += float(_loss(policy, batch, len(index))) * real
            steps += real
    return total / steps


def _epoch(policy: Any, optimizer: Any, split: Split, norm: VecNormalize | None, batch_size: int, rng: Any) -> None:
    order = rng.permutation(len(split.actions))
    for first in range(0, len(order), batch_size):
        index = order[first : first + batch_size]
        loss = _loss(policy, _batch(split, index, norm), len(index))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _normalised(stats: VecNormalize | None, raw: np.ndarray) -> np.ndarray:
    return stats.normalize_obs(raw[None]) if stats is not None else raw[None]


@functools.lru_cache(maxsize=2)
def _teacher(name: str) -> tuple[Any, VecNormalize | None]:
    """A teacher brain and its normalisation, loaded once for all of a fit's DAgger iterations."""
    brain = find_brain(name)
    stats = read_vecnormalize(brain.vecnormalize_path) if brain.vecnormalize_path is not None else None
    return load_model(brain), stats


def student_episodes(
    model: Any,
    norm: VecNormalize | None,
    teacher: str,
    dataset: Dataset,
    *,
    episodes: int,
    seed: int,
    beta: float,
    rng: Any,
) -> Split:
    """DAgger's data (Ross et al., 2011): ``episodes`` episodes in the dataset's env where each step's action is
    the teacher's with probability ``beta`` and the student's otherwise, every step labelled with what the teacher
    would do there (the teacher following the episode with its own memory and normalisation)."""
    import gymnasium as gym

    tutor, tutor_stats = _teacher(teacher)
    env = gym.make(dataset.env_id, **dataset.env_kwargs)
    split = Split([], [], [], [])
    try:
        for k in range(episodes):
            raw, _ = env.reset(seed=seed + k)
            states: list[Any] = [None, None]
            start = np.ones(1, dtype=bool)
            seen, labels, done = [raw], [], False
            while not done:
                own, states[0] = model.predict(_normalised(norm, raw), state=states[0], episode_start=start,
                                               deterministic=True)  # fmt: skip
                label, states[1] = tutor.predict(_normalised(tutor_stats, raw), state=states[1], episode_start=start,
                                                 deterministic=True)  # fmt: skip
                raw, _, terminated, truncated, _ = env.step((label if rng.random() < beta else own)[0])
                seen.append(raw)
                labels.append(label[0])
                start = np.zeros(1, dtype=bool)
                done = terminated or truncated
            split.observations.append(np.asarray(seen, dtype=np.float32))
            split.actions.append(np.asarray(labels, dtype=np.float32))
            split.brains.append(f"{teacher} (labels)")
            split.seeds.append(seed + k)
    finally:
        env.close()
    return split


def imitate(
    dataset: Dataset,
    run_dir: Path,
    *,
    cell: str = "lstm",
    hidden: int = 50,
    epochs: int = 100,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    dagger: int = 0,
    dagger_episodes: int = 8,
    dagger_epochs: int = 20,
    beta_decay: float = 0.5,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Fit:
    """Fit a brain to the training split of ``dataset`` (MSE, Adam), logging the training and test loss of every
    epoch to TensorBoard (``run_dir/tb``), and save it as a run directory ``run_dir`` (``config.yaml``,
    ``model.zip``, ``vecnormalize.pkl``, ``summary.json``), which must not hold a run.

    With ``dagger`` iterations, cloning is followed by DAgger: each iteration adds ``dagger_episodes`` episodes of
    the student in the body, labelled by the dataset's brain (:func:`student_episodes`, the teacher acting with
    probability ``beta_decay ** iteration``), to the training episodes, and fits ``dagger_epochs`` more epochs on
    them all. The test loss stays that of the recorded test episodes."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("hidden", hidden)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if dagger and len(set(dataset.brains)) != 1:
        raise ConfigError(f"DAgger needs one teacher; the dataset holds episodes of {', '.join(dataset.brains)}")
    if not learning_rate > 0:
        raise ConfigError(f"learning_rate must be > 0, got {learning_rate}")
    if holds_run(run_dir):
        raise ConfigError(f"{str(run_dir)!r} already holds a run; fit into a new folder")
    config = imitation_config(dataset, cell=cell, hidden=hidden, seed=seed)
    th.manual_seed(seed)
    rng = np.random.default_rng(seed)
    holder = build_vec_env(config, 1, seed)
    try:
        model = build_model(config, holder, None)
        for what, size, made in (("observations", dataset.observation_size, model.observation_space.shape[0]),
                                 ("actions", dataset.action_size, model.action_space.shape[0])):  # fmt: skip
            if size != made:
                raise ConfigError(f"dataset {str(dataset.path)!r} has {size} {what} a step; its env "
                                  f"{dataset.env_id} now has {made}")  # fmt: skip
        norm = model.get_vec_normalize_env()
        if isinstance(norm, VecNormalize):  # the training split's statistics, frozen
            seen = np.concatenate([o[:-1] for o in dataset.train.observations])
            norm.obs_rms.mean, norm.obs_rms.var, norm.obs_rms.count = seen.mean(0), seen.var(0), float(len(seen))
            norm.training = False
        else:
            norm = None
        policy = model.policy
        optimizer = th.optim.Adam(policy.parameters(), lr=learning_rate)
        fit = Fit([], [])
        with own_run(run_dir):
            writer = SummaryWriter(str(run_dir / "tb"))
            train = Split(*(list(x) for x in (dataset.train.observations, dataset.train.actions,
                                                dataset.train.brains, dataset.train.seeds)))  # fmt: skip
            plan = [0] * epochs + [i + 1 for i in range(dagger) for _ in range(dagger_epochs)]
            bar = tqdm(plan, desc="imitate", unit="epoch", disable=not progress)
            for epoch, iteration in enumerate(bar, 1):
                if iteration and epoch == epochs + (iteration - 1) * dagger_epochs + 1:
                    more = student_episodes(model, norm, dataset.brains[0], dataset, episodes=dagger_episodes,
                                            seed=DAGGER_SEED + 1000 * iteration, beta=beta_decay**iteration,
                                            rng=rng)  # fmt: skip
                    for field in ("observations", "actions", "brains", "seeds"):
                        getattr(train, field).extend(getattr(more, field))
                _epoch(policy, optimizer, train, norm, batch_size, rng)
                fit.train_loss.append(_split_loss(policy, train, norm, batch_size))
                fit.test_loss.append(_split_loss(policy, dataset.test, norm, batch_size))
                writer.add_scalar("imitate/train_loss", fit.train_loss[-1], epoch)
                writer.add_scalar("imitate/test_loss", fit.test_loss[-1], epoch)
                bar.set_postfix(train=f"{fit.train_loss[-1]:.4f}", test=f"{fit.test_loss[-1]:.4f}")
            writer.close()
            save_run_config(config, run_dir)
            if norm is not None:
                save_vecnormalize(norm, run_dir / "vecnormalize.pkl")
            save_model(model, run_dir / "model.zip")
            write_json(run_dir / "summary.json", {
                "env_id": config.env_id, "algo": config.algo, "seed": seed, "steps": 0,
                "imitation": {"dataset": str(dataset.path), "brains": dataset.brains, "cell": cell, "hidden": hidden,
                              "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                              "dagger": dagger, "dagger_episodes": dagger_episodes, "dagger_epochs": dagger_epochs,
                              "train_episodes": len(train.actions), "test_episodes": len(dataset.test.actions),
                              "train_loss": fit.train_loss[-1], "test_loss": fit.test_loss[-1]},
            })  # fmt: skip
    finally:
        close(holder)
    log(f"imitate: test loss {fit.test_loss[-1]:.5f} (train {fit.train_loss[-1]:.5f}) after {len(plan)} epochs; "
        f"brain in {run_dir}")  # fmt: skip
    return fit
