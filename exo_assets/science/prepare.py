"""Per-star preparation: read a star's FITS files, fill missing epochs, clean and detrend.

`prepare_star` is what the `cleaned_curves` asset runs for every star; it never raises for bad
input: the returned `StarResult` carries a status and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from exo_assets.science.cleaning import CleanedCurve, CleaningConfig, clean_light_curve
from exo_assets.science.diagnostics import estimate_epoch_bls
from exo_assets.science.ephemeris import star_ephemerides
from exo_assets.science.lightcurves import LightCurveData, LightCurveError, read_star
from exo_assets.science.stats import robust_std


@dataclass
class StarResult:
    """Outcome of preparing one star.

    Attributes:
        star_id: catalog star id.
        status: "ok" or "failed".
        reason: why it failed ('' if ok); notes on skipped files otherwise.
        curve: the cleaned curve (None when failed).
        ephemerides: one row per signal (`ephemeris.EPHEMERIS_COLUMNS`).
        stats: cleaning counts.
    """

    star_id: str
    status: str
    reason: str = ""
    curve: CleanedCurve | None = None
    ephemerides: pd.DataFrame | None = None
    stats: dict = field(default_factory=dict)


def stale_epoch(time: np.ndarray, epoch: float, period: float, max_cycles: float) -> bool:
    """True when the catalog epoch lies more than `max_cycles` orbits from the middle of the data."""
    if not (np.isfinite(epoch) and np.isfinite(period) and period > 0 and time.size):
        return False
    return abs(0.5 * (time.min() + time.max()) - epoch) / period > max_cycles


def _window_depth(time, flux, period, epoch, duration) -> tuple[float, float]:
    """(depth, its sigma) of the mean flux within +-duration/4 of the transits vs 1-3 durations away."""
    phase = np.abs((time - epoch + 0.5 * period) % period - 0.5 * period)
    inside = phase < 0.25 * duration
    outside = (phase > duration) & (phase < 3 * duration)
    if inside.sum() < 3 or outside.sum() < 10:
        return float("nan"), float("nan")
    scatter = robust_std(flux[outside])
    return float(np.median(flux[outside]) - np.mean(flux[inside])), float(scatter / np.sqrt(inside.sum()))


def refine_stale_epoch(time: np.ndarray, flux: np.ndarray, period: float, epoch: float, duration: float,
                       min_sigma: float = 7.0, min_gain: float = 2.0) -> float | None:
    """A BLS epoch at the catalog period when the catalog ephemeris misses the transit, else None.

    Adopted only if the BLS transit is significant (>= `min_sigma`) and at least `min_gain` times
    deeper than what the catalog epoch shows, and it sits more than half a duration away from it.
    """
    try:
        t_bls, _, _ = estimate_epoch_bls(time, flux, period, duration)
    except ValueError:
        return None
    if not np.isfinite(t_bls):
        return None
    d_bls, s_bls = _window_depth(time, flux, period, t_bls, duration)
    d_cat, _ = _window_depth(time, flux, period, epoch, duration)
    offset = abs((t_bls - epoch + 0.5 * period) % period - 0.5 * period)
    if not (np.isfinite(d_bls) and s_bls > 0 and d_bls / s_bls >= min_sigma and offset > 0.5 * duration):
        return None
    if np.isfinite(d_cat) and d_cat * min_gain > d_bls:
        return None
    return float(t_bls)


def clean_with_ephemerides(lc: LightCurveData, eph: pd.DataFrame, config: CleaningConfig = CleaningConfig()
                           ) -> tuple[CleanedCurve, pd.DataFrame]:
    """Clean and detrend one star's light curve with its known transits masked, fixing epochs first.

    Signals without an epoch get one from a BLS search at the catalog period on a first, unmasked
    detrending (epoch_source "bls"); a stale catalog epoch is replaced when BLS finds the transit
    elsewhere in phase ("bls_refined", see `refine_stale_epoch`); the curve is then cleaned again
    with those transits masked. The cleaning step of `prepare_star` and of the inference API.

    Args:
        lc: the raw light curve (times in BKJD/BTJD days).
        eph: `ephemeris.EPHEMERIS_COLUMNS` rows of the star's signals (a copy is returned updated).
    Raises:
        LightCurveError: the curve cannot be cleaned (see `clean_light_curve`).
    """
    eph = eph.copy()
    known = eph[eph["epoch_source"] == "catalog"]
    curve = clean_light_curve(lc, known[["period_days", "epoch", "duration_days"]].to_numpy(), config)
    changed = False
    for idx in eph.index:
        period, duration = eph.at[idx, "period_days"], eph.at[idx, "duration_days"]
        if eph.at[idx, "epoch_source"] == "none":
            try:
                epoch, _, _ = estimate_epoch_bls(curve.time, curve.flux, period, duration)
            except ValueError:
                continue
            if np.isfinite(epoch):
                eph.at[idx, "epoch"], eph.at[idx, "epoch_source"] = epoch, "bls"
                changed = True
        elif stale_epoch(curve.time, eph.at[idx, "epoch"], period, config.stale_epoch_cycles):
            refined = refine_stale_epoch(curve.time, curve.flux, period, eph.at[idx, "epoch"], duration)
            if refined is not None:
                eph.at[idx, "epoch"], eph.at[idx, "epoch_source"] = refined, "bls_refined"
                changed = True
    if changed:
        usable = eph[np.isfinite(eph["epoch"].to_numpy(float))]
        curve = clean_light_curve(lc, usable[["period_days", "epoch", "duration_days"]].to_numpy(), config)
    return curve, eph


def prepare_star(paths: list[str], signals: pd.DataFrame, config: CleaningConfig = CleaningConfig()) -> StarResult:
    """Read, stitch, clean and detrend one star's files with all its known transits masked.

    Signals without a catalog epoch get one from a BLS search at the catalog period on a first,
    unmasked detrending (epoch_source "bls"); a catalog epoch propagated over many cycles (a stale
    ephemeris: a TOI epoch years after a sector) is replaced when BLS finds the transit elsewhere in
    phase (epoch_source "bls_refined", see `refine_stale_epoch`). The star is then detrended again
    with those transits masked.
    """
    star_id = str(signals["star_id"].iloc[0])
    eph = star_ephemerides(signals)
    try:
        lc, bad_files = read_star(paths)
        if lc is None:
            detail = "; ".join(f"{name}: {why}" for name, why in bad_files) or "no files"
            raise LightCurveError(f"no readable light-curve file ({detail})")
        curve, eph = clean_with_ephemerides(lc, eph, config)
        notes = "; ".join(f"skipped {name}: {why}" for name, why in bad_files)
        return StarResult(star_id, "ok", notes, curve, eph, dict(curve.stats))
    except LightCurveError as err:
        return StarResult(star_id, "failed", str(err), None, eph, {})
    except Exception as exc:  # numerical failures of one star must not stop the run
        return StarResult(star_id, "failed", f"{type(exc).__name__}: {exc}", None, eph, {})
