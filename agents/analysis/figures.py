"""Figures of the brain view, and the side-by-side video of body and hidden state.

Figures are bare matplotlib ``Figure`` objects drawn with Agg: no pyplot, no global backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from agents.analysis.population import PHASE_BINS, phase_bins
from agents.brains.store import Brain
from agents.evaluation import video
from agents.evaluation.rollout import env_dt, evaluate_brain
from agents.runs import atomic_path
from envs.tasks.gait import GAITS


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as partial:
        fig.savefig(partial, dpi=110)


def figure_population(rec, model: PCA, proj: np.ndarray, phase: np.ndarray, path: Path) -> None:
    fig = Figure(figsize=(11, 4.5))
    ax_var, ax_traj = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    ratios = model.explained_variance_ratio_[:10]
    ax_var.bar(np.arange(1, len(ratios) + 1), ratios, color="0.4")
    ax_var.plot(np.arange(1, len(ratios) + 1), np.cumsum(ratios), "o-", color="C3", label="cumulative")
    ax_var.set_xlabel("principal component")
    ax_var.set_ylabel("variance explained")
    ax_var.legend()
    valid = ~np.isnan(phase)
    ax_traj.plot(proj[:, 0], proj[:, 1], color="0.85", lw=0.6, zorder=1)
    points = ax_traj.scatter(proj[valid, 0], proj[valid, 1], c=phase[valid], cmap="twilight", s=4, zorder=2)
    fig.colorbar(points, ax=ax_traj, label=f"gait phase ({rec['foot_labels'][0]} foot, 0 = touchdown)")
    index = phase_bins(phase)
    if (index >= 0).sum() > PHASE_BINS:
        cycle = np.array([proj[index == b, :2].mean(axis=0) for b in range(PHASE_BINS) if (index == b).any()])
        cycle = np.vstack([cycle, cycle[:1]])
        ax_traj.plot(cycle[:, 0], cycle[:, 1], color="k", lw=2.5, zorder=3, label="phase-averaged cycle")
        ax_traj.legend(loc="best")
    ax_traj.set_xlabel("PC 1")
    ax_traj.set_ylabel("PC 2")
    ax_traj.set_title("hidden-state trajectory")
    fig.tight_layout()
    _save(fig, path)


def figure_commands(proj: np.ndarray, commanded: np.ndarray, decoded: dict[str, float], path: Path) -> None:
    """The hidden-state trajectory on PCs 1-2 and 1-3, coloured by the commanded gait."""
    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    for ax, (i, j) in zip(axes, ((0, 1), (0, 2)), strict=True):
        ax.plot(proj[:, i], proj[:, j], color="0.85", lw=0.5, zorder=1)
        for index, name in enumerate(GAITS):
            mask = commanded == index
            ax.scatter(proj[mask, i], proj[mask, j], s=4, color=f"C{index}", label=f"{name} commanded", zorder=2)
        ax.set_xlabel(f"PC {i + 1}")
        ax.set_ylabel(f"PC {j + 1}")
    axes[0].legend(loc="best", markerscale=3)
    fig.suptitle(
        f"commanded gait decoded from hidden states: accuracy {decoded['accuracy']:.2f} "
        f"(shuffled {decoded['shuffled_accuracy']:.2f}, majority {decoded['majority']:.2f})"
    )
    fig.tight_layout()
    _save(fig, path)


def figure_tuning(tuned: dict[str, np.ndarray], path: Path) -> None:
    curves = tuned["curves"]
    if np.isnan(curves).all():
        fig = Figure(figsize=(6, 2))
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no complete gait cycle recorded: no tuning curves", ha="center", va="center")
        ax.set_axis_off()
        _save(fig, path)
        return
    order = np.lexsort((-tuned["strength"], tuned["preferred_phase"]))
    z = (curves - np.nanmean(curves, axis=0)) / (np.nanstd(curves, axis=0) + 1e-9)
    fig = Figure(figsize=(10, 5))
    ax_map, ax_strength = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    image = ax_map.imshow(z[:, order].T, aspect="auto", cmap="RdBu_r", extent=(0, 1, len(order), 0), vmin=-2, vmax=2)
    fig.colorbar(image, ax=ax_map, label="activity (z-scored per unit)")
    ax_map.set_xlabel("gait phase")
    ax_map.set_ylabel("unit (sorted by preferred phase)")
    ax_strength.hist(tuned["strength"], bins=20, color="0.4")
    ax_strength.set_xlabel("tuning strength (variance explained by phase)")
    ax_strength.set_ylabel("units")
    fig.tight_layout()
    _save(fig, path)


def figure_decoding(decoded: dict[str, Any], path: Path) -> None:
    names = list(decoded)
    scores = [d.get("r2", d.get("accuracy")) for d in decoded.values()]
    controls = [d.get("shuffled_r2", d.get("shuffled_accuracy")) for d in decoded.values()]
    x = np.arange(len(names))
    fig = Figure(figsize=(max(6, 1.4 * len(names)), 4))
    ax = fig.subplots()
    ax.bar(x - 0.2, scores, 0.4, label="decoder", color="C0")
    ax.bar(x + 0.2, controls, 0.4, label="shuffled labels", color="0.7")
    ax.set_xticks(x, [n.replace("_", "\n", 1) for n in names], fontsize=8)
    ax.set_ylabel("R^2 (velocity) / accuracy (contact)")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def figure_sweep(rows: list[dict[str, Any]], x_key: str, groups: str, metrics: list[str], path: Path, xlabel: str):
    fig = Figure(figsize=(3.6 * len(metrics), 3.4))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name in dict.fromkeys(r[groups] for r in rows):
            series = [r for r in rows if r[groups] == name]
            ax.plot([r[x_key] for r in series], [r[metric] for r in series], "o-", label=name)
        ax.set_xlabel(xlabel)
        ax.set_title(metric.replace("_", " "), fontsize=10)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def side_by_side_video(
    model: Any, brain: Brain, pca_model: PCA, path: Path, steps: int, seed: int, trace_seconds: float = 2.0
) -> Path:
    """Film the body beside a live trace of the top three principal components of the hidden state, with the
    footfalls under it."""
    every = video.frame_stride(1.0 / env_dt(brain.config.env_id, brain.config.env_kwargs))
    ep = evaluate_brain(brain, model=model, episodes=1, seed=seed, render=True, max_episode_steps=steps,
                        frame_every=every).episodes[0]  # fmt: skip
    proj = pca_model.transform(ep.lstm_hidden[:, -1, :])[:, :3]
    span = max(2, round(trace_seconds / ep.dt))
    dpi = 80
    fig = Figure(figsize=(video.FRAME_WIDTH / dpi, video.FRAME_HEIGHT / dpi), dpi=dpi)
    ax_pc, ax_feet = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    lines = [ax_pc.plot([], [], label=f"PC {i + 1}")[0] for i in range(proj.shape[1])]
    ax_pc.set_ylim(proj.min() * 1.1, proj.max() * 1.1)
    ax_pc.set_xlim(-trace_seconds, 0)
    ax_pc.legend(loc="upper left", fontsize=8)
    ax_pc.set_title("hidden state (top principal components)", fontsize=10)
    n_feet = ep.foot_contacts.shape[1]
    feet = ax_feet.imshow(np.zeros((n_feet, span)), aspect="auto", cmap="Greys", vmin=0, vmax=1,
                          extent=(-trace_seconds, 0, n_feet - 0.5, -0.5))  # fmt: skip
    ax_feet.set_yticks(range(n_feet), list(ep.foot_labels), fontsize=8)
    ax_feet.set_xlabel("time (s)")
    fig.tight_layout()
    canvas = FigureCanvasAgg(fig)
    frames = []
    for i, frame in enumerate(ep.frames):
        t = i * ep.frame_every  # the frame shows the state after t steps
        lo = max(0, t - span)
        times = (np.arange(lo, t) - t) * ep.dt
        for pc, line in enumerate(lines):
            line.set_data(times, proj[lo:t, pc])
        window = np.zeros((n_feet, span))
        if t > lo:
            window[:, span - (t - lo) :] = ep.foot_contacts[lo:t].T
        feet.set_data(window)
        canvas.draw()
        panel = np.asarray(canvas.buffer_rgba())[..., :3]
        frames.append(np.hstack([frame, panel[: frame.shape[0], : frame.shape[1]]]))
    return video.write_mp4(path, frames, 1.0 / (ep.dt * ep.frame_every))
