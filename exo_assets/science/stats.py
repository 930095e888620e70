"""Robust statistics shared by the cleaning, the views, the diagnostics and the view features (Dagster-free)."""

from __future__ import annotations

import numpy as np

#: Gaussian-consistent sigma per unit of median absolute deviation (1 / Phi^-1(3/4)).
MAD_TO_SIGMA = 1.4826


def robust_std(values: np.ndarray) -> float:
    """MAD_TO_SIGMA x median absolute deviation of the finite values (NaN when there is none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))


def nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Row-wise median ignoring NaN (NaN for an all-NaN row); one sort, faster than np.nanmedian."""
    srt = np.sort(np.asarray(values, dtype=np.float64), axis=1)  # NaN sort last
    k = np.isfinite(srt).sum(axis=1)
    lo = np.clip((k - 1) // 2, 0, None)[:, None]
    hi = np.clip(k // 2, 0, srt.shape[1] - 1)[:, None]
    med = 0.5 * (np.take_along_axis(srt, lo, 1)[:, 0] + np.take_along_axis(srt, hi, 1)[:, 0])
    return np.where(k > 0, med, np.nan)


def masked_rows(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """`values` (n, bins) restricted to `mask`: a 1-D mask selects columns, a 2-D one NaNs the rest."""
    v = np.asarray(values, dtype=np.float64)
    if mask is None:
        return v
    if np.ndim(mask) == 1:
        return v[:, np.asarray(mask, bool)]
    return np.where(mask, v, np.nan)


def robust_std_rows(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Row-wise `robust_std` of `values` (n, bins) over the bins where `mask` is True (see `masked_rows`).

    Rows without a usable bin get NaN.
    """
    sub = masked_rows(values, mask)
    if sub.shape[1] == 0:
        return np.full(sub.shape[0], np.nan)
    med = nanmedian_rows(sub)
    return MAD_TO_SIGMA * nanmedian_rows(np.abs(sub - med[:, None]))
