import batman
import numpy as np
import pytest

from exo_assets.science.cleaning import CleaningConfig, clean_light_curve, transit_mask
from exo_assets.science.lightcurves import LightCurveData, LightCurveError


def _transit_lc(depth_ppm=500.0, trend_amp=0.01, noise_ppm=50.0, seed=0, days=60.0):
    """Kepler-cadence light curve with a limb-darkened transit and a 1% sinusoidal variability trend."""
    rng = np.random.default_rng(seed)
    time = np.arange(130.0, 130.0 + days, 29.4244 / 1440)
    params = batman.TransitParams()
    params.t0, params.per, params.rp, params.a, params.inc = (
        131.3,
        3.7,
        np.sqrt(depth_ppm * 1e-6) * 1.08,
        12.0,
        90.0,
    )
    params.ecc, params.w, params.u, params.limb_dark = 0.0, 90.0, [0.4, 0.25], "quadratic"
    model = batman.TransitModel(params, time).light_curve(params)
    trend = 1 + trend_amp * np.sin(2 * np.pi * time / 12.0)  # 1% rotational modulation, 12-d period
    flux = 1e4 * model * trend * (1 + rng.normal(0, noise_ppm * 1e-6, time.size))
    lc = LightCurveData(
        "KIC 1",
        "Kepler",
        time,
        flux,
        np.full(time.size, noise_ppm * 1e-2),
        np.zeros(time.size, np.int32),
        np.ones(time.size, np.int32),
    )
    duration = 3.7 / np.pi * np.arcsin(np.sqrt((1 + params.rp) ** 2) / params.a)
    return lc, model, (params.per, params.t0, duration)


def _depth(time, flux, eph):
    period, t0, duration = eph
    phase = (time - t0 + 0.5 * period) % period - 0.5 * period
    centre = np.abs(phase) < 0.15 * duration
    oot = (np.abs(phase) > duration) & (np.abs(phase) < 3 * duration)
    return np.median(flux[oot]) - np.mean(flux[centre])


def test_cleaning_keeps_500ppm_transit_and_removes_1pct_trend():
    lc, model, eph = _transit_lc()
    clean = clean_light_curve(lc, [eph])
    true_depth = _depth(lc.time, model, eph)
    assert _depth(clean.time, clean.flux, eph) == pytest.approx(true_depth, rel=0.05)
    # the 1% trend is gone: out-of-transit scatter is back to the white-noise level
    oot = ~transit_mask(clean.time, [eph], 2.0)
    assert np.std(clean.flux[oot]) < 1.5 * 50e-6
    assert np.std(lc.flux / np.median(lc.flux)) > 50 * 50e-6


def test_unmasked_detrending_would_eat_the_transit():
    """The mask matters: with no ephemeris the same filter loses part of a long transit."""
    lc, model, eph = _transit_lc(depth_ppm=500.0)
    narrow = CleaningConfig(default_window_days=0.3, min_window_days=0.3)
    no_mask = clean_light_curve(lc, [], narrow)
    masked = clean_light_curve(lc, [eph], narrow)
    assert _depth(no_mask.time, no_mask.flux, eph) < 0.9 * _depth(masked.time, masked.flux, eph)


def test_upper_only_clipping_keeps_dips():
    lc, model, eph = _transit_lc()
    lc.flux[100] *= 1.01  # a cosmic ray
    lc.flux[200] *= 0.99  # a deep single dip (could be a real eclipse)
    clean = clean_light_curve(lc, [eph])
    assert lc.time[100] not in clean.time
    assert lc.time[200] in clean.time
    assert clean.stats["n_upper_clipped"] >= 1


def test_quality_nan_and_duplicates_removed():
    lc, _, eph = _transit_lc()
    lc.quality[:50] = 1  # attitude tweak: in the default bitmask
    lc.flux[60:70] = np.nan
    lc.time = lc.time.copy()
    lc.time[81] = lc.time[80]
    clean = clean_light_curve(lc, [eph])
    assert clean.stats["n_quality_flagged"] == 50
    assert clean.stats["n_nonfinite"] == 10
    assert clean.stats["n_duplicate_time"] == 1
    assert np.all(np.diff(clean.time) > 0)
    assert np.all(np.isfinite(clean.flux))


def test_all_nan_flux_is_a_clear_error():
    lc, _, eph = _transit_lc()
    lc.flux[:] = np.nan
    with pytest.raises(LightCurveError, match="no finite"):
        clean_light_curve(lc, [eph])


def test_too_few_points_is_a_clear_error():
    lc, _, eph = _transit_lc(days=1.0)
    with pytest.raises(LightCurveError, match="usable cadences"):
        clean_light_curve(lc, [eph])
