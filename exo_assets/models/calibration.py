"""Temperature scaling of class probabilities (Guo et al. 2017), fit on out-of-fold predictions.

p_T = softmax(log p / T): T > 1 softens over-confident probabilities, T < 1 sharpens. T is found by
minimising the multiclass log-loss on OOF rows (bounded scalar search), so it never raises the
OOF log-loss above that of T = 1.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

EPS = 1e-12


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities (n, k) by a temperature; rows still sum to 1."""
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of integer labels y under probabilities (n, k)."""
    p = np.clip(np.asarray(proba, dtype=np.float64)[np.arange(len(y)), np.asarray(y, dtype=int)], EPS, 1.0)
    return float(-np.mean(np.log(p)))


def fit_temperature(proba: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """Temperature minimising log-loss of `proba` on labels `y`; 1.0 when that is not better."""
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: log_loss(y, apply_temperature(proba, np.exp(log_t))),
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-4},
    )
    best = float(np.exp(res.x))
    return best if log_loss(y, apply_temperature(proba, best)) <= log_loss(y, proba) else 1.0
