"""The training loop around SB3: envs, model, run directory, checkpoints, Ctrl-C and resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

import envs
from agents.brains.models import build_model, load_algorithm
from agents.brains.policies import FAST_POLICY
from agents.brains.warmstart import check_source, warm_start
from agents.config import ConfigError, TrainConfig
from agents.constants import TRAINING_EVAL_SEED_OFFSET
from agents.runs import (
    Checkpoint,
    RunError,
    append_command,
    clear_early_outputs,
    holds_run,
    load_vecnormalize,
    own_run,
    read_summary,
    record_seconds,
    resume_point,
    save_checkpoint,
    save_model,
    save_run_config,
    save_vecnormalize,
    seconds_at,
    set_aside_damaged_time,
    sigterm_as_interrupt,
    write_json,
)
from agents.training.callbacks import Checkpoints, CriticWarmup, InfoLogger, ProgressBar, SaveBest, Threads, Timer
from agents.training.curriculum import (
    Advance,
    check_signal,
    describe,
    forget_advances_after,
    read_advances,
    record_advance,
    stage_at,
    stage_began,
    task_weights,
)
from agents.training.distill import Teachers
from agents.training.kickstart import KickstartPPO, kickstart_settings, teacher_wrapper
from agents.training.stopping import RECORD, StopWhenMet, check_tests
from agents.vecenvs import EnvFactory, build_vec_env, close
from envs.tasks.gait import check_schedule_length


def check_env_config(config: TrainConfig, warm_start: bool = True) -> None:
    """Fail early, with a one-line message, on an unknown env id or bad env kwargs (of any curriculum stage), and
    (with ``warm_start``) on an ``init_from`` brain that cannot start this run."""
    envs.resolve_env_id(config.env_id)
    spaces = []
    for stage in config.stage_plan():
        kwargs = stage["env_kwargs"]
        try:
            env = EnvFactory(config.env_id, kwargs)()
            env.reset(seed=config.seed)  # some base-env settings are only used (and refused) at reset
            length = env.spec.max_episode_steps if env.spec is not None else None
            task = getattr(env.unwrapped, "task", None)
            schedule = getattr(task, "schedule", ())
            if schedule and length:
                check_schedule_length(schedule, length, f"{config.env_id}'s episodes are {length} steps")
            if isinstance(stage["until"], dict):
                check_signal(stage["until"], task_weights(task))
            mirror, refusal = env_mirror(env), getattr(env.unwrapped, "mirror_refusal", None)
        except (TypeError, ValueError, gym.error.Error) as exc:
            raise ConfigError(f"env {config.env_id!r} with env_kwargs {kwargs}: {exc}") from None
        if config.mirror_weight > 0 and mirror is None:
            why = refusal or "it is not a neuromotor body"
            raise ConfigError(f"mirror_weight: {config.env_id} has no left-right mirror: {why}; set mirror_weight to 0")
        spaces.append((env.observation_space, env.action_space))
        env.close()
    if any(s != spaces[-1] for s in spaces):
        raise ConfigError("curriculum: every stage's env must observe and act alike (same obs mode, body and task)")
    if config.stop_when:
        check_tests(config.env_id, config.env_kwargs, config.stop_when["tests"])
    if warm_start and config.init_from:
        check_source(config, config.init_from)
    if config.kickstart:
        Teachers(config.env_id, config.env_kwargs, config.kickstart["teachers"], 1)


def env_mirror(env: gym.Env) -> Any:
    """The env's left-right mirror (:class:`envs.mirror.Mirror`), ``None`` where it has none."""
    return getattr(env.unwrapped, "mirror", None)


def apply_mirror(model: BaseAlgorithm, config: TrainConfig) -> None:
    """Give ``model`` the run's mirror loss (``mirror_weight``), with the mirror of the run's env."""
    if config.mirror_weight > 0:
        probe = EnvFactory(config.env_id, config.env_kwargs)()
        model.set_mirror(env_mirror(probe), config.mirror_weight, config.mirror_burn_in)
        probe.close()


def training_env(
    config: TrainConfig, n_envs: int, seed: int, training: bool = True, env_kwargs: dict[str, Any] | None = None
) -> VecEnv:
    """The vectorised env of a run (with ``env_kwargs``: of a stage of its curriculum); a kickstarted run's training
    envs are labelled by its teachers (evaluation envs are wrapped alike, unlabelled)."""
    kwargs = config.env_kwargs if env_kwargs is None else env_kwargs
    wrap = teacher_wrapper(config, kwargs, teaching=training) if config.kickstart else None
    return build_vec_env(config, n_envs, seed, training=training, env_kwargs=kwargs, wrap=wrap)


def _open_model(config: TrainConfig, run_dir: Path, env: VecEnv, checkpoint: Checkpoint | None) -> BaseAlgorithm:
    """A new model on ``env``, or the checkpoint's, its normalisation statistics carried onto ``env``."""
    model = _build_or_load(config, run_dir, env, checkpoint)
    apply_mirror(model, config)
    if config.kickstart:
        settings = kickstart_settings(config)
        model.set_kickstart(settings["weight"], settings["anneal_steps"])
    return model


def _build_or_load(config: TrainConfig, run_dir: Path, env: VecEnv, checkpoint: Checkpoint | None) -> BaseAlgorithm:
    algo_cls = KickstartPPO if config.kickstart else None
    if checkpoint is None:
        model = build_model(config, env, run_dir / "tb", None if algo_cls is None else (algo_cls, FAST_POLICY))
        if config.init_from:
            print(warm_start(model, config, config.init_from))
        return model
    if isinstance(env, VecNormalize):
        if not checkpoint.vecnormalize.is_file():
            raise RunError(f"checkpoint {checkpoint.model.name} has no {checkpoint.vecnormalize.name} beside it")
        env = load_vecnormalize(checkpoint.vecnormalize, env.venv)
        env.training, env.norm_reward = True, config.norm_reward
    return load_algorithm(
        checkpoint.model,
        config.algo,
        env=env,
        device=config.device,
        algo_cls=algo_cls,
        tensorboard_log=str(run_dir / "tb"),
    )


def _restore_evaluations(callback: EvalCallback, log: Path) -> None:
    """Carry a resumed run's evaluation history (and best score) into a fresh ``EvalCallback``; a damaged history
    (SB3 writes it in place, so a kill can truncate it) is set aside with a line, not fatal."""
    if not log.is_file():
        return
    try:
        with np.load(log) as data:
            timesteps, results, lengths = data["timesteps"], data["results"], data["ep_lengths"]
    except Exception as exc:  # a truncated .npz raises zipfile, pickle or key errors alike
        damaged = log.with_name(f"{log.stem}.damaged{log.suffix}")
        log.replace(damaged)
        print(f"resume: {log} is unreadable ({type(exc).__name__}); moved to {damaged.name}, evaluations start anew")
        return
    callback.evaluations_timesteps = timesteps.tolist()
    callback.evaluations_results = results.tolist()
    callback.evaluations_length = lengths.tolist()
    if callback.evaluations_results:
        callback.best_mean_reward = float(max(np.mean(r) for r in callback.evaluations_results))


def _callbacks(
    config: TrainConfig,
    run_dir: Path,
    total_steps: int,
    eval_env: VecEnv | None,
    progress: bool = True,
    on_checkpoint=None,
    stop: StopWhenMet | None = None,
):
    n_envs = config.n_envs
    callbacks = [ProgressBar(total_steps)] if progress else []
    callbacks.append(InfoLogger())
    callbacks.append(Threads(config.threads))
    if config.init_critic_steps:
        callbacks.append(CriticWarmup(config.init_critic_steps))
    if config.checkpoint_freq:
        callbacks.append(Checkpoints(run_dir / "checkpoints", config.checkpoint_freq, n_envs, on_checkpoint))
    if eval_env is not None:
        evaluation = EvalCallback(
            eval_env,
            n_eval_episodes=config.eval_episodes,
            eval_freq=max(config.eval_freq // n_envs, 1),
            log_path=str(run_dir / "eval"),
            deterministic=True,
            callback_on_new_best=SaveBest(run_dir / "best"),
            verbose=0,
        )
        _restore_evaluations(evaluation, run_dir / "eval" / "evaluations.npz")
        callbacks.append(evaluation)
    if stop is not None:  # after the checkpoint it judges, and last: nothing else runs on the step it stops at
        callbacks.append(stop)
    return callbacks


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    command: list[str] | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """Train (or, with ``resume``, continue) the run in ``run_dir``; returns the summary that it also saves.

    The run directory is owned by this process while it trains (:func:`agents.runs.own_run`: a second writer is
    refused). A fresh start refuses a directory that already holds trained weights; one that holds only a config
    (a run stopped before it trained) is started again. A resume starts from the most advanced intact checkpoint
    (damaged ones are skipped and named through ``log``), from the final model of a finished run given more
    ``total_steps``, or from step 0 when the run has no checkpoint yet. ``progress`` shows a progress bar (sweeps
    run without one). A start that fails before training began removes what it wrote, so the same command can run
    again. Ctrl-C or SIGTERM saves a checkpoint and raises ``KeyboardInterrupt`` (:class:`agents.runs.Terminated`
    for SIGTERM) once the envs are closed.
    """
    run_dir = Path(run_dir)
    before = set(run_dir.iterdir()) if run_dir.is_dir() else None
    learning = [False]  # set once training starts: from then on a failure keeps everything for a resume
    checkpoint = None
    with sigterm_as_interrupt(), own_run(run_dir):
        try:
            if resume:
                checkpoint = _resume_point(config, run_dir, log)
            elif holds_run(run_dir):
                raise RunError(f"run directory {str(run_dir)!r} already holds a run; use --resume {run_dir}")
            if checkpoint is not None:
                set_aside_damaged_time(run_dir, log)
            elif (run_dir / "config.yaml").is_file():  # stopped before its first checkpoint: start again at 0
                clear_early_outputs(run_dir)
            return _train(config, run_dir, checkpoint, command, progress, learning)
        except BaseException:
            if checkpoint is None and not learning[0]:
                _remove_debris(run_dir, before)
            raise


def _remove_debris(run_dir: Path, before: set[Path] | None) -> None:
    """Undo a start that failed or was stopped before training began: remove what it added to ``run_dir`` (all of
    it, if the folder did not exist), and nothing that was there before."""
    if before is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for path in set(run_dir.iterdir()) - before if run_dir.is_dir() else ():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _resume_point(config: TrainConfig, run_dir: Path, log) -> Checkpoint | None:
    """Where a resume starts: the most advanced intact checkpoint, or ``None`` (step 0) for a run that was stopped
    before its first one."""
    if not (run_dir / "config.yaml").is_file():
        raise RunError(f"{str(run_dir)!r} is not a run directory: it has no config.yaml")
    checkpoint = resume_point(run_dir, config.normalize, log=log)
    if checkpoint is None:
        if holds_run(run_dir):
            raise RunError(f"{str(run_dir)!r} has no intact checkpoint or final model to resume from")
        log(f"resume: {run_dir} has no checkpoint yet; training starts from step 0")
        return None
    stopped = read_summary(run_dir).get("stopped_at")
    if stopped is not None and checkpoint.steps == stopped:
        raise RunError(
            f"the run stopped at step {stopped}: its model met stop_when ({RECORD}); to train it on, start a new run "
            "from it with init_from"
        )  # (a run killed after its stop but before its summary resumes only to finish)
    if checkpoint.steps >= config.total_steps:
        reached = f"{checkpoint.steps} of {config.total_steps}"
        raise RunError(f"the run already reached {reached} steps; pass a larger --steps")
    return checkpoint


def _train(
    config: TrainConfig,
    run_dir: Path,
    checkpoint: Checkpoint | None,
    command: list[str] | None,
    progress: bool,
    learning: list[bool],
) -> dict:
    # Evaluations judge the task the run ends on, whatever stage of its curriculum it is in.
    eval_env = None
    if config.eval_freq:
        eval_env = training_env(config, 1, config.seed + TRAINING_EVAL_SEED_OFFSET, training=False)
    timers: list[Timer] = []
    start = checkpoint.steps if checkpoint is not None else 0
    # The time of a run from a clean start: the time recorded with the checkpoint it resumes from (work done after
    # it, lost to a kill, is not counted) plus this segment's.
    before = seconds_at(run_dir, start)

    def seconds() -> float:
        return before + sum(t.rate()[0] for t in timers)

    def mark(steps: int | None = None) -> None:
        try:
            record_seconds(run_dir, seconds(), steps)
        except RunError:  # time.json damaged under a running training: set aside, never fatal
            set_aside_damaged_time(run_dir)
            record_seconds(run_dir, seconds(), steps)

    if start:
        mark(start)  # marks past the checkpoint a resume starts from belong to discarded work

    plan = config.stage_plan()
    config_saved = False
    # A Ctrl-C anywhere in the loop, within a stage or between two, still counts the time of every stage run.
    try:
        for index in range(_first_stage(plan, run_dir, start), len(plan)):
            stage = plan[index]
            until = stage["until"]
            end = config.total_steps if isinstance(until, dict) else until
            env = training_env(config, config.n_envs, config.seed, env_kwargs=stage["env_kwargs"])
            try:
                model = _open_model(config, run_dir, env, checkpoint)
            except BaseException:
                close(env, eval_env)
                raise
            rate = stage["learning_rate"]
            if model.learning_rate != rate:  # a stage's own rate; SB3 reads the schedule at every update
                model.learning_rate = rate
                model._setup_lr_schedule()
            if not config_saved:
                # Written once the model stands: a warm start that cannot load leaves nothing behind.
                save_run_config(config, run_dir)
                if command is not None:
                    append_command(run_dir, command)
                config_saved = True
            env = model.get_env()
            timers.append(Timer())
            advance = Advance(until if isinstance(until, dict) else None, index)
            stop = _stop_rule(config, run_dir, model, checkpoint, index, len(plan))
            callbacks = CallbackList(
                [timers[-1], advance, *_callbacks(config, run_dir, config.total_steps, eval_env, progress, mark, stop)]
            )
            learning[0] = True
            try:
                if stop is None or stop.met_at is None:  # (stopped at the checkpoint it resumes from: it finishes)
                    model.learn(
                        end - model.num_timesteps,
                        callback=callbacks,
                        tb_log_name=config.algo,
                        reset_num_timesteps=checkpoint is None,
                    )
            except KeyboardInterrupt:
                for callback in callbacks.callbacks:
                    if isinstance(callback, ProgressBar) and callback.bar is not None:
                        callback.bar.close()
                mark(model.num_timesteps)  # before the checkpoint: none stands without its time
                saved = save_checkpoint(model, run_dir / "checkpoints")
                close(env, eval_env)
                print(
                    f"interrupted at step {saved.steps}: saved {saved.model}; resume with: python train.py --resume "
                    f"{run_dir}"
                )
                raise
            except BaseException:
                close(env, eval_env)
                raise
            if index == len(plan) - 1 or model.num_timesteps >= config.total_steps:
                break  # the last stage, or a stage whose condition the whole budget did not meet
            # The stage ended (at its step count, or its condition held): the next starts from this checkpoint in its
            # own envs, as a resumed run would.
            # The checkpoint first: an advance is recorded only once the checkpoint the next stage starts from is.
            mark(model.num_timesteps)
            checkpoint = save_checkpoint(model, run_dir / "checkpoints")
            reason = describe(until) if isinstance(until, dict) else f"{until} steps"
            record_advance(run_dir, index, model.num_timesteps, reason, advance.advanced)
            if isinstance(until, dict):
                print(f"curriculum: stage {index} ended at step {model.num_timesteps}: {reason} "
                      f"(measured {advance.advanced:.3g})")  # fmt: skip
            close(env)
    except KeyboardInterrupt:
        mark()
        raise
    if isinstance(env, VecNormalize):
        save_vecnormalize(env, run_dir / "vecnormalize.pkl")
    save_model(model, run_dir / "model.zip")
    elapsed = sum(t.rate()[0] for t in timers)
    rate = (model.num_timesteps - start) / max(elapsed, 1e-9)
    total_seconds = seconds()
    mark(int(model.num_timesteps))
    eval_callback = next((c for c in callbacks.callbacks if isinstance(c, EvalCallback)), None)
    returns = [ep["r"] for ep in model.ep_info_buffer]
    summary = {
        "env_id": config.env_id,
        "algo": config.algo,
        "seed": config.seed,
        "steps": int(model.num_timesteps),
        "seconds": round(elapsed, 1),
        "seconds_total": round(total_seconds, 1),
        "steps_per_second": round(rate, 1),
        "mean_return": float(np.mean(returns)) if returns else None,
        "best_eval_return": None if eval_callback is None else float(eval_callback.best_mean_reward),
        "stage": index,
        "stages": len(plan),
        "stopped_at": None if stop is None else stop.met_at,
        "advances": read_advances(run_dir),
        "run_dir": str(run_dir),
    }
    write_json(run_dir / "summary.json", summary)
    close(env, eval_env)
    return summary


def _stop_rule(config: TrainConfig, run_dir: Path, model: BaseAlgorithm, checkpoint: Checkpoint | None, index: int,
               stages: int) -> StopWhenMet | None:  # fmt: skip
    """The ``stop_when`` check of the run's last stage (``None`` in other stages or without the setting). A run that
    resumes in the last stage from a checkpoint never judged (its check cut off, or saved by Ctrl-C) judges it
    first, so that every checkpoint of the stage is judged."""
    if not config.stop_when or not config.checkpoint_freq or index != stages - 1:
        return None
    now = int(model.num_timesteps)
    stop = StopWhenMet(run_dir, config.stop_when, config.checkpoint_freq, config.n_envs, now)
    began = stage_began(run_dir, index)
    saved = checkpoint is not None and checkpoint.model.parent.name == "checkpoints" and checkpoint.steps == now
    if stop.met_at is None and saved and now > began and not stop.judged(now):
        stop.judge_checkpoint(now, model)
    return stop


def _first_stage(plan: list[dict], run_dir: Path, start: int) -> int:
    """The stage a run (re)starting at step ``start`` is in: past every advance recorded at or before it (later ones,
    of a run resumed from before them, are dropped), and past every stage whose step count it reached (a run
    recorded before advances were)."""
    index = min(stage_at(run_dir, start), len(plan) - 1) if start else 0
    forget_advances_after(run_dir, start)
    while index < len(plan) - 1 and not isinstance(plan[index]["until"], dict) and plan[index]["until"] <= start:
        index += 1
    return index


def summary_line(summary: dict) -> str:
    ret = summary["mean_return"]
    best = summary["best_eval_return"]
    return (
        f"done: {summary['env_id']} {summary['algo']} seed {summary['seed']}: {summary['steps']} steps in "
        f"{summary['seconds']:.0f} s ({summary['steps_per_second']:.0f} steps/s), mean return "
        f"{'n/a' if ret is None else f'{ret:.1f}'}, best eval "
        f"{'n/a' if best is None or not np.isfinite(best) else f'{best:.1f}'} -> {summary['run_dir']}"
    )
