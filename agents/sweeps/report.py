"""Sweep reports: per setting, the mean and 95% confidence interval across seeds, curves, and a preset entry."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from matplotlib.figure import Figure
from scipy.special import stdtrit

from agents.config import ConfigError, load_presets
from agents.runs import atomic_path, write_json, write_text
from agents.sweeps.spec import SWEEP_RECORD, Sweep, finished, parse_sweep, trial_dir

#: Scalar gait metrics (means over a trial's evaluation episodes) that the report aggregates across seeds.
REPORT_METRICS = (
    "return",
    "fell_fraction",
    "forward_speed",
    "ground_contact_fraction",
    "duty_factor_gap",
    "alternation",
    "flight_phases_per_1000",
    "mean_apex_rise",
    "horizontal_drift",
    "torso_pitch",
)


#: Confidence level of the intervals in reports.
CONFIDENCE = 0.95


def trial_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics a report aggregates, from an evaluation summary (means over its episodes)."""
    metrics: dict[str, float] = {}
    for key in REPORT_METRICS:
        if key == "fell_fraction":
            metrics[key] = summary["fell"] / summary["episodes"]
        elif isinstance(summary.get(key), dict) and "mean" in summary[key]:
            metrics[key] = float(summary[key]["mean"])
    return metrics


def is_sweep_dir(path: Path) -> bool:
    """Whether ``path`` is a sweep's directory: it holds a ``sweep.json`` (a run directory never does)."""
    return (Path(path) / SWEEP_RECORD).exists()


def read_json(path: Path, what: str) -> Any:
    """The JSON data of ``path`` (``what`` it holds, for the error); a damaged file is a one-line ``ConfigError``."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{str(path)!r} ({what}) is not valid JSON: {exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}") from None  # fmt: skip
    except UnicodeDecodeError:
        raise ConfigError(f"{str(path)!r} ({what}) is not valid JSON: it is not text") from None
    except IsADirectoryError:
        raise ConfigError(f"{str(path)!r} ({what}) is a folder, not a JSON file") from None


def load_record(sweep_dir: Path) -> Sweep:
    """The sweep a sweep directory ran, from its ``sweep.json``."""
    record = Path(sweep_dir) / SWEEP_RECORD
    return parse_sweep(read_json(record, "the record of the sweep this directory ran"), str(record))


def interval(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean (NaN half-width for one value)."""
    data = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    if data.size == 1:
        return float(data[0]), math.nan
    sem = float(np.std(data, ddof=1)) / math.sqrt(data.size)
    # stdtrit is the t quantile that scipy.stats.t.ppf computes, without loading scipy.stats (60 MB, ~1 s).
    return float(data.mean()), float(stdtrit(data.size - 1, 0.5 + confidence / 2) * sem)


def _cell(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.3g}" if math.isnan(half) else f"{mean:.3g} ± {half:.2g}"


def aggregate(sweep_dir: Path, sweep: Sweep | None = None) -> dict[str, Any]:
    """Per setting, mean and 95% CI across seeds of the return and gait metrics; failed or unfinished trials are
    listed, not counted. ``sweep`` is the directory's record, read from it when not given."""
    sweep_dir = Path(sweep_dir)
    if not is_sweep_dir(sweep_dir):
        raise ConfigError(f"{str(sweep_dir)!r} is not a sweep directory (no {SWEEP_RECORD})")
    sweep = sweep or load_record(sweep_dir)
    settings: dict[str, dict[str, Any]] = {}
    for label, overrides in sweep.settings.items():
        trials = [t for t in sweep.trials if t.setting == label]
        results = [read_json(trial_dir(sweep_dir, t) / "trial.json", f"trial {t.name}'s result") for t in trials
                   if finished(sweep_dir, t)]  # fmt: skip
        missing = [t.name for t in trials if not finished(sweep_dir, t)]
        failed = [name for name in missing if (sweep_dir / "trials" / name / "error.txt").is_file()]
        stats = {key: interval([r["metrics"].get(key, math.nan) for r in results]) for key in REPORT_METRICS}
        gaits: dict[str, int] = {}
        for r in results:
            gaits[r["evaluation"]["gait"]] = gaits.get(r["evaluation"]["gait"], 0) + 1
        settings[label] = {
            "overrides": overrides,
            "seeds": [r["seed"] for r in results],
            "missing": missing,
            "failed": failed,
            "metrics": {key: {"mean": m, "ci95": h} for key, (m, h) in stats.items()},
            "gaits": gaits,
        }
    scored = [(label, s["metrics"]["return"]["mean"]) for label, s in settings.items() if s["seeds"]]
    best = max(scored, key=lambda item: item[1])[0] if scored else None
    fixed = dict(sweep.source.get("settings") or {}) | (
        {"total_steps": sweep.source["steps"]} if "steps" in sweep.source else {}
    )
    return {"name": sweep.name, "env_id": sweep.env_id, "algo": sweep.algo, "fixed": fixed, "settings": settings,
            "best": best}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table: one row per setting, mean ± 95% CI half-width across seeds."""
    rows = report["settings"].values()
    shown = [k for k in REPORT_METRICS if any(not math.isnan(s["metrics"][k]["mean"]) for s in rows)]
    lines = [
        f"Sweep `{report['name']}`: {report['env_id']}, {report['algo']}; mean ± {CONFIDENCE:.0%} CI across seeds.",
        "",
        "| setting | seeds | " + " | ".join(shown) + " | gait |",
        "|---|---|" + "---|" * len(shown) + "---|",
    ]
    for label, s in report["settings"].items():
        cells = [_cell(s["metrics"][k]["mean"], s["metrics"][k]["ci95"]) for k in shown]
        gaits = ", ".join(f"{g} {n}" for g, n in sorted(s["gaits"].items())) or "-"
        failed, unfinished = len(s["failed"]), len(s["missing"]) - len(s["failed"])
        notes = [f"{failed} failed"] * bool(failed) + [f"{unfinished} unfinished"] * bool(unfinished)
        seeds = f"{len(s['seeds'])}" + (f" ({', '.join(notes)})" if notes else "")
        mark = " **(best)**" if label == report["best"] else ""
        lines.append(f"| `{label}`{mark} | {seeds} | " + " | ".join(cells) + f" | {gaits} |")
    return "\n".join(lines) + "\n"


def learning_curves(sweep: Sweep, sweep_dir: Path, report: dict[str, Any], out: Path) -> Path | None:
    """Mean evaluation return against env steps per setting, shaded by the 95% CI across seeds."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    drawn = False
    for label in report["settings"]:
        curves = []
        for trial in (t for t in sweep.trials if t.setting == label):
            log = trial_dir(sweep_dir, trial) / "eval" / "evaluations.npz"
            if finished(sweep_dir, trial) and log.is_file():
                with np.load(log) as data:
                    curves.append((data["timesteps"], data["results"].mean(axis=1)))
        if not curves:
            continue
        # Only the evaluation steps every seed has (a resumed run may have evaluated at other steps).
        steps = curves[0][0]
        for other, _ in curves[1:]:
            steps = np.intersect1d(steps, other)
        if not len(steps):
            continue
        at = [dict(zip(c[0].tolist(), c[1].tolist(), strict=True)) for c in curves]
        stats = [interval([float(values[step]) for values in at]) for step in steps.tolist()]
        mean = np.array([m for m, _ in stats])
        half = np.nan_to_num(np.array([h for _, h in stats]))
        ax.plot(steps, mean, label=f"{label} (n={len(curves)})")
        ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{report['name']}: mean and {CONFIDENCE:.0%} CI across seeds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as partial:
        fig.savefig(partial, dpi=100)
    return out


def write_report(sweep_dir: Path, report: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``report.md``, ``report.json`` and ``curves.png`` into the sweep directory; returns the report (``report``
    if given, as :func:`aggregate` made it)."""
    sweep_dir = Path(sweep_dir)
    sweep = load_record(sweep_dir) if is_sweep_dir(sweep_dir) else None
    report = report or aggregate(sweep_dir, sweep)
    write_text(sweep_dir / "report.md", markdown(report))
    write_json(sweep_dir / "report.json", report)
    curves = learning_curves(sweep, sweep_dir, report, sweep_dir / "curves.png")
    report["files"] = [str(sweep_dir / "report.md"), str(sweep_dir / "report.json")] + ([str(curves)] if curves else [])
    return report


def preset_block(report: dict[str, Any]) -> str:
    """The best setting as a presets.yaml entry for the sweep's env id and algo."""
    if report["best"] is None:
        raise ConfigError(f"sweep {report['name']!r} has no finished trial to take a best setting from")
    best = report["settings"][report["best"]]
    nested: dict[str, Any] = {}
    for key, value in best["overrides"].items():
        head, _, tail = key.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    ret = best["metrics"]["return"]
    body = yaml.safe_dump({report["env_id"]: {report["algo"]: nested}}, sort_keys=False, default_flow_style=False)
    fixed = f"; the sweep also fixed {json.dumps(report['fixed'])}" if report.get("fixed") else ""
    return (
        f"\n# Best setting of sweep {report['name']} (return {_cell(ret['mean'], ret['ci95'])} over "
        f"{len(best['seeds'])} seeds{fixed}).\n{body}"
    )


def check_preset(report: dict[str, Any], presets: Path) -> None:
    """Raise ``ConfigError`` unless the best setting can be appended to ``presets``: a YAML mapping with no entry for
    the sweep's env id yet (a second would shadow the first), and a sweep with a finished trial."""
    try:
        entries = load_presets(presets)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"presets file {str(presets)!r} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"presets file {str(presets)!r} is not valid YAML: it is not text") from None
    if report["env_id"] in entries:
        raise ConfigError(
            f"{presets} already has an entry for {report['env_id']!r}; merge the best setting by hand: "
            + json.dumps(report["settings"][report["best"]]["overrides"] if report["best"] else {})
        )
    if report["best"] is None:
        raise ConfigError(f"sweep {report['name']!r} has no finished trial to take a best setting from")


def write_preset(report: dict[str, Any], presets: Path) -> str:
    """Append the best setting to ``presets`` as an entry for the sweep's exact env id (later entries win)."""
    check_preset(report, presets)
    block = preset_block(report)
    write_text(presets, Path(presets).read_text() + block)
    return block
