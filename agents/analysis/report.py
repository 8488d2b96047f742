"""The brain view's whole report: record a brain, analyse it, lesion and perturb it, and write the figures.

Writes PNG figures, ``report.json`` and a side-by-side video (body | top principal components and footfalls).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from agents.analysis import figures, perturb
from agents.analysis.population import commanded_gait, decoding, pca, population, tuning
from agents.analysis.recording import load_recording, record, save_recording
from agents.constants import VALIDATION_SEED
from agents.evaluation.rollout import evaluate_brain
from agents.runs import write_json, write_text


def analyse(
    target: str,
    out: Path,
    *,
    episodes: int = 3,
    steps: int = 1000,
    seed: int = VALIDATION_SEED,
    lesion_fractions: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5),
    push_impulses: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0),
    push_step: int = 300,
    noise_levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2),
    delay_levels: tuple[int, ...] = (0, 1, 2, 4),
    video_steps: int = 300,
) -> dict[str, Any]:
    """Record ``target`` (a brain, or an ``.npz`` recording), analyse it and write figures and ``report.json`` into
    ``out``, made only once the target has been read (or recorded)."""
    rng = np.random.default_rng(seed)
    model = brain = None
    if target.endswith(".npz"):
        rec = load_recording(target)
        out.mkdir(parents=True, exist_ok=True)
        name = str(rec.get("target", ""))
    else:
        recorded = evaluate_brain(target, episodes=episodes, seed=seed, max_episode_steps=steps)
        brain, model = recorded.brain, recorded.model
        rec = record(model, recorded.episodes)
        out.mkdir(parents=True, exist_ok=True)
        save_recording(out / "recording.npz", rec, target=target, env_id=brain.config.env_id)
        name = target
    hidden = population(rec)
    phase = np.asarray(rec["gait_phase"])[:, 0] if rec["gait_phase"].shape[1] else np.full(len(hidden), np.nan)
    pca_model, proj = pca(hidden)
    tuned = tuning(hidden, phase)
    decoded = decoding(rec, hidden, rng)
    figures.figure_population(rec, pca_model, proj, phase, out / "population.png")
    figures.figure_tuning(tuned, out / "tuning.png")
    figures.figure_decoding(decoded, out / "decoding.png")
    commanded = commanded_gait(rec)
    if commanded is not None and proj.shape[1] >= 3 and "commanded_jump" in decoded:
        figures.figure_commands(proj, commanded, decoded["commanded_jump"], out / "commands.png")
    labels, counts = np.unique(np.asarray(rec["gait_label"]), return_counts=True)
    report: dict[str, Any] = {
        "target": name,
        "cell": str(rec.get("cell", "lstm")),  # recordings made before other cells were LSTMs
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
        lesions = perturb.lesion_sweep(model, brain, tuned["strength"], lesion_fractions, episodes, steps, sweep_seed)
        pushes = perturb.push_sweep(model, brain, push_impulses, push_step, episodes, steps, sweep_seed)
        noise = perturb.sense_sweep(model, brain, "obs_noise", noise_levels, episodes, steps, sweep_seed)
        delay = perturb.sense_sweep(model, brain, "obs_delay", delay_levels, episodes, steps, sweep_seed)
        metrics = ["falls", "forward_speed", "alternation", "flight_phases_per_1000"]
        figures.figure_sweep(
            lesions, "fraction", "selection", metrics, out / "lesions.png", "fraction of units silenced"
        )
        figures.figure_sweep(pushes, "impulse", "kind", ["recovery_rate", "recovery_time", *metrics[:2]],
                     out / "push.png", "push impulse (N s, forward)")  # fmt: skip
        figures.figure_sweep(noise + delay, "added", "kind", ["survival_rate", *metrics[1:]], out / "senses.png",
                     "added sensor noise (std) / delay (steps)")  # fmt: skip
        report.update(lesions=lesions, perturbations={"push": pushes, "obs_noise": noise, "obs_delay": delay})
        if video_steps > 0:
            figures.side_by_side_video(model, brain, pca_model, out / "brain_and_body.mp4", video_steps, seed)
    write_json(out / "report.json", report)
    return report


@contextlib.contextmanager
def logged_warnings(log: Path) -> Iterator[list[warnings.WarningMessage]]:
    """Collect the warnings raised in the block (NumPy's over constant or empty data, scikit-learn's; each once per
    place) instead of printing them, and write them to ``log`` at its end if its folder exists by then."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield caught
        finally:
            if caught and log.parent.is_dir():
                write_text(log, "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
                                        for w in caught))  # fmt: skip
