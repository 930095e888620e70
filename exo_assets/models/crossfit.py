"""Cross-fitted checks of choices made on out-of-fold predictions (temperature, blend weight).

A temperature or blend weight fitted on OOF rows and scored on the same rows cannot look worse than
doing nothing: the search includes "nothing" (T = 1, alpha = 0). To test whether a choice helps on
stars it was not fitted on, the OOF rows are split into two star-disjoint halves (a stable hash of the
star id), the choice is fitted on one half and applied to the other, and both ways are pooled. The
cross-fitted log-loss is then compared with the reference stage's by the paired per-row difference
and its standard error. Used by the `calibrated_booster` and `blend` asset checks.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exo_assets.models.calibration import EPS, apply_temperature, fit_temperature


def star_halves(star_ids) -> np.ndarray:
    """Boolean mask of the first half: stars whose CRC-32 of the id is even (stable across runs)."""
    return np.array([zlib.crc32(str(s).encode()) % 2 == 0 for s in star_ids], dtype=bool)


def row_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row negative log-likelihood of integer labels under (n, k) probabilities."""
    y = np.asarray(y, dtype=int)
    return -np.log(np.clip(np.asarray(proba, dtype=np.float64)[np.arange(len(y)), y], EPS, 1.0))


def crossfit(
    fit: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]], halves: np.ndarray, n_rows: int, k: int
) -> np.ndarray:
    """Probabilities where each half's rows come from the rule fitted on the other half.

    Args:
        fit: `fit(train_mask) -> apply(rows_mask) -> (rows, k) probabilities`.
        halves: boolean mask of the first half (`star_halves`).
    """
    out = np.full((n_rows, k), np.nan)
    for part in (halves, ~halves):
        if part.any() and (~part).any():
            out[part] = fit(~part)(part)
    return out


def crossfit_temperature(proba_raw: np.ndarray, y: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """Temperature-scaled probabilities, each half scaled by the temperature fitted on the other."""
    p, y = np.asarray(proba_raw, dtype=np.float64), np.asarray(y, dtype=int)

    def fit(train):
        t = fit_temperature(p[train], y[train])
        return lambda rows: apply_temperature(p[rows], t)

    return crossfit(fit, halves, len(y), p.shape[1])


@dataclass(frozen=True)
class Comparison:
    """Cross-fitted log-loss of a stage against a reference stage on the same rows.

    Attributes:
        n: rows compared; log_loss_ref, log_loss_new: mean log-losses (nats);
        gain: log_loss_ref - log_loss_new (positive = the new stage is better); gain_se: its standard error.
        tolerance_se: how many standard errors of harm are tolerated as noise.
    """

    n: int
    log_loss_ref: float
    log_loss_new: float
    gain: float
    gain_se: float
    tolerance_se: float

    @property
    def passed(self) -> bool:
        """No harm beyond noise: gain >= -tolerance_se x SE (and finite figures)."""
        return bool(
            self.n > 0 and math.isfinite(self.gain) and self.gain >= -self.tolerance_se * self.gain_se
        )

    def metadata(self) -> dict:
        return {
            "rows": self.n,
            "log_loss_reference": self.log_loss_ref,
            "log_loss_crossfitted": self.log_loss_new,
            "gain": self.gain,
            "gain_se": self.gain_se,
            "tolerance_se": self.tolerance_se,
        }


#: Fewer rows than this in either star half: a cross-fitted figure is too noisy to judge a choice by.
MIN_ROWS_PER_HALF = 40


def enough_rows(halves: np.ndarray, min_rows: int = MIN_ROWS_PER_HALF) -> bool:
    """True when both star halves have at least `min_rows` rows."""
    return bool(halves.sum() >= min_rows and (~halves).sum() >= min_rows)


def compare(y: np.ndarray, p_ref: np.ndarray, p_new: np.ndarray, tolerance_se: float = 1.0) -> Comparison:
    """Paired comparison of two probability sets on the rows where both are finite."""
    ok = np.isfinite(p_ref).all(axis=1) & np.isfinite(p_new).all(axis=1)
    y = np.asarray(y, dtype=int)[ok]
    ref, new = row_losses(y, np.asarray(p_ref)[ok]), row_losses(y, np.asarray(p_new)[ok])
    gain = ref - new
    n = int(len(gain))
    se = float(gain.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    return Comparison(
        n,
        float(ref.mean()) if n else float("nan"),
        float(new.mean()) if n else float("nan"),
        float(gain.mean()) if n else float("nan"),
        se,
        tolerance_se,
    )
