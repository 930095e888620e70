"""Centroid test: does the flux-weighted centroid move during transit? (difference of means,
Bryson et al. 2013).

Kepler and TESS light-curve files carry the flux-weighted centroid of the aperture (`MOM_CENTR1`
column, `MOM_CENTR2` row, pixels). When the transit is on a star offset from the target by d pixels,
the centroid moves during transit by about -depth x d (depth as a fraction; Bryson et al. 2013,
PASP 125, 889, eq. 1 in the limit of small depth and a well-captured source), so the source
offset is about |shift| / depth.

`centroid_test` measures, per axis, the mean in-transit centroid (|t - T_n| < T14 / 2 around each
event) minus the mean of the local out-of-transit baseline (T14 < |t - T_n| < 2.5 T14) of the
same event (so slow drift cancels event by event), averaged over events. Pointing jitter and drift
make centroid noise strongly correlated, so the significance is not taken from the per-cadence
scatter: the same measurement is repeated at `n_null` phases away from the transit (and from its
phase-0.5 secondary), and the observed shift is compared with that empirical distribution
(model-shift style): per axis z = shift / robust std of the null shifts, the 2-D significance
sqrt(z_col^2 + z_row^2) and the empirical p-value (fraction of null phases with a 2-D statistic at
least as large). All times in days (BKJD / BTJD).
"""

from __future__ import annotations

import numpy as np

#: Out-of-transit baseline ring around each event, in units of T14: [INNER, OUTER).
BASELINE_INNER, BASELINE_OUTER = 1.0, 2.5


def event_shift(
    time: np.ndarray,
    values: np.ndarray,
    period: float,
    t0: float,
    duration: float,
    outer: float = BASELINE_OUTER,
) -> float:
    """Per event: mean in-transit value minus the mean of its own baseline ring (removes slow drift);
    averaged over the events that have both, weighted by their in-transit counts (NaN if none)."""
    rel = (time - t0) / period
    n = np.floor(rel + 0.5).astype(np.int64)
    dt = np.abs((rel - n) * period)
    fin = np.isfinite(values)
    inside = fin & (dt < 0.5 * duration)
    ring = fin & (dt >= BASELINE_INNER * duration) & (dt < outer * duration)
    if inside.sum() < 2:
        return float("nan")
    n0 = n.min()
    idx = n - n0
    k = int(idx.max()) + 1
    c_in = np.bincount(idx[inside], minlength=k)
    c_ring = np.bincount(idx[ring], minlength=k)
    s_in = np.bincount(idx[inside], weights=values[inside], minlength=k)
    s_ring = np.bincount(idx[ring], weights=values[ring], minlength=k)
    use = (c_in > 0) & (c_ring >= 2)
    if not use.any():
        return float("nan")
    diff = s_in[use] / c_in[use] - s_ring[use] / c_ring[use]
    return float(np.sum(diff * c_in[use]) / np.sum(c_in[use]))


def ring_outer(period: float, duration: float) -> float:
    """Outer edge of the baseline ring (T14 units): BASELINE_OUTER, shrunk to 1.5 for short periods."""
    return float(np.clip(0.25 * period / duration - 0.5, 1.5, BASELINE_OUTER))


def null_phases(period: float, duration: float, n: int) -> np.ndarray:
    """Up to n phase offsets (cycles) whose windows (with their rings) avoid the transit window and,
    where the period leaves room, the phase-0.5 secondary's."""
    guard = (ring_outer(period, duration) + 0.5) * duration / period
    cand = np.linspace(0.0, 1.0, max(4 * n, 8), endpoint=False)
    away = np.minimum(cand, 1 - cand) > guard
    keep = cand[away & (np.abs(cand - 0.5) > guard)]
    if keep.size < 8:
        keep = cand[away]
    if keep.size > n:
        keep = keep[np.linspace(0, keep.size - 1, n).round().astype(int)]
    return keep


def _robust_std(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 3:
        return float("nan")
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def centroid_test(
    time,
    col,
    row,
    period: float,
    t0: float,
    duration: float,
    depth_ppm: float | None = None,
    n_null: int = 99,
) -> dict:
    """In- minus out-of-transit centroid shift (pixels) and its significance against off-transit phases.

    Args:
        time: days (BKJD/BTJD); col, row: MOM_CENTR1 / MOM_CENTR2 (pixels; NaN allowed).
        period, t0, duration: the signal's ephemeris (days).
        depth_ppm: transit depth, for the implied source offset |shift| / depth (pixels).
        n_null: off-transit phases for the empirical noise distribution (fewer for long durations).

    Returns:
        dict: shift_col_pix, shift_row_pix, shift_pix (2-D), sigma_col_pix / sigma_row_pix (robust std
        of the null shifts), significance (2-D z), p_value (empirical, >= 1 / (n + 1)), n_null,
        source_offset_pix (NaN without a depth), status ('ok' or why not measurable).
    """
    time = np.asarray(time, float)
    out: dict[str, float | int | str] = {
        k: float("nan")
        for k in (
            "shift_col_pix",
            "shift_row_pix",
            "shift_pix",
            "sigma_col_pix",
            "sigma_row_pix",
            "significance",
            "p_value",
            "source_offset_pix",
        )
    }
    out.update(n_null=0, status="ok")
    if not (np.isfinite(period) and period > 0 and np.isfinite(duration) and 0 < duration < period):
        out["status"] = "bad ephemeris"
        return out
    resid = [np.asarray(c, float) for c in (col, row)]
    outer = ring_outer(period, duration)
    shifts = np.array([event_shift(time, r, period, t0, duration, outer) for r in resid])
    phases = null_phases(period, duration, n_null)
    null = np.array(
        [[event_shift(time, r, period, t0 + ph * period, duration, outer) for r in resid] for ph in phases]
    )
    null = null[np.isfinite(null).all(axis=1)] if null.size else np.zeros((0, 2))
    if not np.isfinite(shifts).all():
        out["status"] = "too few in-transit or baseline centroids"
        return out
    shift_pix = float(np.hypot(*shifts))
    out.update(
        shift_col_pix=float(shifts[0]),
        shift_row_pix=float(shifts[1]),
        shift_pix=shift_pix,
        n_null=len(null),
    )
    if len(null) < 8:
        out["status"] = f"only {len(null)} off-transit phases measurable"
        return out
    sig = np.array([_robust_std(null[:, 0]), _robust_std(null[:, 1])])
    sig = np.where(sig > 0, sig, np.nan)
    z = float(np.hypot(*(shifts / sig)))
    z_null = np.hypot(*((null - np.median(null, axis=0)) / sig).T)
    out.update(
        sigma_col_pix=float(sig[0]),
        sigma_row_pix=float(sig[1]),
        significance=z,
        p_value=float((1 + np.sum(z_null >= z)) / (1 + len(z_null))),
    )
    if depth_ppm is not None and np.isfinite(depth_ppm) and depth_ppm > 0:
        out["source_offset_pix"] = shift_pix / (depth_ppm * 1e-6)
    return out
