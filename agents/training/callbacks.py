"""Training callbacks: progress bar, TensorBoard scalars from ``info``, checkpoints and the best model, saved
atomically with their normalisation statistics."""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize
from tqdm.auto import tqdm

from agents.runs import save_checkpoint, save_model, save_vecnormalize

#: Scalar gait signals that the neuromotor envs put in ``info`` and TensorBoard shows under ``gait/``.
GAIT_SIGNALS = ("forward_velocity", "com_height", "com_rise", "torso_pitch", "airborne")


class CriticWarmup(BaseCallback):
    """Freeze the policy (actor) weights until ``steps`` env steps: a warm-started brain keeps acting as it did
    while the value function learns the new task, instead of following advantages from a critic that does not know
    it yet."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def actor_parameters(self) -> list:
        policy = self.model.policy
        parts = [getattr(policy, name, None) for name in ("lstm_actor", "action_net")]
        parts.append(policy.mlp_extractor.policy_net)
        params = [p for part in parts if part is not None for p in part.parameters()]
        return params + ([policy.log_std] if isinstance(getattr(policy, "log_std", None), th.nn.Parameter) else [])

    def _set_frozen(self) -> None:
        frozen = self.model.num_timesteps < self.steps
        for param in self.actor_parameters():
            param.requires_grad_(not frozen)

    def _on_training_start(self) -> None:
        self._set_frozen()

    def _on_rollout_start(self) -> None:
        self._set_frozen()

    def _on_training_end(self) -> None:
        for param in self.actor_parameters():
            param.requires_grad_(True)

    def _on_step(self) -> bool:
        return True


def _cpu_mark() -> tuple[float, float] | None:
    """``(wall-clock s, CPU s that other processes used since boot)``: the machine's busy time (``/proc/stat``) less
    this process's own and its children's (envs stepped in worker processes); ``None`` where the system does not
    say."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        workers = 0
        for child in multiprocessing.active_children():
            with open(f"/proc/{child.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
            workers += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return time.monotonic(), (sum(ticks) - ticks[3] - ticks[4] - workers) / hz - own.user - own.system


#: Other processes using less than this many cores, on average over a phase, leave the machine idle. Lower than
#: half a core because a run's own spinning threads starve other processes and make them look idler than they are.
IDLE_CORES = 0.2


#: How long a run with auto threads looks at the machine before its first phase, and the shortest window it
#: measures.
PROBE_SECONDS = 0.1


def update_threads(before: tuple[float, float], now: tuple[float, float], most: int) -> int:
    """Threads for the next phase of training: ``most`` less one per core (or part of one beyond ``IDLE_CORES``)
    that other processes used between two marks of :func:`_cpu_mark`, and at least one."""
    others = (now[1] - before[1]) / max(now[0] - before[0], 1e-9)
    return max(1, min(most, most - math.ceil(others - IDLE_CORES)))


class Threads(BaseCallback):
    """Torch threads of a run. A fixed count (``threads`` > 0) holds throughout, and a seed's run reproduces bit
    for bit. ``0`` (auto) gives each phase (stepping the envs, a gradient update) the cores that other processes
    left free during the phase before, at most torch's own count: two threads that wait on each other stall
    whenever another process holds a core (beside a filmed evaluation, the Walker2d's training ran 38x slower with
    two threads than alone and 0.87x with one; benchmarks/under_load.py).
    """

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.threads = threads
        self.most = th.get_num_threads()
        self.mark: tuple[float, float] | None = None

    def _on_training_start(self) -> None:
        th.set_num_threads(self.threads or self.most)
        self.mark = _cpu_mark()
        if not self.threads and self.mark is not None:
            time.sleep(PROBE_SECONDS)  # the first phase's threads, from a moment in which this run is idle
            self._fit()

    def _on_rollout_start(self) -> None:
        self._fit()

    def _on_rollout_end(self) -> None:
        self._fit()
        self.logger.record("time/update_threads", th.get_num_threads())

    def _fit(self) -> None:
        if self.threads:
            return
        mark, before = _cpu_mark(), self.mark
        if mark is None or before is None or mark[0] - before[0] < PROBE_SECONDS:
            return  # too short a window to measure (a rollout starting as training starts): the count stands
        self.mark = mark
        th.set_num_threads(update_threads(before, mark, self.most))

    def _on_training_end(self) -> None:
        th.set_num_threads(self.most)

    def _on_step(self) -> bool:
        return True


class ProgressBar(BaseCallback):
    """A tqdm bar over env steps showing steps/s and the latest mean episode return."""

    def __init__(self, total_steps: int) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(
            total=self.total_steps,
            initial=self.model.num_timesteps,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            smoothing=0.1,
        )

    def _on_step(self) -> bool:
        assert self.bar is not None
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_rollout_end(self) -> None:
        returns = [ep["r"] for ep in self.model.ep_info_buffer]
        if returns and self.bar is not None:
            self.bar.set_postfix_str(f"return {np.mean(returns):.1f}")

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class InfoLogger(BaseCallback):
    """Log the mean of every ``info["reward_<term>"]`` and gait signal over each rollout to TensorBoard."""

    def __init__(self) -> None:
        super().__init__()
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            for key, value in info.items():
                if key.startswith("reward_"):
                    name = f"reward/{key.removeprefix('reward_')}"
                elif key in GAIT_SIGNALS:
                    name = f"gait/{key}"
                else:
                    continue
                self.sums[name] += float(value)
                self.counts[name] += 1
        return True

    def _on_rollout_end(self) -> None:
        for name, total in self.sums.items():
            self.logger.record(name, total / self.counts[name])
        self.sums.clear()
        self.counts.clear()


class SaveBest(BaseCallback):
    """Called by ``EvalCallback`` on a new best evaluation: save ``model.zip`` and ``vecnormalize.pkl`` in a folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = Path(folder)

    def _on_step(self) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = self.model.get_vec_normalize_env()
        if isinstance(env, VecNormalize):
            save_vecnormalize(env, self.folder / "vecnormalize.pkl")
        save_model(self.model, self.folder / "model.zip")
        return True


class Checkpoints(BaseCallback):
    """Save a checkpoint (:func:`agents.runs.save_checkpoint`, atomic) every ``every`` env steps into ``folder``;
    like SB3's ``CheckpointCallback``, counted in vectorised steps from the start of ``learn``. ``on_save`` is told
    each checkpoint's step count just before it is written."""

    def __init__(self, folder: Path, every: int, n_envs: int, on_save: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.calls_between = max(every // n_envs, 1)
        self.on_save = on_save

    def _on_step(self) -> bool:
        if self.n_calls % self.calls_between == 0:
            if self.on_save is not None:  # first, so that no checkpoint stands without it
                self.on_save(self.model.num_timesteps)
            save_checkpoint(self.model, self.folder)
        return True


class Timer(BaseCallback):
    """Wall-clock time spent inside ``learn``, for the run summary."""

    def __init__(self) -> None:
        super().__init__()
        self.start = 0.0
        self.stop = 0.0
        self.start_steps = 0
        self.stop_steps = 0

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()
        self.stop = 0.0
        self.start_steps = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        # Frozen here: a curriculum runs one ``learn`` per stage, and each stage's time is counted once.
        self.stop = time.perf_counter()
        self.stop_steps = self.model.num_timesteps

    def rate(self) -> tuple[float, float]:
        """Seconds and env steps per second from the start of training to its end, or to now while it runs
        (zeros before it started)."""
        if not self.start:
            return 0.0, 0.0
        elapsed = (self.stop or time.perf_counter()) - self.start
        steps = (self.stop_steps if self.stop else self.model.num_timesteps) - self.start_steps
        return elapsed, steps / max(elapsed, 1e-9)
