"""Stopping a run once its brain is what it is meant to be: the ``stop_when`` setting.

A recipe's brain is defined by its tests (criteria on gait metrics, each on its own eval env settings), not by a step
budget. With ``stop_when: {tests: [...], episodes: 5, times: 2}`` the run's model is judged on ``episodes``
validation episodes per test (seeds from :data:`agents.constants.VALIDATION_SEED`, never the test seeds) at each
checkpoint of the curriculum's last stage, and training ends once it passes every test at ``times`` checkpoints in a
row. The model kept is that checkpoint's. As SB3's ``StopTrainingOnRewardThreshold`` stops on a mean reward, this
stops on the definition.

The check runs the live model (the checkpoint's weights) with the checkpoint's normalisation statistics, and puts the
random states of Python, NumPy and torch back afterwards: with a fixed thread count, until it stops a run with checks
learns exactly what the same run without them learns. Every check is recorded in the run's ``stop.json`` and on
TensorBoard under ``stop/``. A resumed run counts the passes in a row from the checks before its checkpoint, and
first judges that checkpoint if it is in the last stage and was never judged (a check cut off by a stop, or a
checkpoint saved by Ctrl-C), so that every checkpoint file of the last stage is judged, as :func:`replay` judges them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.config import STOP_DEFAULTS, ConfigError
from agents.constants import VALIDATION_SEED
from agents.evaluation.criteria import check_criteria
from agents.evaluation.rollout import evaluate_brain, rollout, summarize
from agents.runs import checkpoint_paths, checkpoint_steps, write_json
from agents.vecenvs import EnvFactory

#: The run directory's record of its checks.
RECORD = "stop.json"


def read_record(run_dir: Path) -> dict[str, Any]:
    """The run's ``stop.json``: ``checks`` (``step``, ``passed``, ``criteria_met``, ``criteria``; oldest first) and
    ``stopped_at`` (the step the rule stopped it at, or ``None``); empty for a run without checks."""
    path = Path(run_dir) / RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def passes_in_a_row(checks: list[dict[str, Any]]) -> int:
    """How many of the last checks passed, counting back to the first that did not."""
    count = 0
    for check in reversed(checks):
        if not check["passed"]:
            break
        count += 1
    return count


class _Still:
    """A stand-in brain that holds every action at zero: enough to run a few steps and read the metrics' names."""

    def __init__(self, venv: DummyVecEnv) -> None:
        self.observation_space, self.action_space = venv.observation_space, venv.action_space

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        return np.zeros((len(obs), *self.action_space.shape), dtype=np.float32), None


def check_tests(env_id: str, env_kwargs: dict[str, Any], tests: list[dict[str, Any]]) -> None:
    """Raise :class:`ConfigError` naming a test whose eval env cannot be built or whose criteria name a metric the
    env's episodes do not have: before training, not at the first check hours in."""
    for i, test in enumerate(tests):
        kwargs = {**env_kwargs, **test["eval_env_kwargs"]}
        short = {key: value for key, value in kwargs.items() if key != "schedule"}
        try:
            env = EnvFactory(env_id, kwargs)()
            env.reset(seed=VALIDATION_SEED)
            env.close()
            venv = DummyVecEnv([EnvFactory(env_id, {**short, "max_episode_steps": 3})])
            episode = rollout(_Still(venv), venv, seed=VALIDATION_SEED)
            venv.close()
        except (TypeError, ValueError, gym.error.Error) as exc:
            raise ConfigError(f"stop_when.tests[{i}]: env {env_id!r} with env_kwargs {kwargs}: {exc}") from None
        try:
            check_criteria(summarize([episode])["summary"], test["criteria"])
        except ConfigError as exc:
            raise ConfigError(f"stop_when.tests[{i}]: {exc}") from None


def judge(target: Path, model: Any, tests: list[dict[str, Any]], episodes: int) -> tuple[int, int]:
    """How many criterion rows of ``tests`` the ``model`` (with ``target``'s statistics and env; ``None``: loaded
    from ``target``) meets on ``episodes`` validation episodes per test, and of how many; the random states are left
    as they were."""
    states = random.getstate(), np.random.get_state(), th.get_rng_state()
    try:
        rows = []
        for test in tests:
            evaluation = evaluate_brain(target, episodes=episodes, seed=VALIDATION_SEED,
                                        env_kwargs=test["eval_env_kwargs"], model=model)  # fmt: skip
            rows += check_criteria(evaluation.summary()["summary"], test["criteria"])
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        th.set_rng_state(states[2])
    return sum(row["passed"] for row in rows), len(rows)


def _check(steps: int, met: int, total: int) -> dict[str, Any]:
    return {"step": steps, "passed": met == total, "criteria_met": met, "criteria": total}


def replay(run_dir: Path, rule: dict[str, Any], after: int) -> tuple[int | None, list[dict[str, Any]]]:
    """Where ``rule`` would have stopped a run trained without it: its checkpoints past step ``after`` (where its
    last stage began) judged in order, each loaded from its file, until ``times`` pass in a row. Returns that
    checkpoint's step (``None``: none did) and the checks."""
    run_dir = Path(run_dir)
    episodes = rule.get("episodes", STOP_DEFAULTS["episodes"])
    checks: list[dict[str, Any]] = []
    for steps in (n for n in checkpoint_steps(run_dir) if n > after):
        checks.append(_check(steps, *judge(checkpoint_paths(run_dir / "checkpoints", steps).model, None,
                                           rule["tests"], episodes)))  # fmt: skip
        if passes_in_a_row(checks) >= rule.get("times", STOP_DEFAULTS["times"]):
            return steps, checks
    return None, checks


class StopWhenMet(BaseCallback):
    """Judge the model at every checkpoint (saved just before, by :class:`agents.training.callbacks.Checkpoints`
    with the same ``every``) and end learning once it passes ``times`` in a row.

    Args:
        run_dir: The run directory (its ``checkpoints/`` and ``stop.json``).
        rule: The ``stop_when`` setting.
        every: Env steps between checkpoints.
        n_envs: Parallel envs.
        start: The step the run (re)starts from: earlier checks count towards the passes in a row, later ones (of
            discarded work) are dropped.
        log: Where one line per check goes.
    """

    def __init__(self, run_dir: Path, rule: dict[str, Any], every: int, n_envs: int, start: int, log=print) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.tests = rule["tests"]
        self.episodes = rule.get("episodes", STOP_DEFAULTS["episodes"])
        self.times = rule.get("times", STOP_DEFAULTS["times"])
        self.calls_between = max(every // n_envs, 1)
        record = read_record(run_dir)
        self.checks = [check for check in record.get("checks", []) if check["step"] <= start]
        stopped = record.get("stopped_at")
        self.met_at: int | None = stopped if stopped is not None and stopped <= start else None
        self.log = log
        if self.checks != record.get("checks", []) or (stopped is not None and self.met_at is None):
            self._write()

    def _write(self) -> None:
        write_json(self.run_dir / RECORD, {"episodes": self.episodes, "times": self.times, "checks": self.checks,
                                           "stopped_at": self.met_at})  # fmt: skip

    def judge_checkpoint(self, steps: int, model: Any) -> bool:
        """Judge the checkpoint of ``steps`` (``model``: its weights, live), record it, and say whether the run
        stops there."""
        met, total = judge(
            checkpoint_paths(self.run_dir / "checkpoints", steps).model, model, self.tests, self.episodes
        )
        self.checks.append(_check(steps, met, total))
        in_a_row = passes_in_a_row(self.checks)
        if in_a_row >= self.times:
            self.met_at = steps
        self._write()  # the stop with its check: a run killed before its summary is still known to have stopped
        if getattr(self, "model", None) is not None:  # within learn (a resumed checkpoint is judged before it)
            self.logger.record("stop/criteria_met", met / total)
            self.logger.record("stop/passes_in_a_row", in_a_row)
        self.log(f"stop_when: step {steps}: {met} of {total} criteria met on {self.episodes} validation episodes "
                 f"per test; {in_a_row} of {self.times} passes in a row")  # fmt: skip
        return self.met_at is not None

    def judged(self, steps: int) -> bool:
        """Whether the checkpoint of ``steps`` has a recorded check."""
        return any(check["step"] == steps for check in self.checks)

    def _on_step(self) -> bool:
        if self.n_calls % self.calls_between:
            return True
        if self.judge_checkpoint(int(self.model.num_timesteps), self.model):
            self.logger.dump(self.model.num_timesteps)  # learn stops before it would dump them
            return False
        return True
