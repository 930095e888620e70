"""Box least squares (astropy): the epoch of a signal with a period but no epoch (K2), and a narrow
periodogram around the catalog period (power, SDE, best period and epoch offset)."""

from __future__ import annotations

import warnings

import numpy as np

from exo_assets.science.views import phase_fold


def _bls_power(time, flux, dy, periods, durations, oversample=10):
    from astropy.timeseries import BoxLeastSquares

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bls = BoxLeastSquares(time, flux, dy)
        return bls.power(periods, durations, objective="likelihood", method="fast", oversample=oversample)


def estimate_epoch_bls(time: np.ndarray, flux: np.ndarray, period: float,
                       duration: float | None = None) -> tuple[float, float, float]:
    """Mid-transit time for a signal whose catalog has a period but no epoch (K2).

    Box least squares (astropy) at a nearly fixed period (+- a quarter of a duration of drift over
    the data span) and a few trial durations around `duration` (or 1-12 h when unknown).

    Args:
        time: days (BKJD/BTJD); flux: detrended relative flux; period, duration: days.
    Returns:
        (t0, duration, power): the mid-transit time nearest the middle of the data (days), the best
        trial duration (days) and the BLS log-likelihood power at the peak.
    Raises:
        ValueError: invalid period or fewer than 10 finite points.
    """
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(flux)
    time, flux = time[ok], flux[ok]
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be finite and positive, got {period!r}")
    if time.size < 10:
        raise ValueError(f"need at least 10 finite points, got {time.size}")
    if duration is not None and np.isfinite(duration) and 0 < duration < period:
        durations = np.array([0.5, 0.75, 1.0, 1.25, 1.5, 2.0]) * duration
    else:
        durations = np.geomspace(1.0 / 24, 0.5, 8)
    durations = durations[durations < 0.5 * period]
    if durations.size == 0:
        durations = np.array([0.1 * period])
    span = max(float(time.max() - time.min()), period)
    dp = 0.25 * float(durations.min()) * period / span
    periods = period + np.linspace(-dp, dp, 5)
    res = _bls_power(time, flux, None, periods, durations, oversample=20)
    i = int(np.argmax(res.power))
    p_best, t_best = float(res.period[i]), float(res.transit_time[i])
    mid = 0.5 * (time.min() + time.max())
    t0 = t_best + p_best * round((mid - t_best) / p_best)
    return float(t0), float(res.duration[i]), float(res.power[i])


def measure_bls(time, flux, err, phase, P, t0, D, config, out, reasons):
    """Narrow astropy BoxLeastSquares periodogram around the catalog period.

    `phase` (days from the transit, possibly the refined epoch) selects the cadences; `t0` is the
    catalog epoch the reported offset refers to.
    """
    cols = ["bls_power", "bls_sde", "bls_period_ratio", "bls_t0_offset_days"]
    span = float(time.max() - time.min())
    if span <= 0:
        for c in cols:
            out[c] = float("nan")
            reasons[c] = "zero time span"
        return
    width = P * D / max(span, P)  # period shift that moves the last transit by one duration
    half = min(config.bls_period_frac * P, config.bls_peak_widths * width)
    periods = P + np.linspace(-half, half, config.bls_periods)
    durations = np.asarray(config.bls_duration_factors) * D
    durations = durations[durations < 0.9 * periods.min()]
    if durations.size == 0:
        for c in cols:
            out[c] = float("nan")
            reasons[c] = "trial durations not shorter than the period"
        return
    # Trial periods move the transits by at most `half * span / P` days: keep cadences near the
    # transit phase (the rest carries no signal at any trial period).
    reach = half * span / P + durations.max() + D
    sel = np.abs(phase) < reach if reach < 0.3 * P else np.ones(time.size, dtype=bool)
    dy = err[sel] if np.all(np.isfinite(err[sel])) and np.all(err[sel] > 0) else None
    try:
        res = _bls_power(time[sel], flux[sel], dy, periods, durations)
    except Exception as exc:  # noqa: BLE001
        for c in cols:
            out[c] = float("nan")
            reasons[c] = f"BLS failed ({type(exc).__name__}: {exc})"
        return
    power = np.asarray(res.power, dtype=float)
    i = int(np.nanargmax(power))
    std = float(np.nanstd(power))
    out["bls_power"] = float(power[i])
    if std > 0:
        out["bls_sde"] = (float(power[i]) - float(np.nanmean(power))) / std
    else:
        out["bls_sde"] = float("nan")
        reasons["bls_sde"] = "flat periodogram"
    p_best = float(res.period[i])
    out["bls_period_ratio"] = p_best / P
    tt = float(res.transit_time[i])
    out["bls_t0_offset_days"] = float(phase_fold(np.array([tt]), p_best, t0)[0])
