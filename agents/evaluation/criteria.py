"""Criteria: what a brain's evaluation summary must show for the brain to be called what it is.

A criterion is data, ``{metric: {min: x, max: y, equals: z, of: mean|min|max}}``, judged on the summary of
:func:`agents.evaluation.rollout.summarize`; a per-foot metric is judged for every foot.
"""

from __future__ import annotations

import math
from typing import Any

from agents.config import CRITERION_STATISTICS as STATISTICS
from agents.config import ConfigError
from agents.evaluation.rollout import Episode, summarize


def _value(summary: dict[str, Any], metric: str, of: str = "mean") -> Any:
    if metric not in summary:
        raise ConfigError(f"unknown metric {metric!r} in criteria; valid: {', '.join(summary)}")
    if of not in STATISTICS:
        raise ConfigError(f"criterion on {metric!r}: of={of!r} is not valid; choose from: {', '.join(STATISTICS)}")
    value = summary[metric]
    if isinstance(value, dict) and "mean" in value:
        return value[of]
    if isinstance(value, dict):
        return {foot: stats[of] for foot, stats in value.items()}
    return value


def check_criteria(summary: dict[str, Any], criteria: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per criterion (per foot for per-foot metrics): metric, value, rule, passed."""
    rows = []
    for metric, rule in criteria.items():
        value = _value(summary, metric, rule.get("of", "mean"))
        values = value if isinstance(value, dict) else {None: value}
        for foot, v in values.items():
            ok = True
            if "equals" in rule:
                ok = v == rule["equals"]
            if "min" in rule:
                ok = ok and isinstance(v, (int, float)) and not math.isnan(v) and v >= rule["min"]
            if "max" in rule:
                ok = ok and isinstance(v, (int, float)) and not math.isnan(v) and v <= rule["max"]
            name = metric if foot is None else f"{metric} ({foot})"
            rows.append({"metric": name, "value": v, "rule": rule, "passed": bool(ok)})
    return rows


def criteria_met(episodes: list[Episode], criteria: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """How many of ``episodes`` meet ``criteria`` each on its own (stricter than a mean over episodes), and how many
    criteria they meet in all (each episode judged on its own)."""
    rows = [check_criteria(summarize([e])["summary"], criteria) for e in episodes]
    return sum(all(r["passed"] for r in ep) for ep in rows), sum(r["passed"] for ep in rows for r in ep)
