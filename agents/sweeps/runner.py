"""Running a sweep on Ray Tune: each trial a normal run directory, trained, measured and recorded."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch as th

from agents.config import ConfigError, TrainConfig
from agents.constants import TEST_SEED, VALIDATION_SEED
from agents.evaluation.criteria import check_criteria
from agents.evaluation.rollout import evaluate_brain
from agents.runs import (
    Checkpoint,
    Terminated,
    checkpoint_paths,
    checkpoint_steps,
    copy_file,
    holds_run,
    own_run,
    resume_point,
    write_json,
    write_text,
)
from agents.sweeps.report import read_json, trial_metrics
from agents.sweeps.spec import SWEEP_RECORD, Sweep, finished, ray_tune, trial_dir
from agents.training.trainer import train

#: Bytes of shared memory a local Ray keeps for its object store (Ray's minimum is 75 MiB).
LOCAL_OBJECT_STORE = 256 * 1024**2
#: Where, in a sweep directory, Ray's own messages go: its tables, and each failed trial's traceback.
RAY_LOG = "ray.log"


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one trial (resuming its checkpoints), measure its gait, write ``trial.json``; runs in a Ray worker."""
    th.set_num_threads(spec.get("threads", 1))
    run_dir = Path(spec["run_dir"])
    (run_dir / "error.txt").unlink(missing_ok=True)
    config = TrainConfig.from_dict(spec["config"])
    if not (run_dir / "summary.json").is_file():
        checkpoint = resume_point(run_dir, config.normalize, log=lambda _: None) if run_dir.is_dir() else None
        if checkpoint is not None and checkpoint.steps >= config.total_steps:
            finish_from_checkpoint(config, run_dir, checkpoint)
        else:
            train(config, run_dir, resume=checkpoint is not None, progress=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    tests = spec.get("tests") or []
    if tests:
        judged = judge(run_dir, tests, spec["episodes"], TEST_SEED)
        measured = judged[0]["summary"]
    else:
        measured = evaluate_brain(run_dir, episodes=spec["episodes"], seed=TEST_SEED).summary()["summary"]
    result = {
        "name": spec["name"],
        "setting": spec["setting"],
        "overrides": spec["overrides"],
        "seed": spec["seed"],
        "training": summary,
        "evaluation": measured,
        "metrics": trial_metrics(measured),
    }
    if tests:
        result["tests"] = [{key: test[key] for key in ("eval_env_kwargs", "criteria", "passed")} for test in judged]
        result["passed"] = all(test["passed"] for test in judged)
        if spec.get("first_pass"):
            result["first_pass_steps"] = first_pass(run_dir, tests, spec["first_pass"], summary.get("steps"))
    write_json(run_dir / "trial.json", result)  # atomic: a trial is finished only once its whole record is written
    return result


def judge(target: Path | str, tests: list[dict[str, Any]], episodes: int, seed: int) -> list[dict[str, Any]]:
    """Each test (``{eval_env_kwargs, criteria}``) judged on ``episodes`` deterministic episodes of ``target`` from
    ``seed`` on: its summary, criterion rows and whether every row passed."""
    judged = []
    for test in tests:
        evaluation = evaluate_brain(target, episodes=episodes, seed=seed, env_kwargs=test["eval_env_kwargs"])
        summary = evaluation.summary()["summary"]
        rows = check_criteria(summary, test["criteria"])
        judged.append({"eval_env_kwargs": test["eval_env_kwargs"], "summary": summary, "criteria": rows,
                       "passed": all(row["passed"] for row in rows)})  # fmt: skip
    return judged


def first_pass(run_dir: Path, tests: list[dict[str, Any]], episodes: int, final: int | None) -> int | None:
    """Steps of the run's first checkpoint (its final model, of ``final`` steps, last) that passes every test on
    ``episodes`` validation episodes (never the test seeds), or ``None`` if none does."""
    models = [(n, checkpoint_paths(run_dir / "checkpoints", n).model) for n in checkpoint_steps(run_dir)]
    if final is not None and (not models or final > models[-1][0]):
        models.append((int(final), run_dir / "model.zip"))
    for steps, model in models:
        for test in tests:
            if not judge(model, [test], episodes, VALIDATION_SEED)[0]["passed"]:
                break
        else:
            return steps
    return None


def finish_from_checkpoint(config: TrainConfig, run_dir: Path, checkpoint: Checkpoint) -> None:
    """Finish a run that stopped after its last checkpoint (at ``total_steps``) but before saving: that is the model."""
    copy_file(checkpoint.model, run_dir / "model.zip")
    if checkpoint.vecnormalize.is_file():
        copy_file(checkpoint.vecnormalize, run_dir / "vecnormalize.pkl")
    summary = {"env_id": config.env_id, "algo": config.algo, "seed": config.seed, "steps": checkpoint.steps,
               "seconds": None, "finished_from_checkpoint": str(checkpoint.model), "run_dir": str(run_dir)}  # fmt: skip
    write_json(run_dir / "summary.json", summary)


def _tune_trial(config: dict[str, Any]) -> None:
    tune = ray_tune()
    result = run_trial(config["trial"])
    tune.report({key: value for key, value in result["metrics"].items() if math.isfinite(value)})


def _reporter(print_line: Callable[[str], None]):
    tune = ray_tune()

    class TrialLines(tune.Callback):
        """One line per finished or failed trial, instead of Ray's status tables."""

        def on_trial_complete(self, iteration, trials, trial, **info):
            name = trial.config["trial"]["name"]
            ret = (trial.last_result or {}).get("return")
            print_line(f"trial {name} finished" + (f": return {ret:.1f}" if ret is not None else ""))

        def on_trial_error(self, iteration, trials, trial, **info):
            print_line(f"trial {trial.config['trial']['name']} FAILED (see its error.txt)")

    return TrialLines()


@contextlib.contextmanager
def _ray_output_to(log: Path) -> Iterator[None]:
    """Send Ray's own output to ``log`` while the block runs: Tune's tables and each failed trial's traceback (which
    the trial's ``error.txt`` keeps too) would bury the one line per trial."""
    logger = logging.getLogger("ray")  # Tune logs each failure, with its traceback, through it
    handlers = logger.handlers[:]
    # Tune's newer console output prints its tables and errors whatever the verbosity; the older one, at verbosity
    # 0, prints nothing.
    new_output = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    with open(log, "a") as file:
        logger.handlers = [logging.StreamHandler(file)]
        try:
            yield
        finally:
            logger.handlers = handlers
            if new_output is None:
                del os.environ["RAY_AIR_NEW_OUTPUT"]
            else:
                os.environ["RAY_AIR_NEW_OUTPUT"] = new_output


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    cause = [line for line in text if re.match(r"^\w*(Error|Exception)\b", line.strip())]
    return (cause[-1] if cause else text[-1] if text else type(error).__name__).strip()


@contextlib.contextmanager
def sigterm_stops_tune() -> Iterator[list[bool]]:
    """Within the block, SIGTERM stops a Tune run as Ctrl-C does (Tune's own SIGINT handler: trials stop, the
    experiment's state is saved), not through Ray's fatal-signal handler, which prints a C++ stack; with no Python
    SIGINT handler of Tune's in place it raises :class:`~agents.runs.Terminated`. ``received[0]`` says whether
    SIGTERM came. Outside the main thread, where Python cannot take signals, nothing changes."""
    received = [False]
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def forward(signum: int, frame: Any) -> None:
        received[0] = True
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)
        else:
            raise Terminated

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(
    sweep: Sweep,
    sweep_dir: Path,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    cpus_per_trial: int = 1,
    print_line: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the unfinished trials of ``sweep`` on Ray (a local instance unless ``address``); returns
    ``{"skipped": [...], "finished": [...], "failed": {name: error}, "unfinished": [...]}``. Failed trials do not
    stop the others."""
    ray_tune()  # without Ray Tune: a one-line error naming the extra to install
    if not address and cpus_per_trial > len(os.sched_getaffinity(0)):
        cores = len(os.sched_getaffinity(0))
        raise ConfigError(f"--cpus-per-trial {cpus_per_trial} is more than this machine's {cores} cores")
    sweep_dir = Path(sweep_dir).resolve()
    if holds_run(sweep_dir):
        raise ConfigError(f"{str(sweep_dir)!r} holds a training run, not a sweep; give the sweep another --run-dir")
    with own_run(sweep_dir):  # one sweep at a time in a folder; each trial owns its own run directory
        return _run_owned(sweep, sweep_dir, address, max_concurrent, cpus_per_trial, print_line)


def _run_owned(
    sweep: Sweep,
    sweep_dir: Path,
    address: str | None,
    max_concurrent: int | None,
    cpus_per_trial: int,
    print_line: Callable[[str], None],
) -> dict[str, Any]:
    """:func:`run_sweep` in a sweep directory this process owns."""
    tune = ray_tune()
    import ray  # installed with ray[tune], which ray_tune() found

    saved = sweep_dir / SWEEP_RECORD
    if saved.exists() and read_json(saved, "the record of the sweep this directory ran") != sweep.source:
        raise ConfigError(
            f"{sweep_dir} holds a different sweep (its {SWEEP_RECORD} differs); give another --run-dir or delete it"
        )
    # JSON, not YAML: it reads back exactly as written (a quoted '1e-4' stays a string).
    write_json(saved, sweep.source)
    skipped = [t.name for t in sweep.trials if finished(sweep_dir, t)]
    pending = [t for t in sweep.trials if not finished(sweep_dir, t)]
    for name in skipped:
        print_line(f"trial {name} already finished: skipped")
    failed: dict[str, str] = {}
    if pending:
        specs = [
            {**dataclasses.asdict(t), "run_dir": str(trial_dir(sweep_dir, t)), "episodes": sweep.episodes,
             "threads": cpus_per_trial, "tests": sweep.tests, "first_pass": sweep.first_pass}
            for t in pending
        ]  # fmt: skip
        with _ray_output_to(sweep_dir / RAY_LOG):
            started_here = not ray.is_initialized()
            if started_here:
                env_vars = {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONWARNINGS": "ignore"}
                kwargs: dict[str, Any] = {"address": address}
                if not address:
                    cores = len(os.sched_getaffinity(0))
                    # Sized to this machine's cores; trials pass only small results, so a small object store will do.
                    kwargs = {"num_cpus": cores, "object_store_memory": LOCAL_OBJECT_STORE}
                    # Local workers import `module:EnvId` plug-ins from where the driver runs, as the driver does.
                    paths = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
                    paths = [os.path.abspath(path) for path in paths]
                    env_vars["PYTHONPATH"] = os.pathsep.join(paths)
                try:
                    ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                             runtime_env={"env_vars": env_vars})  # fmt: skip
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    where = f" at {address!r}" if address else ""
                    raise ConfigError(f"cannot start or reach Ray{where}: {_error_line(exc)}") from None
            try:
                tuner = tune.Tuner(
                    tune.with_resources(_tune_trial, {"cpu": cpus_per_trial}),
                    param_space={"trial": tune.grid_search(specs)},
                    tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
                    run_config=tune.RunConfig(
                        name=sweep.name,
                        storage_path=str(sweep_dir / "ray"),
                        failure_config=tune.FailureConfig(max_failures=0),
                        verbose=0,
                        callbacks=[_reporter(print_line)],
                    ),
                )
                with sigterm_stops_tune() as stopped:
                    grid = tuner.fit()
            finally:
                if started_here:
                    ray.shutdown()
        for result in grid:
            spec = (result.config or {}).get("trial")
            if result.error is not None and spec is not None:
                failed[spec["name"]] = _error_line(result.error)
                folder = Path(spec["run_dir"])
                folder.mkdir(parents=True, exist_ok=True)
                write_text(folder / "error.txt", f"{result.error}\n")
    done = [t.name for t in pending if finished(sweep_dir, t)]
    for name, error in failed.items():
        print_line(f"trial {name} failed: {error}")
    # Stopped (Ctrl-C) or lost (a dead worker, a node without the shared sweep directory): neither done nor failed.
    unfinished = [t.name for t in pending if t.name not in done and t.name not in failed]
    for name in unfinished:
        print_line(f"trial {name} did not finish")
    if pending and stopped[0]:
        raise Terminated
    return {"skipped": skipped, "finished": done, "failed": failed, "unfinished": unfinished}
