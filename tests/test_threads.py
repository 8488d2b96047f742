"""Torch threads of a run: a fixed count, or (auto) for each phase the cores other processes left free."""

import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from agents.brains.models import build_model
from agents.config import resolve_config
from agents.training import callbacks
from agents.training.callbacks import update_threads
from agents.vecenvs import build_vec_env

TINY = {"total_steps": 256, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
        "policy.lstm_hidden_size": 8, "eval_freq": 0, "checkpoint_freq": 0}  # fmt: skip


@pytest.mark.parametrize(
    ("others", "threads"), [(0.0, 4), (0.15, 4), (0.4, 3), (1.0, 3), (1.3, 2), (2.6, 1), (9.0, 1), (-0.5, 4)]
)
def test_a_phase_takes_the_cores_that_other_processes_leave(others, threads):
    # Marks are (wall-clock s, other processes' CPU s); over 10 s, others used `others` cores on average.
    assert update_threads((100.0, 50.0), (110.0, 50.0 + 10 * others), most=4) == threads


class Seen(BaseCallback):
    """The thread counts in force while the envs step and as each update begins."""

    def __init__(self):
        super().__init__()
        self.stepping, self.updating = set(), set()

    def _on_step(self):
        self.stepping.add(th.get_num_threads())
        return True

    def _on_rollout_end(self):
        self.updating.add(th.get_num_threads())


@pytest.mark.parametrize(
    ("threads", "busy", "stepping", "updating"), [(0, 0.0, {2}, {2}), (0, 1.0, {1}, {1}), (2, 1.0, {2}, {2})]
)
def test_a_run_takes_the_free_cores_or_its_fixed_count(threads, busy, stepping, updating, monkeypatch):
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(callbacks, "_cpu_mark", lambda: (t := next(clock), busy * t))  # others use `busy` cores
    config = resolve_config("neuromotor/Walker2d-Walk-v1", "rppo", TINY)
    env = build_vec_env(config, config.n_envs, config.seed)
    before = th.get_num_threads()
    th.set_num_threads(2)
    try:
        seen = Seen()
        build_model(config, env, None).learn(config.total_steps, callback=[callbacks.Threads(threads), seen])
        assert th.get_num_threads() == 2  # the process's own count again once training ends
    finally:
        th.set_num_threads(before)
        env.close()
    assert (seen.stepping, seen.updating) == (stepping, updating)
