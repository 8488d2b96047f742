"""Population analyses of recorded hidden states: principal components, phase tuning and decoders.

PCA and the cross-validated decoders are scikit-learn's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from envs.tasks.gait import GAITS

PHASE_BINS = 20
#: Folds of the (unshuffled, contiguous) cross-validation of the decoders.
FOLDS = 5


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
