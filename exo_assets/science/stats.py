"""Robust statistics shared by the cleaning, the views, the diagnostics and the view features
(Dagster-free)."""

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


def time_averaging_beta(
    time: np.ndarray,
    resid: np.ndarray,
    timescale_days: float,
    factors: tuple[float, ...] = (0.8, 1.0, 1.25),
    min_bins: int = 8,
) -> float:
    """Red-noise (time-averaging) factor beta of a residual curve at `timescale_days` (>= 1; NaN if
    unmeasurable).

    Pont, Zucker & Queloz (2006); Winn et al. (2008): the residuals are averaged in bins of about
    `timescale_days`; for white noise the mean of a bin of n cadences scatters by sigma_1 / sqrt(n).
    beta is the observed scatter of the bin means over that expectation, i.e. the robust standard
    deviation of z_b = (mean_b - median) sqrt(n_b) / sigma_1, averaged over bin widths `factors` x the
    timescale (Winn et al. average over 0.8-1.2 x the ingress / transit time). Robust (MAD) scatters keep
    outliers and flares from inflating it; bins with fewer than half the typical count (gaps) are dropped.
    A white-noise significance computed with sigma_1 / sqrt(n) is divided by beta to account for
    correlated noise on that timescale.

    Args:
        time: days; resid: out-of-transit residual flux (relative, any offset), same length.
        timescale_days: the window the significance averages over (e.g. the transit duration T14).
        factors: bin widths as multiples of the timescale; min_bins: fewest usable bins per width.
    """
    t = np.asarray(time, dtype=np.float64)
    r = np.asarray(resid, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(r)
    t, r = t[ok], r[ok]
    sigma1 = robust_std(r)
    if not (timescale_days > 0 and t.size >= 2 * min_bins and sigma1 > 0):
        return float("nan")
    betas = []
    for f in factors:
        width = f * timescale_days
        idx = np.floor((t - t.min()) / width).astype(np.int64)
        n = np.bincount(idx).astype(float)
        s = np.bincount(idx, r - np.median(r))
        used = n >= max(2.0, 0.5 * float(np.median(n[n > 0])))
        if used.sum() < min_bins:
            continue
        z = s[used] / n[used] * np.sqrt(n[used]) / sigma1
        betas.append(robust_std(z))
    if not betas:
        return float("nan")
    return max(1.0, float(np.mean(betas)))
