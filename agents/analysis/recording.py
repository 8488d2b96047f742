"""Recordings of a brain: its recurrent states step by step beside what the body did, saved as ``.npz``."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BaseModel

from agents.brains.cells import cell_of
from agents.evaluation import metrics as gait
from agents.evaluation.rollout import Episode
from agents.runs import atomic_open

#: Trailing window (s) over which each step's gait label is measured in a recording.
LABEL_WINDOW = 1.0
#: The arrays of a recording that hold one row per step (the others are scalars, feet labels and metadata).
STEP_ARRAYS = (
    "actor_hidden", "actor_cell", "critic_hidden", "critic_cell", "observations", "actions", "foot_contacts",
    "com_position", "com_velocity", "command", "gait_label", "gait_phase", "episode", "step",
)  # fmt: skip


def critic_states(model: BaseAlgorithm, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Hidden and cell states ``(T, layers, units)`` of a separate critic cell over one episode's observations
    (as the brain saw them), from a zero state; ``None`` when the critic has no recurrent cell of its own."""
    policy = model.policy
    lstm = getattr(policy, "lstm_critic", None)
    if lstm is None:
        return None
    hidden, cell = [], []
    with th.no_grad():
        obs = th.as_tensor(np.asarray(observations), dtype=th.float32, device=policy.device)
        features = BaseModel.extract_features(policy, obs, policy.vf_features_extractor)
        state = None
        for t in range(len(features)):
            _, state = lstm(features[t : t + 1].unsqueeze(0), state)
            hidden.append(state[0][:, 0].cpu().numpy())
            cell.append(state[1][:, 0].cpu().numpy())
    return np.array(hidden), np.array(cell)


def record(model: BaseAlgorithm, episodes: Sequence[Episode], *, label_window: float = LABEL_WINDOW) -> dict:
    """Per-step arrays of ``episodes``, concatenated, with ``episode`` and ``step`` saying where each row came from.

    Keys: ``actor_hidden`` ``(N, layers, units)`` and, for an LSTM, ``actor_cell``; ``critic_hidden`` (and
    ``critic_cell``) when the critic has its own recurrent cell; ``cell`` (``lstm``, ``gru`` or ``rnn``);
    ``observations`` (as the brain saw them, normalised), ``actions``, ``foot_contacts``, ``com_position``,
    ``com_velocity``, ``command``, ``gait_label`` (of the trailing ``label_window`` seconds, ``""`` before the first
    full window), ``gait_phase`` ``(N, feet)`` (each foot's cycle, 0 at touchdown, NaN outside a complete cycle),
    ``episode``, ``step``, and the scalars ``dt``, ``foot_labels``, ``standing_com_height``.
    """
    if not episodes:
        raise ValueError("nothing to record: no episodes")
    if episodes[0].lstm_hidden is None:
        raise ValueError("this brain has no recurrent state to record (a feed-forward policy)")
    columns: dict[str, list[np.ndarray]] = {}

    def add(key: str, value: np.ndarray) -> None:
        columns.setdefault(key, []).append(np.asarray(value))

    cell = cell_of(model.policy.lstm_actor)
    for index, ep in enumerate(episodes):
        add("actor_hidden", ep.lstm_hidden)
        if cell == "lstm":  # a GRU's or an RNN's state is its hidden state alone
            add("actor_cell", ep.lstm_cell)
        critic = critic_states(model, ep.observations)
        if critic is not None:
            add("critic_hidden", critic[0])
            if cell == "lstm":
                add("critic_cell", critic[1])
        add("observations", ep.observations)
        add("actions", ep.actions)
        add("foot_contacts", ep.foot_contacts)
        add("com_position", ep.com_position)
        add("com_velocity", ep.com_velocity)
        add("command", ep.commands)
        add("gait_label", gait.windowed_labels(ep.foot_contacts, ep.com_position, ep.dt, window=label_window))
        phases = [gait.gait_phase(ep.foot_contacts[:, foot]) for foot in range(ep.foot_contacts.shape[1])]
        add("gait_phase", np.stack(phases, axis=1) if phases else np.zeros((ep.length, 0)))
        add("episode", np.full(ep.length, index))
        add("step", np.arange(ep.length))
    arrays = {key: np.concatenate(value) for key, value in columns.items()}
    arrays["gait_label"] = arrays["gait_label"].astype(str)
    first = episodes[0]
    arrays.update(dt=first.dt, foot_labels=np.array(first.foot_labels), standing_com_height=first.standing_com_height,
                  cell=np.array(cell))  # fmt: skip
    return arrays


def save_recording(path: str | Path, arrays: dict[str, Any], **meta: str) -> Path:
    """Write a recording (and string metadata such as ``target`` and ``env_id``) to a compressed ``.npz``."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays, **{key: np.array(value) for key, value in meta.items()})
    return path


def load_recording(path: str | Path) -> dict[str, Any]:
    """A recording written by :func:`save_recording`, as a plain dict of arrays (scalars unwrapped)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"cannot read recording {str(path)!r}: {exc}") from None
    missing = {"actor_hidden", "foot_contacts", "com_velocity", "gait_phase", "episode"} - set(arrays)
    if missing:
        raise ValueError(f"{str(path)!r} is not a brain recording (lacks {', '.join(sorted(missing))})")
    by_length: dict[int, list[str]] = {}
    for key in STEP_ARRAYS:
        if key in arrays:
            by_length.setdefault(len(arrays[key]) if arrays[key].ndim else 0, []).append(key)
    if len(by_length) > 1:
        counts = "; ".join(f"{n} rows: {', '.join(keys)}" for n, keys in by_length.items())
        raise ValueError(f"recording {str(path)!r} is damaged: its per-step arrays differ in length ({counts})")
    return {key: value.item() if value.ndim == 0 else value for key, value in arrays.items()}
