"""The brain view: population dynamics, unit tuning, decoding, lesions and perturbations of a trained brain.

    python -m agents.analysis walker2d-walk --out analysis/walk         # a bundled brain, a run dir or a .zip
    python -m agents.analysis recording.npz --out analysis/rec          # recorded analyses only (no lesions)

Writes PNG figures, ``report.json`` and a side-by-side video (body | top principal components and footfalls) into
``--out``. PCA and the cross-validated decoders are scikit-learn's; figures are matplotlib's.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from agents import evaluation, gait, neural
from agents.cli import OneLineParser
from agents.config import ConfigError
from agents.training import RunError
from envs.tasks.gait import GAITS

#: Bins of the gait phase for tuning curves and the phase-averaged (limit-cycle) trajectory.
PHASE_BINS = 20
#: Folds of the (unshuffled, contiguous) cross-validation of the decoders.
FOLDS = 5


# -- population and units ----------------------------------------------------------------------------------------


def population(rec: dict[str, Any], layer: int = -1) -> np.ndarray:
    """``(N, units)`` actor hidden states of one LSTM layer (the top one by default)."""
    return np.asarray(rec["actor_hidden"], dtype=np.float64)[:, layer, :]


def pca(hidden: np.ndarray) -> tuple[PCA, np.ndarray]:
    """PCA of hidden states with every component kept (explained variance ratios sum to 1) and the projections."""
    model = PCA(n_components=min(hidden.shape)).fit(hidden)
    return model, model.transform(hidden)


def phase_bins(phase: np.ndarray, bins: int = PHASE_BINS) -> np.ndarray:
    """Bin index of each step's phase (``-1`` where the phase is NaN)."""
    index = np.full(len(phase), -1)
    valid = ~np.isnan(phase)
    index[valid] = np.minimum((phase[valid] * bins).astype(int), bins - 1)
    return index


def tuning(hidden: np.ndarray, phase: np.ndarray, bins: int = PHASE_BINS) -> dict[str, np.ndarray]:
    """Each unit's mean activity per phase bin, its preferred phase, and its tuning strength: the fraction of its
    variance that the phase bins explain (eta squared; 0 = untuned, 1 = a pure function of phase)."""
    index = phase_bins(phase, bins)
    valid = index >= 0
    units = hidden.shape[1]
    curves = np.full((bins, units), np.nan)
    for b in range(bins):
        if (index == b).any():
            curves[b] = hidden[index == b].mean(axis=0)
    data = hidden[valid]
    total = data.var(axis=0) * len(data)
    between = np.zeros(units)
    for b in range(bins):
        members = index[valid] == b
        if members.any():
            between += members.sum() * (curves[b] - data.mean(axis=0)) ** 2
    strength = np.divide(between, total, out=np.zeros(units), where=total > 1e-12)
    preferred = (np.nanargmax(np.nan_to_num(curves, nan=-np.inf), axis=0) + 0.5) / bins
    return {"curves": curves, "preferred_phase": preferred, "strength": strength}


# -- decoding ----------------------------------------------------------------------------------------------------


def _folds(n: int) -> KFold:
    return KFold(n_splits=min(FOLDS, max(2, n // 20)), shuffle=False)


def decode_continuous(hidden: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Cross-validated R^2 of a ridge decoder of ``target`` from hidden states, and of the same decoder trained on
    a shuffled target (the chance level)."""
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    folds = _folds(len(target))
    score = cross_val_score(model, hidden, target, cv=folds, scoring="r2").mean()
    control = cross_val_score(model, hidden, rng.permutation(target), cv=folds, scoring="r2").mean()
    return {"r2": float(score), "shuffled_r2": float(control)}


def decode_binary(hidden: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Cross-validated accuracy of a logistic decoder of a binary ``target``, of a shuffled-label control, and the
    majority-class rate. NaN when only one class occurs."""
    target = np.asarray(target).astype(int)
    majority = float(max(target.mean(), 1 - target.mean()))
    rarest = int(min(target.sum(), len(target) - target.sum()))
    if rarest < 2:
        return {"accuracy": math.nan, "shuffled_accuracy": math.nan, "majority": majority}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    # Stratified without shuffling: each fold keeps both classes and stays made of contiguous stretches of time.
    folds = StratifiedKFold(n_splits=min(FOLDS, rarest), shuffle=False)
    score = cross_val_score(model, hidden, target, cv=folds, scoring="accuracy").mean()
    control = cross_val_score(model, hidden, rng.permutation(target), cv=folds, scoring="accuracy").mean()
    return {"accuracy": float(score), "shuffled_accuracy": float(control), "majority": majority}


def commanded_gait(rec: dict[str, Any]) -> np.ndarray | None:
    """Index into ``GAITS`` of the gait commanded at each step of a gait brain's recording; ``None`` for others."""
    command = np.asarray(rec.get("command", np.zeros((0, 0))))
    if command.ndim != 2 or command.shape[1] <= len(GAITS) or not len(command):
        return None
    one_hot = command[:, : len(GAITS)]
    if not np.array_equal(one_hot.sum(axis=1), np.ones(len(command))):
        return None
    return one_hot.argmax(axis=1)


def decoding(rec: dict[str, Any], hidden: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Decoders of centre-of-mass velocity (forward and vertical), of each foot's contact and, for a gait brain, of
    the commanded gait (``commanded_jump``: jump rather than walk)."""
    velocity = np.asarray(rec["com_velocity"])
    result: dict[str, Any] = {
        "com_velocity_forward": decode_continuous(hidden, velocity[:, 0], rng),
        "com_velocity_vertical": decode_continuous(hidden, velocity[:, 2], rng),
    }
    for foot, label in enumerate(rec["foot_labels"]):
        result[f"contact_{label}"] = decode_binary(hidden, rec["foot_contacts"][:, foot], rng)
    commanded = commanded_gait(rec)
    if commanded is not None:
        result["commanded_jump"] = decode_binary(hidden, commanded == GAITS.index("jump"), rng)
    return result


# -- figures -----------------------------------------------------------------------------------------------------


def figure_population(rec, model: PCA, proj: np.ndarray, phase: np.ndarray, path: Path) -> None:
    fig, (ax_var, ax_traj) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.6]})
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_commands(proj: np.ndarray, commanded: np.ndarray, decoded: dict[str, float], path: Path) -> None:
    """The hidden-state trajectory on PCs 1-2 and 1-3, coloured by the commanded gait."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_tuning(tuned: dict[str, np.ndarray], path: Path) -> None:
    curves = tuned["curves"]
    if np.isnan(curves).all():
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no complete gait cycle recorded: no tuning curves", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    order = np.lexsort((-tuned["strength"], tuned["preferred_phase"]))
    z = (curves - np.nanmean(curves, axis=0)) / (np.nanstd(curves, axis=0) + 1e-9)
    fig, (ax_map, ax_strength) = plt.subplots(1, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [2, 1]})
    image = ax_map.imshow(z[:, order].T, aspect="auto", cmap="RdBu_r", extent=(0, 1, len(order), 0), vmin=-2, vmax=2)
    fig.colorbar(image, ax=ax_map, label="activity (z-scored per unit)")
    ax_map.set_xlabel("gait phase")
    ax_map.set_ylabel("unit (sorted by preferred phase)")
    ax_strength.hist(tuned["strength"], bins=20, color="0.4")
    ax_strength.set_xlabel("tuning strength (variance explained by phase)")
    ax_strength.set_ylabel("units")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_decoding(decoded: dict[str, Any], path: Path) -> None:
    names = list(decoded)
    scores = [d.get("r2", d.get("accuracy")) for d in decoded.values()]
    controls = [d.get("shuffled_r2", d.get("shuffled_accuracy")) for d in decoded.values()]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4))
    ax.bar(x - 0.2, scores, 0.4, label="decoder", color="C0")
    ax.bar(x + 0.2, controls, 0.4, label="shuffled labels", color="0.7")
    ax.set_xticks(x, [n.replace("_", "\n", 1) for n in names], fontsize=8)
    ax.set_ylabel("R^2 (velocity) / accuracy (contact)")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_sweep(rows: list[dict[str, Any]], x_key: str, groups: str, metrics: list[str], path: Path, xlabel: str):
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name in dict.fromkeys(r[groups] for r in rows):
            series = [r for r in rows if r[groups] == name]
            ax.plot([r[x_key] for r in series], [r[metric] for r in series], "o-", label=name)
        ax.set_xlabel(xlabel)
        ax.set_title(metric.replace("_", " "), fontsize=10)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- lesions and perturbations -----------------------------------------------------------------------------------


def _summary(episodes: list[evaluation.Episode]) -> dict[str, Any]:
    summary = evaluation.summarize(episodes)["summary"]

    def mean(key: str) -> float:
        value = summary.get(key, math.nan)
        return value["mean"] if isinstance(value, dict) else float(value)

    return {
        "falls": int(summary["fell"]),
        "forward_speed": mean("forward_speed"),
        "alternation": mean("alternation"),
        "flight_phases_per_1000": mean("flight_phases_per_1000"),
        "return": mean("return"),
        "gait": summary.get("gait", ""),
    }


def lesion_sweep(model, brain, strength: np.ndarray, fractions, episodes: int, steps: int, seed: int) -> list:
    """Gait metrics with ``fractions`` of the units silenced, chosen at random and most-tuned first."""
    venv = evaluation.make_env(brain, max_episode_steps=steps)
    rng = np.random.default_rng(seed)
    rows = []
    measured: dict[tuple[int, ...], dict[str, Any]] = {}  # the same units silenced (none, at 0%) run once
    for selection in ("random", "most tuned"):
        for fraction in fractions:
            units = (
                neural.random_units(len(strength), fraction, rng)
                if selection == "random"
                else neural.most_tuned(strength, fraction)
            )
            key = tuple(int(u) for u in units)
            if key not in measured:
                with neural.lesion(model, units):
                    measured[key] = _summary([evaluation.rollout(model, venv, seed=seed + i) for i in range(episodes)])
            rows.append({"selection": selection, "fraction": fraction, "units": len(units), **measured[key]})
    venv.close()
    return rows


def push_sweep(model, brain, impulses, at_step: int, episodes: int, steps: int, seed: int) -> list:
    """Recovery from a push at ``at_step``: falls, and the time from the push's end to the end of the first
    ``neural.LABEL_WINDOW``-second window after it whose gait label is the unpushed one (at least one window)."""
    venv = evaluation.make_env(brain, max_episode_steps=steps)
    baseline = [evaluation.rollout(model, venv, seed=seed + i) for i in range(episodes)]
    unpushed = [ep.metrics()["gait"] for ep in baseline]
    rows = []
    for impulse in impulses:
        push = neural.Push(at_step, impulse)
        times, recovered = [], 0
        # A zero push changes nothing (tested), so it is the baseline itself.
        eps = baseline if impulse == 0 else [
            evaluation.rollout(model, venv, seed=seed + i, before_step=push) for i in range(episodes)
        ]  # fmt: skip
        for ep, label in zip(eps, unpushed, strict=True):
            labels = gait.windowed_labels(ep.foot_contacts, ep.com_position, ep.dt)
            # Judged only on windows that start after the push: recovery takes at least one window.
            end = push.steps(ep.dt)[-1] + 1
            window = round(neural.LABEL_WINDOW / ep.dt)
            time = neural.LABEL_WINDOW + neural.recovery_time(labels, label, end + window - 1, ep.dt)
            time = math.nan if ep.fell else time
            recovered += not math.isnan(time)
            times.append(time)
        finite = [t for t in times if not math.isnan(t)]
        rows.append({
            "kind": "push", "impulse": impulse, "recovery_rate": recovered / len(baseline),
            "recovery_time": float(np.mean(finite)) if finite else math.nan, **_summary(eps),
        })  # fmt: skip
    venv.close()
    return rows


def sense_sweep(model, brain, key: str, levels, episodes: int, steps: int, seed: int) -> list:
    """Gait metrics with more sensor noise (``obs_noise``) or a longer sensory delay (``obs_delay``)."""
    rows = []
    base = brain.config.env_kwargs.get(key, 0)
    for level in levels:
        venv = evaluation.make_env(brain, {key: base + level}, max_episode_steps=steps)
        eps = [evaluation.rollout(model, venv, seed=seed + i) for i in range(episodes)]
        venv.close()
        summary = _summary(eps)
        rows.append({"kind": key, "added": level, "survival_rate": 1 - summary["falls"] / episodes, **summary})
    return rows


# -- side-by-side video ------------------------------------------------------------------------------------------


def side_by_side_video(model, brain, pca_model: PCA, path: Path, steps: int, seed: int, trace_seconds: float = 2.0):
    """Film the body beside a live trace of the top three principal components of the hidden state, with the
    footfalls under it."""
    from agents import video

    size = {"width": video.FRAME_WIDTH, "height": video.FRAME_HEIGHT}
    venv = evaluation.make_env(brain, size, render_mode="rgb_array", max_episode_steps=steps)
    video.use_tracking_camera(evaluation.single_env(venv))
    ep = evaluation.rollout(model, venv, seed=seed, render=True)
    venv.close()
    proj = pca_model.transform(ep.lstm_hidden[:, -1, :])[:, :3]
    span = max(2, round(trace_seconds / ep.dt))
    dpi = 80
    fig, (ax_pc, ax_feet) = plt.subplots(
        2, 1, figsize=(video.FRAME_WIDTH / dpi, video.FRAME_HEIGHT / dpi), dpi=dpi,
        gridspec_kw={"height_ratios": [3, 1]}, sharex=True,
    )  # fmt: skip
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
    canvas = fig.canvas
    frames = []
    for t, frame in enumerate(ep.frames):
        lo = max(0, t - span)
        times = (np.arange(lo, t) - t) * ep.dt
        for i, line in enumerate(lines):
            line.set_data(times, proj[lo:t, i])
        window = np.zeros((n_feet, span))
        if t > lo:
            window[:, span - (t - lo) :] = ep.foot_contacts[lo:t].T
        feet.set_data(window)
        canvas.draw()
        panel = np.asarray(canvas.buffer_rgba())[..., :3]
        frames.append(np.hstack([frame, panel[: frame.shape[0], : frame.shape[1]]]))
    plt.close(fig)
    return video.write_mp4(path, frames, 1.0 / ep.dt)


# -- the whole report --------------------------------------------------------------------------------------------


def analyse(
    target: str,
    out: Path,
    *,
    episodes: int = 3,
    steps: int = 1000,
    seed: int = 200_000,
    lesion_fractions: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5),
    push_impulses: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0),
    push_step: int = 300,
    noise_levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2),
    delay_levels: tuple[int, ...] = (0, 1, 2, 4),
    video_steps: int = 300,
) -> dict[str, Any]:
    """Record ``target`` (a brain, or an ``.npz`` recording), analyse it and write figures and ``report.json``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    model = brain = None
    if target.endswith(".npz"):
        rec = neural.load_recording(target)
        name = str(rec.get("target", ""))
    else:
        brain = evaluation.find_brain(target)
        model = evaluation.load_model(brain)
        venv = evaluation.make_env(brain, max_episode_steps=steps)
        eps = [evaluation.rollout(model, venv, seed=seed + i) for i in range(episodes)]
        venv.close()
        rec = neural.record(model, eps)
        neural.save_recording(out / "recording.npz", rec, target=target, env_id=brain.config.env_id)
        name = target
    hidden = population(rec)
    phase = np.asarray(rec["gait_phase"])[:, 0] if rec["gait_phase"].shape[1] else np.full(len(hidden), np.nan)
    pca_model, proj = pca(hidden)
    tuned = tuning(hidden, phase)
    decoded = decoding(rec, hidden, rng)
    figure_population(rec, pca_model, proj, phase, out / "population.png")
    figure_tuning(tuned, out / "tuning.png")
    figure_decoding(decoded, out / "decoding.png")
    commanded = commanded_gait(rec)
    if commanded is not None and proj.shape[1] >= 3 and "commanded_jump" in decoded:
        figure_commands(proj, commanded, decoded["commanded_jump"], out / "commands.png")
    labels, counts = np.unique(np.asarray(rec["gait_label"]), return_counts=True)
    report: dict[str, Any] = {
        "target": name,
        "steps_recorded": len(hidden),
        "units": hidden.shape[1],
        "gait_labels": {str(k): int(v) for k, v in zip(labels, counts, strict=True) if k},
        "pca": {
            "explained_variance_ratio": pca_model.explained_variance_ratio_.tolist(),
            "components_for_90_percent": int(np.searchsorted(np.cumsum(pca_model.explained_variance_ratio_), 0.9) + 1),
        },
        "tuning": {
            "strength": tuned["strength"].tolist(),
            "preferred_phase": tuned["preferred_phase"].tolist(),
            "units_with_strength_over_0.5": int((tuned["strength"] > 0.5).sum()),
        },
        "decoding": decoded,
    }
    if model is not None:
        sweep_seed = seed + 1000
        lesions = lesion_sweep(model, brain, tuned["strength"], lesion_fractions, episodes, steps, sweep_seed)
        pushes = push_sweep(model, brain, push_impulses, push_step, episodes, steps, sweep_seed)
        noise = sense_sweep(model, brain, "obs_noise", noise_levels, episodes, steps, sweep_seed)
        delay = sense_sweep(model, brain, "obs_delay", delay_levels, episodes, steps, sweep_seed)
        metrics = ["falls", "forward_speed", "alternation", "flight_phases_per_1000"]
        figure_sweep(lesions, "fraction", "selection", metrics, out / "lesions.png", "fraction of units silenced")
        figure_sweep(pushes, "impulse", "kind", ["recovery_rate", "recovery_time", *metrics[:2]],
                     out / "push.png", "push impulse (N s, forward)")  # fmt: skip
        figure_sweep(noise + delay, "added", "kind", ["survival_rate", *metrics[1:]], out / "senses.png",
                     "added sensor noise (std) / delay (steps)")  # fmt: skip
        report.update(lesions=lesions, perturbations={"push": pushes, "obs_noise": noise, "obs_delay": delay})
        if video_steps > 0:
            side_by_side_video(model, brain, pca_model, out / "brain_and_body.mp4", video_steps, seed)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    return report


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0,0.1,0.5, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m agents.analysis", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("target", help="bundled brain name, run directory, model .zip, or a --record .npz")
    parser.add_argument("--out", type=Path, required=True, help="folder for figures, report.json and the video")
    parser.add_argument("--episodes", type=int, default=3, help="episodes per condition (default 3)")
    parser.add_argument("--steps", type=int, default=1000, help="steps per episode (default 1000)")
    parser.add_argument("--seed", type=int, default=200_000, help="first episode seed (default 200000)")
    parser.add_argument("--lesions", type=_floats, default=(0.0, 0.1, 0.25, 0.5), help="fractions of units")
    parser.add_argument("--pushes", type=_floats, default=(0.0, 5.0, 10.0, 20.0), help="impulses (N s)")
    parser.add_argument("--push-step", type=int, default=300, help="env step of the push (default 300)")
    parser.add_argument("--noise", type=_floats, default=(0.0, 0.05, 0.1, 0.2), help="added obs noise std")
    parser.add_argument("--delays", type=_floats, default=(0, 1, 2, 4), help="added sensory delays (steps)")
    parser.add_argument("--video-steps", type=int, default=300, help="length of the side-by-side video (0: none)")
    args = parser.parse_args(argv)
    for flag in ("episodes", "steps"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    if any(not 0 <= f <= 1 for f in args.lesions):
        parser.error(f"--lesions are fractions in [0, 1], got {args.lesions}")
    if any(d < 0 or d != int(d) for d in args.delays):
        parser.error(f"--delays are whole numbers of steps >= 0, got {args.delays}")
    if args.target.endswith(".npz") and not Path(args.target).is_file():
        parser.error(f"recording {args.target!r} does not exist")
    try:
        report = analyse(
            args.target, args.out, episodes=args.episodes, steps=args.steps, seed=args.seed,
            lesion_fractions=args.lesions, push_impulses=args.pushes, push_step=args.push_step,
            noise_levels=args.noise, delay_levels=tuple(int(d) for d in args.delays), video_steps=args.video_steps,
        )  # fmt: skip
    except (ConfigError, RunError, ValueError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        return 130
    pca_ratios = report["pca"]["explained_variance_ratio"]
    needed = report["pca"]["components_for_90_percent"]
    print(f"{report['target']}: {report['steps_recorded']} steps, {report['units']} units; "
          f"PC1-3 explain {sum(pca_ratios[:3]):.0%}; {needed} PCs for 90%")  # fmt: skip
    for key, value in report["decoding"].items():
        score = value.get("r2", value.get("accuracy"))
        control = value.get("shuffled_r2", value.get("shuffled_accuracy"))
        print(f"  decode {key}: {score:.2f} (shuffled {control:.2f})")
    print(f"wrote {args.out}/report.json and figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
