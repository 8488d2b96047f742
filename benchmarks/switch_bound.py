"""The best switch score any clock brain can get: an ideal follower, footfalls exactly on the clock's schedule.

A new gait takes effect when the clock lets it take over (a jump in flight lands first; a walk becomes a jump at the
start of its cycle), and a switch counts as followed once the gait label of
the trailing 0.5 s names the new gait. This replays the clock task's own schedule (random start phases) through the
same metrics as ``evaluate.py --commands`` and prints the fraction of switches followed within ``--within`` seconds,
overall and per kind of switch, with the latency percentiles: an upper bound for a brain's ``switches_followed``.

    python benchmarks/switch_bound.py                                   # walker2d-gait's test schedule
    python benchmarks/switch_bound.py --body Ant --schedule 'trot:0.5@0,pronk@200,trot:0.5@400' --episodes 50
"""

from __future__ import annotations

import argparse

import numpy as np

from agents.evaluation.ideal import ideal_switch_latencies
from agents.evaluation.metrics import GAIT_LABELS
from agents.evaluation.rollout import env_dt
from envs import env_id
from envs.catalog import BODIES

#: walker2d-gait's test schedule (agents/recipes/recipes.yaml).
GAIT_SCHEDULE = "walk:1.0@0,jump@250,walk:0.7@500,jump@750"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--body", default="Walker2d", choices=sorted(BODIES))
    parser.add_argument("--schedule", default=GAIT_SCHEDULE)
    parser.add_argument("--episodes", type=int, default=200, help="random start phases")
    parser.add_argument("--within", type=float, default=1.0, help="seconds a switch may take to count as followed")
    args = parser.parse_args()
    spec = BODIES[args.body]
    dt = env_dt(env_id(args.body, "clock"))
    result = ideal_switch_latencies(spec, dt, args.schedule, episodes=args.episodes, within=args.within)
    print(f"{args.body}, schedule {args.schedule!r}, {args.episodes} start phases, followed within {args.within} s:")
    rows = [("all", result["latencies"], result["followed"])]
    rows += [(kind, r["latencies"], r["followed"]) for kind, r in result["by_kind"].items()]
    print(f"{'switch':<14}{'n':>6}{'followed':>10}{'p10':>8}{'p50':>8}{'p90':>8}{'never':>7}")
    for kind, latencies, followed in rows:
        values = np.asarray(latencies, dtype=np.float64)
        p10, p50, p90 = np.nanpercentile(values, [10, 50, 90]) if np.isfinite(values).any() else [np.nan] * 3
        never = int(np.isnan(values).sum())
        print(f"{kind:<14}{values.size:>6}{followed:>10.3f}{p10:>8.2f}{p50:>8.2f}{p90:>8.2f}{never:>7}")
    unnamed = sorted({g for kind in result["by_kind"] for g in kind.split("->")} - set(GAIT_LABELS))
    if unnamed:
        print(f"never followed by name: {', '.join(unnamed)} (the gait labels are {', '.join(GAIT_LABELS)})")


if __name__ == "__main__":
    main()
