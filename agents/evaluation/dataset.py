"""Datasets of recorded gaits: the motor-control text's "walking and jumping action sequences", made from brains.

Episodes of one or more brains are stored as `Minari <https://minari.farama.org>`_ datasets (the Farama Foundation's
format for offline data of Gymnasium envs), split by seed into ``DIR/train`` and ``DIR/test``: episode ``i`` of each
brain runs from seed ``seed + i`` and goes to the test split when ``i % test_every == test_every - 1``. Each episode
holds the raw observations (before the brain's normalisation; one more than its actions, the last after the final
step), the actions, rewards, terminations and truncations, and per step (``infos``): the foot contacts, the
centre-of-mass position and velocity, the gait label of the trailing second (``windowed_labels`` of
:mod:`agents.evaluation.metrics`) and, on the clock task, the commanded gait, the labels as indices into the
dataset's ``gait_labels``; their first row, the reset's, is not recorded (-1, NaN, ``""``). ``DIR/neuromotor.json``
names the brains, the env id and kwargs, and each episode's brain and seed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.brains.store import check_fits, find_brain, load_model
from agents.config import ConfigError
from agents.constants import DATASET_SEED
from agents.evaluation import metrics as gait
from agents.evaluation.rollout import Episode, evaluate_brain
from agents.runs import read_vecnormalize
from envs.tasks.gait import GAITS

SPLITS = ("train", "test")
#: Gait labels, as stored (an index per step); "" before the first full window.
GAIT_LABELS = ("", *GAITS, "stand", "other")
META_FILE = "neuromotor.json"


@dataclass
class Split:
    """One split of a dataset: per-episode raw observation and action sequences (``observations[i]`` has one row
    more than ``actions[i]``), and which brain and seed each episode came from."""

    observations: list[np.ndarray]
    actions: list[np.ndarray]
    brains: list[str]
    seeds: list[int]

    @property
    def steps(self) -> int:
        return sum(len(a) for a in self.actions)


@dataclass
class Dataset:
    """A recorded dataset: its env, the brains recorded, and the training and test splits."""

    path: Path
    env_id: str
    env_kwargs: dict[str, Any]
    brains: list[str]
    train: Split
    test: Split

    @property
    def observation_size(self) -> int:
        return int(self.train.observations[0].shape[1])

    @property
    def action_size(self) -> int:
        return int(self.train.actions[0].shape[1])


def _label_index(labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(GAIT_LABELS)}
    return np.array([index.get(str(label), index["other"]) for label in labels], dtype=np.int64)


def _raw(observations: np.ndarray, stats: Any) -> np.ndarray:
    """Undo the brain's observation normalisation (exact except where it clipped)."""
    return observations if stats is None else stats.unnormalize_obs(observations)


def _after_reset(rows: np.ndarray, unknown: float) -> np.ndarray:
    """Minari's ``infos`` have a row for the reset, then one per step: the reset's is not recorded."""
    return np.concatenate([np.full((1, *rows.shape[1:]), unknown, dtype=rows.dtype), rows])


def _episode_buffer(ep: Episode, final: np.ndarray, seed: int, index: int, spaces: Any) -> Any:
    from minari.data_collector import EpisodeBuffer

    infos: dict[str, np.ndarray] = {
        "foot_contacts": _after_reset(ep.foot_contacts.astype(np.int8), -1),
        "com_position": _after_reset(ep.com_position, np.nan),
        "com_velocity": _after_reset(ep.com_velocity, np.nan),
        "gait_label": _after_reset(_label_index(gait.windowed_labels(ep.foot_contacts, ep.com_position, ep.dt)), 0),
    }
    if ep.commanded_gaits_after is not None:
        infos["commanded_gait"] = _after_reset(_label_index(ep.commanded_gaits_after), 0)
    # One number per step goes as a plain list: Minari 0.5.4's arrow storage cannot read back a 1-D array.
    infos = {key: value.tolist() if value.ndim == 1 else value for key, value in infos.items()}
    return EpisodeBuffer(
        id=index,
        seed=seed,
        observations=np.concatenate([ep.observations, final[None]]).astype(spaces.observation_space.dtype),
        actions=ep.actions.astype(spaces.action_space.dtype),
        rewards=list(ep.rewards.astype(np.float64)),
        terminations=[False] * (ep.length - 1) + [ep.terminated],
        truncations=[False] * (ep.length - 1) + [not ep.terminated],
        infos=infos,
    )


def record_dataset(
    brains: Sequence[str],
    out: Path,
    *,
    episodes: int,
    test_every: int = 5,
    seed: int = DATASET_SEED,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
) -> Dataset:
    """Record ``episodes`` episodes of each brain (bundled names, run directories or model files) into a new
    dataset at ``out`` (its parent folders made). Every brain must act in one env: the same id and settings (its own,
    ``env_kwargs`` over them) and the same spaces. The folder appears whole or not at all. Returns the dataset as
    read back."""
    import gymnasium as gym
    from minari.dataset.minari_storage import MinariStorage

    if not brains:
        raise ConfigError("no brains to record: name at least one")
    if test_every < 2:
        raise ConfigError(f"--test-every must be >= 2 (every Nth episode is a test episode), got {test_every}")
    if episodes < test_every:
        raise ConfigError(f"--episodes {episodes} leaves the test split empty: record at least {test_every}")
    if out.exists():
        raise ConfigError(f"{str(out)!r} already exists; choose a new folder for the dataset")
    found = [find_brain(name) for name in brains]
    envs_of = {name: (b.config.env_id, {**b.config.env_kwargs, **(env_kwargs or {})}) for name, b in
               zip(brains, found, strict=True)}  # fmt: skip
    env_id, kwargs = envs_of[brains[0]]
    for name, (other_id, other_kwargs) in envs_of.items():
        if (other_id, other_kwargs) != (env_id, kwargs):
            raise ConfigError(f"{name} acts in {other_id} {other_kwargs}, {brains[0]} in {env_id} {kwargs}; a "
                              "dataset holds one env's episodes (--env-kwargs can give them one)")  # fmt: skip
    try:
        made = gym.make(env_id, **kwargs)
    except (TypeError, ValueError, gym.error.Error) as exc:
        raise ConfigError(f"env {env_id!r} with env kwargs {kwargs}: {exc}") from None
    buffers: dict[str, list[Any]] = {split: [] for split in SPLITS}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        for name, brain in zip(brains, found, strict=True):
            model = load_model(brain)
            check_fits(model, made, f"brain {name!r}", f"env {env_id}")
            stats = read_vecnormalize(brain.vecnormalize_path) if brain.vecnormalize_path is not None else None
            recorded = evaluate_brain(brain, episodes=episodes, seed=seed, env_kwargs=env_kwargs, model=model,
                                      progress=progress)  # fmt: skip
            for i, ep in enumerate(recorded.episodes):
                split = "test" if i % test_every == test_every - 1 else "train"
                final = _raw(ep.final_observation, stats)
                ep.observations = _raw(ep.observations, stats)
                buffer = _episode_buffer(ep, final, seed + i, len(buffers[split]), made)
                buffers[split].append((name, seed + i, buffer))
        for split in SPLITS:
            (partial / split).mkdir()
            storage = MinariStorage.new(partial / split / "data", observation_space=made.observation_space,
                                        action_space=made.action_space, data_format="arrow")  # fmt: skip
            storage.update_episodes([b for _, _, b in buffers[split]])
            storage.update_metadata({"dataset_id": f"neuromotor/{out.name}-{split}-v0", "minari_version": _minari()})
        meta = {
            "env_id": env_id,
            "env_kwargs": kwargs,
            "brains": list(brains),
            "gait_labels": list(GAIT_LABELS),
            "test_every": test_every,
            "episodes": {split: [{"brain": n, "seed": s} for n, s, _ in buffers[split]] for split in SPLITS},
        }
        (partial / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if out.exists():  # made while this one recorded
            raise ConfigError(f"{str(out)!r} appeared while recording; the dataset was not written")
        partial.rename(out)
    finally:
        made.close()
        shutil.rmtree(partial, ignore_errors=True)
    return load_dataset(out)


def _minari() -> str:
    import minari

    return minari.__version__


def load_dataset(path: str | Path) -> Dataset:
    """A dataset written by :func:`record_dataset`; a missing, damaged or empty one is a one-line ``ConfigError``."""
    from minari import MinariDataset

    path = Path(path)
    if not (path / META_FILE).is_file():
        raise ConfigError(f"{str(path)!r} is not a neuromotor dataset (no {META_FILE}); record one: "
                          "neuromotor dataset BRAIN... --out DIR")  # fmt: skip
    try:
        meta = json.loads((path / META_FILE).read_text())
        splits = {}
        for split in SPLITS:
            data = MinariDataset(path / split / "data")
            episodes = list(data.iterate_episodes())
            origin = meta["episodes"][split]
            if len(origin) != len(episodes):
                raise ValueError(f"{split} holds {len(episodes)} episodes, its record {len(origin)}")
            splits[split] = Split(
                observations=[np.asarray(ep.observations, dtype=np.float32) for ep in episodes],
                actions=[np.asarray(ep.actions, dtype=np.float32) for ep in episodes],
                brains=[e["brain"] for e in origin],
                seeds=[int(e["seed"]) for e in origin],
            )
        dataset = Dataset(path, meta["env_id"], meta["env_kwargs"], meta["brains"], splits["train"], splits["test"])
    except ConfigError:
        raise
    except Exception as exc:  # pyarrow, json and Minari raise many kinds; each means the files are damaged
        raise ConfigError(f"dataset {str(path)!r} is damaged ({type(exc).__name__}: {exc})") from None
    for split in SPLITS:
        if not splits[split].actions:
            raise ConfigError(f"dataset {str(path)!r}: its {split} split has no episodes")
    return dataset
