"""Warm start: begin a run from another brain's weights, its inputs matched by name.

A brain trained on one task of a body can start a run on another task of the same body with the same senses: the
sensory inputs (body state, foot contacts) are the same, and the command inputs are matched by their labels
(:attr:`envs.tasks.base.Task.command_labels`). An input the brain never had, or never saw change (a walk trained at
one speed, the sideways spot of a planar jumper), starts with zero weight and is left unnormalised (mean 0, variance
1), so the warm-started brain first acts as the old one did, whatever the new command says; training teaches it what
the new inputs mean.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents.brains.store import Brain, find_brain, load_model
from agents.config import ConfigError, TrainConfig
from agents.runs import read_vecnormalize
from agents.vecenvs import EnvFactory

#: Variance (of the source's normalisation statistics) below which an input counts as never having varied.
MIN_VARIANCE = 1e-6


def input_layout(env_id: str, env_kwargs: dict[str, Any], role: str = "brain") -> tuple[int, tuple[str, ...]]:
    """``(sensory inputs, command labels)`` of an env's observation; an env without named commands is all senses.
    ``role`` names the brain whose env this is in the one-line error if it cannot be built."""
    try:
        env = EnvFactory(env_id, env_kwargs)()
    except (TypeError, ValueError, gym.error.Error) as exc:
        raise ConfigError(f"{role}: cannot build the env {env_id!r} with {env_kwargs}: {exc}") from None
    try:
        labels = tuple(getattr(env.unwrapped, "command_labels", ()))
        return env.observation_space.shape[0] - len(labels), labels
    finally:
        env.close()


def input_map(source: tuple[int, tuple[str, ...]], target: tuple[int, tuple[str, ...]]) -> np.ndarray:
    """For each target input, the index of the source input it takes over (-1: a new input)."""
    (source_senses, source_labels), (target_senses, target_labels) = source, target
    if source_senses != target_senses:
        raise ConfigError(
            f"init_from: the brain senses {source_senses} inputs and this env {target_senses}; a warm start needs "
            "the same body and senses (obs mode)"
        )
    commands = [source_senses + source_labels.index(x) if x in source_labels else -1 for x in target_labels]
    return np.array([*range(target_senses), *commands], dtype=np.int64)


def _network(policy: dict) -> dict:
    """Policy settings with the defaults that name no difference dropped (``cell: lstm``, ``leak: 1``)."""
    return {k: v for k, v in policy.items() if (k, v) not in (("cell", "lstm"), ("leak", 1), ("leak", 1.0))}


def check_source(config: TrainConfig, source: str) -> tuple[Brain, np.ndarray]:
    """The brain ``source`` names and its :func:`input_map` onto ``config``'s env; one-line errors if it cannot be."""
    try:
        brain = find_brain(source)
    except ValueError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    if brain.config.algo != config.algo:
        raise ConfigError(f"init_from {source!r} is a {brain.config.algo} brain; this run is {config.algo}")
    if brain.config.normalize != config.normalize:
        raise ConfigError(f"init_from {source!r}: one of the two normalises observations and the other does not")
    cells = (brain.config.policy.get("cell", "lstm"), config.policy.get("cell", "lstm"))
    if cells[0] != cells[1]:
        raise ConfigError(f"init_from {source!r} is a brain with a {cells[0]} cell; this run's policy.cell is "
                          f"{cells[1]}: set policy.cell={cells[0]} to start from it")  # fmt: skip
    if _network(brain.config.policy) != _network(config.policy):
        raise ConfigError(
            f"init_from {source!r}: its network differs (policy {brain.config.policy} vs {config.policy}); "
            "use the same policy settings"
        )
    layouts = (
        input_layout(brain.config.env_id, brain.config.env_kwargs, f"init_from {source!r}"),
        input_layout(config.env_id, config.env_kwargs, "this run"),
    )
    return brain, input_map(*layouts)


def warm_start(model: BaseAlgorithm, config: TrainConfig, source: str) -> str:
    """Load ``source``'s weights (and normalisation statistics) into ``model``; returns a line saying what carried."""
    brain, mapping = check_source(config, source)
    kept = mapping >= 0
    stats: VecNormalize | None = None
    env = model.get_vec_normalize_env()
    if env is not None and brain.vecnormalize_path is not None:
        stats = read_vecnormalize(brain.vecnormalize_path)
        # An input that never varied in the source's training (a fixed command) taught its weights nothing.
        kept &= stats.obs_rms.var[np.maximum(mapping, 0)] > MIN_VARIANCE
    source_model = load_model(brain, device=config.device)
    old, new = source_model.policy.state_dict(), model.policy.state_dict()
    width = source_model.observation_space.shape[0]
    for key, value in new.items():
        given = old.get(key)
        if given is not None and given.ndim == 2 and given.shape[1] == width and value.shape[1] == len(mapping):
            # An input layer: copy the columns of matched inputs, zero the new ones.
            weights = th.zeros_like(value)
            weights[:, th.as_tensor(kept)] = given[:, th.as_tensor(mapping[kept])]
            new[key] = weights
        elif given is not None and given.shape == value.shape:
            new[key] = given.clone()
        else:
            shape = None if given is None else tuple(given.shape)
            raise ConfigError(
                f"init_from {source!r}: its network differs at {key} ({shape} vs {tuple(value.shape)}); "
                "use the same policy settings"
            )
    raised = ""
    if config.init_min_log_std is not None and "log_std" in new:
        floor = th.full_like(new["log_std"], config.init_min_log_std)
        raised = f", action log std raised to at least {config.init_min_log_std:g}"
        new["log_std"] = th.maximum(new["log_std"], floor)
    model.policy.load_state_dict(new)
    if env is not None and stats is not None:
        env.obs_rms.mean = np.where(kept, stats.obs_rms.mean[np.maximum(mapping, 0)], 0.0)
        env.obs_rms.var = np.where(kept, stats.obs_rms.var[np.maximum(mapping, 0)], 1.0)
        env.obs_rms.count = stats.obs_rms.count
        env.ret_rms = stats.ret_rms
    carried, fresh = int(kept.sum()), int((~kept).sum())
    return f"warm start from {source}: {carried} inputs carried over, {fresh} new or never varied (zero weight){raised}"
