"""Figures of gaits: the footfall (gait) diagram over the centre-of-mass height."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from agents.evaluation import metrics as gait
from agents.runs import atomic_path

#: Image formats a gait diagram is saved in (matplotlib picks the format by the extension).
DIAGRAM_SUFFIXES = (".png", ".svg", ".pdf")


def gait_diagram(
    contacts: np.ndarray,
    com_height: np.ndarray,
    standing_com_height: float,
    dt: float,
    foot_labels: tuple[str, ...],
    path: Path,
    title: str = "",
) -> Path:
    """Save the classic gait diagram (a bar per foot while it is on the floor) above the COM height trace.

    Flight phases (every foot off the floor, see :func:`agents.evaluation.metrics.flight_phases`) are shaded in both
    panels.
    """
    contacts = np.asarray(contacts, dtype=bool)
    steps, n_feet = contacts.shape
    time = np.arange(steps) * dt
    # A bare Figure draws with Agg and needs no pyplot backend (nothing global changes).
    fig = Figure(figsize=(10, 2.0 + 0.45 * n_feet))
    feet_ax, com_ax = fig.subplots(2, 1, sharex=True, height_ratios=[max(n_feet, 2), 3])
    for foot in range(n_feet):
        bars = [(a * dt, (b - a) * dt) for a, b in gait.runs(contacts[:, foot])]
        feet_ax.broken_barh(bars, (foot - 0.4, 0.8), color="0.2")
    feet_ax.set_yticks(range(n_feet), foot_labels)
    feet_ax.set_ylim(-0.6, n_feet - 0.4)
    feet_ax.invert_yaxis()
    feet_ax.set_ylabel("stance")
    com_ax.plot(time, com_height, color="tab:blue", lw=1.2, label="COM height")
    com_ax.axhline(standing_com_height, color="0.5", ls="--", lw=0.8, label="standing")
    for a, b in gait.flight_phases(contacts):
        for ax in (feet_ax, com_ax):
            ax.axvspan(a * dt, b * dt, color="tab:red", alpha=0.2, lw=0)
    com_ax.set_xlabel("time (s)")
    com_ax.set_ylabel("COM height (m)")
    com_ax.legend(loc="upper right", fontsize="small")
    if title:
        feet_ax.set_title(title + "   (red: flight, all feet off)")
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, dpi=110)
    return Path(path)
