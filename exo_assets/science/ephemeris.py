"""Ephemerides of a star's signals: catalog values, or a BLS epoch where the catalog has none (K2)."""

from __future__ import annotations

import numpy as np
import pandas as pd

EPHEMERIS_COLUMNS = ["signal_id", "star_id", "period_days", "epoch", "duration_days", "epoch_source"]


def bls_epoch(time: np.ndarray, flux: np.ndarray, period_days: float, duration_days: float,
              oversample: int = 10) -> tuple[float, float]:
    """Mid-transit time (days, same system as `time`) of the deepest box at a fixed period.

    Uses astropy's BoxLeastSquares evaluated at the single catalog period over durations of
    0.5-1.5x the catalog duration. Returns (epoch, depth in relative flux); NaN if the data
    cannot constrain it (fewer than two cycles' worth of phase coverage is still attempted).
    """
    from astropy.timeseries import BoxLeastSquares

    ok = np.isfinite(time) & np.isfinite(flux)
    if ok.sum() < 50 or not np.isfinite(period_days) or period_days <= 0:
        return float("nan"), float("nan")
    dur = duration_days if np.isfinite(duration_days) and duration_days > 0 else 0.1
    durations = np.clip(dur * np.array([0.5, 0.75, 1.0, 1.25, 1.5]), 1e-3, 0.45 * period_days)
    model = BoxLeastSquares(time[ok], flux[ok])
    result = model.power(np.array([period_days]), durations, oversample=oversample, objective="snr")
    epoch = float(result.transit_time[0])
    # Express the epoch as the first transit at or after the start of the data.
    epoch = epoch - np.floor((epoch - time[ok].min()) / period_days) * period_days
    return epoch, float(result.depth[0])


def star_ephemerides(signals: pd.DataFrame) -> pd.DataFrame:
    """The catalog ephemerides of one star's signals (`EPHEMERIS_COLUMNS`, epoch_source 'catalog' or 'none')."""
    eph = signals[["signal_id", "star_id", "period_days", "epoch", "duration_days"]].copy()
    eph["epoch_source"] = np.where(np.isfinite(eph["epoch"].to_numpy(float)), "catalog", "none")
    return eph.reset_index(drop=True)
