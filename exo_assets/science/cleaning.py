"""Light-curve cleaning: quality mask, NaN removal, normalisation, transit-masked detrending, upper clipping.

The detrending is wotan's time-windowed biweight (Hippke et al. 2019), the field's standard robust
filter, with every known transit of the star masked (bridged, see `fill_masked`) so the trend never
eats a transit. Outlier
clipping is upper-only (transits and eclipses are dips and must survive).

All times are days in the mission's time system (BKJD or BTJD); fluxes leave normalised to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exo_assets.science.lightcurves import LightCurveData, LightCurveError

def default_bitmask(mission: str) -> int:
    """lightkurve's default quality bitmask for the mission."""
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    if mission == "TESS":
        return int(TessQualityFlags.DEFAULT_BITMASK)
    return int(KeplerQualityFlags.DEFAULT_BITMASK)


@dataclass(frozen=True)
class CleaningConfig:
    """Knobs of `clean_light_curve`.

    Attributes:
        window_factor: biweight window as a multiple of the longest transit duration of the star.
        min_window_days: lower bound of the biweight window, days.
        max_window_days: upper bound of the biweight window, days.
        default_window_days: window when no duration is known, days.
        mask_factor: transits are masked over mask_factor x duration (centred), so 1.5 covers T14
            with margin for ephemeris error.
        sigma_upper: upper clipping threshold in robust standard deviations (MAD x 1.4826).
        min_points: fewer usable cadences than this is a failure.
        trend_step_days: wotan `step`: evaluate the trend every this many days and interpolate
            (0 evaluates at every cadence).
    """

    window_factor: float = 3.0
    min_window_days: float = 0.5
    max_window_days: float = 3.0
    default_window_days: float = 1.0
    mask_factor: float = 1.5
    sigma_upper: float = 4.0
    min_points: int = 100
    trend_step_days: float = 0.0


@dataclass
class CleanedCurve:
    """A cleaned, detrended light curve.

    Attributes:
        star_id, mission: as in `LightCurveData`.
        time: float64 days (BKJD/BTJD), sorted, unique.
        flux: float64 detrended relative flux (out-of-transit level 1.0).
        flux_err: float64 relative uncertainty.
        segment: int32 quarter / campaign / sector per cadence.
        stats: counts of cadences removed at each step and the detrending window (days).
    """

    star_id: str
    mission: str
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    segment: np.ndarray
    stats: dict


def robust_std(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation of the finite values (a Gaussian-consistent sigma)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def transit_mask(time: np.ndarray, ephemerides, mask_factor: float = 1.5) -> np.ndarray:
    """True for cadences within mask_factor x duration/2 of any transit centre.

    Args:
        time: days (mission time).
        ephemerides: iterable of (period_days, epoch, duration_days); rows with a non-finite
            value are ignored (nothing can be masked for them).
    """
    mask = np.zeros(time.size, dtype=bool)
    for period, epoch, duration in ephemerides:
        if not (np.isfinite(period) and np.isfinite(epoch) and np.isfinite(duration)) or period <= 0:
            continue
        half = 0.5 * mask_factor * duration
        phase = np.abs((time - epoch + 0.5 * period) % period - 0.5 * period)
        mask |= phase < half
    return mask


def fill_masked(time: np.ndarray, flux: np.ndarray, mask: np.ndarray, smooth_points: int = 9,
                span_days: float = 0.0) -> np.ndarray:
    """Replace masked (in-transit) flux by a bridge through the unmasked neighbours.

    Each masked run is bridged by a quadratic fitted (3-sigma clipped) to the unmasked cadences
    within `span_days` on either side; where `span_days` is 0 or a side has fewer than 5 such
    cadences, by a line through the running median (`smooth_points`) of the unmasked neighbours.

    Why not wotan's own `mask=`: with a time-windowed location estimator (biweight) a mask makes the
    windows next to a transit one-sided, so on a sloping trend (1% rotational modulation) the trend
    there is biased by slope x offset (hundreds of ppm), which leaks into depth and odd/even
    measurements. Filling the masked span keeps every window symmetric and transit-free. The bridge
    is noiseless, so the robust biweight locks onto it: it must follow curvature (a line across a
    0.4-day mask on a 5-day, 0.5 % rotation is off by ~150 ppm) and average many cadences (a
    9-point median is off by ~0.3 sigma per transit); both errors differ from transit to transit
    and pose as odd/even differences (found by the injection-recovery tests).
    """
    if not mask.any() or mask.all():
        return flux
    from scipy.ndimage import median_filter

    keep = ~mask
    smooth = median_filter(flux[keep], size=smooth_points, mode="nearest")
    filled = flux.copy()
    filled[mask] = np.interp(time[mask], time[keep], smooth)
    if span_days <= 0:
        return filled
    idx = np.flatnonzero(mask)
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
        t_a, t_b = time[run[0]], time[run[-1]]
        lo, hi = np.searchsorted(time, [t_a - span_days, t_b + span_days])
        near = np.arange(lo, hi)[keep[lo:hi]]
        x, y = time[near] - 0.5 * (t_a + t_b), flux[near]
        if (x < 0).sum() < 5 or (x > 0).sum() < 5:
            continue
        coef = np.polyfit(x, y, 2)
        for _ in range(2):  # clip outliers (flares, unmasked dips) and refit
            resid = np.abs(y - np.polyval(coef, x))
            ok = resid <= 3.0 * 1.4826 * np.median(resid)
            if ok.all() or ok.sum() < 10:
                break
            coef = np.polyfit(x[ok], y[ok], 2)
        filled[run] = np.polyval(coef, time[run] - 0.5 * (t_a + t_b))
    return filled


def detrend_window(durations, config: CleaningConfig) -> float:
    """Biweight window (days): window_factor x the longest finite duration, clipped to bounds."""
    d = np.asarray([x for x in durations if np.isfinite(x) and x > 0], dtype=float)
    if d.size == 0:
        return config.default_window_days
    return float(np.clip(config.window_factor * d.max(), config.min_window_days, config.max_window_days))


def clean_light_curve(lc: LightCurveData, ephemerides=(), config: CleaningConfig = CleaningConfig(),
                      bitmask: int | None = None) -> CleanedCurve:
    """Clean and detrend one star's light curve.

    Steps: quality mask (mission default bitmask), non-finite removal, duplicate-time removal,
    per-segment median normalisation, wotan biweight detrending with known transits masked, then
    upper-only sigma clipping of the detrended flux.

    Args:
        lc: raw light curve (PDCSAP flux in e-/s).
        ephemerides: (period_days, epoch, duration_days) of every known signal of the star; the
            transits are masked from the trend fit. Signals without an epoch are not masked but
            still widen the window.
        config: cleaning knobs.
        bitmask: quality bits to reject; the mission default when None.

    Raises:
        LightCurveError: no usable cadences, or fewer than `config.min_points`.
    """
    from wotan import flatten

    ephemerides = [tuple(map(float, e)) for e in ephemerides]
    stats = {"n_raw": int(lc.time.size)}
    if lc.time.size == 0:
        raise LightCurveError("light curve has no cadences")
    if bitmask is None:
        bitmask = default_bitmask(lc.mission)
    keep = (lc.quality.astype(np.int64) & int(bitmask)) == 0
    stats["n_quality_flagged"] = int((~keep).sum())
    finite = np.isfinite(lc.time) & np.isfinite(lc.flux)
    stats["n_nonfinite"] = int((keep & ~finite).sum())
    keep &= finite
    if not np.any(keep):
        raise LightCurveError("no finite, unflagged cadences (all flux NaN or flagged)")
    time, flux, err, seg = lc.time[keep], lc.flux[keep], lc.flux_err[keep], lc.segment[keep]
    order = np.argsort(time, kind="stable")
    time, flux, err, seg = time[order], flux[order], err[order], seg[order]
    unique = np.concatenate([[True], np.diff(time) > 0])
    stats["n_duplicate_time"] = int((~unique).sum())
    time, flux, err, seg = time[unique], flux[unique], err[unique], seg[unique]
    if time.size < config.min_points:
        raise LightCurveError(f"only {time.size} usable cadences (< {config.min_points})")

    # Per-segment normalisation: each quarter/sector has its own aperture and gain.
    norm_flux = np.empty_like(flux)
    norm_err = np.empty_like(err)
    for s in np.unique(seg):
        sel = seg == s
        level = np.nanmedian(flux[sel])
        if not np.isfinite(level) or level <= 0:
            raise LightCurveError(f"segment {int(s)} has a non-positive median flux ({level:.3g})")
        norm_flux[sel] = flux[sel] / level
        norm_err[sel] = err[sel] / level
    bad_err = ~np.isfinite(norm_err) | (norm_err <= 0)
    if bad_err.any():
        fill = robust_std(np.diff(norm_flux)) / np.sqrt(2.0)
        norm_err[bad_err] = fill if np.isfinite(fill) and fill > 0 else 1e-3

    window = detrend_window([e[2] for e in ephemerides], config)
    in_transit = transit_mask(time, ephemerides, config.mask_factor)
    stats["n_in_transit_masked"] = int(in_transit.sum())
    stats["window_days"] = window
    kwargs = {"step": config.trend_step_days} if config.trend_step_days > 0 else {}
    # Bridge the masked transits from about one window of neighbours (see fill_masked).
    cadence = float(np.median(np.diff(time))) if time.size > 1 else 0.0
    smooth_points = max(9, int(window / cadence) | 1) if cadence > 0 else 9
    filled = fill_masked(time, norm_flux, in_transit, smooth_points, span_days=window / 2)
    trend = flatten(time, filled, method="biweight", window_length=window, return_trend=True,
                    break_tolerance=window / 2, **kwargs)[1]
    # Edges of segments shorter than the window may leave NaN trend: fill by interpolation.
    good = np.isfinite(trend)
    if not good.any():
        raise LightCurveError("detrending failed: no finite trend")
    if not good.all():
        trend[~good] = np.interp(time[~good], time[good], trend[good])
    detrended = norm_flux / trend
    detrended_err = norm_err / trend

    # Upper-only sigma clipping: transits and eclipses are dips and must survive.
    sigma = robust_std(detrended[~in_transit] if (~in_transit).sum() > 10 else detrended)
    median = np.median(detrended[~in_transit] if (~in_transit).sum() > 10 else detrended)
    upper_outlier = detrended > median + config.sigma_upper * sigma
    stats["n_upper_clipped"] = int(upper_outlier.sum())
    ok = ~upper_outlier
    stats["n_clean"] = int(ok.sum())
    stats["rms_ppm"] = float(sigma * 1e6)
    if ok.sum() < config.min_points:
        raise LightCurveError(f"only {int(ok.sum())} cadences left after cleaning (< {config.min_points})")
    return CleanedCurve(
        star_id=lc.star_id,
        mission=lc.mission,
        time=time[ok],
        flux=detrended[ok],
        flux_err=detrended_err[ok],
        segment=seg[ok].astype(np.int32),
        stats=stats,
    )
