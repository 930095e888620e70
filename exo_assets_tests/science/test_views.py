"""Phase-folded views (exo_assets.science.views) on batman injections and real fixtures."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest

from exo_assets.science.views import (
    ViewConfig,
    bin_centres,
    bin_median,
    global_view,
    local_view,
    make_views,
    odd_even_local_views,
    phase_fold,
    secondary_view,
)
from exo_assets_tests.science import synthetic as S

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fits"


def _naive_bin_median(x, y, x_min, x_max, num_bins, bin_width):
    spacing = (x_max - x_min - bin_width) / (num_bins - 1)
    out = np.full(num_bins, np.nan)
    counts = np.zeros(num_bins, dtype=int)
    for i in range(num_bins):
        lo = x_min + i * spacing
        sel = (x >= lo) & (x < lo + bin_width)
        counts[i] = sel.sum()
        if sel.any():
            out[i] = np.median(y[sel])
    return out, counts


# --- phase_fold / bin_median -----------------------------------------------------------------


def test_phase_fold_range_and_centre():
    t = np.linspace(0, 100, 10001)
    ph = phase_fold(t, 7.3, 3.1)
    assert ph.min() >= -3.65 and ph.max() < 3.65
    assert abs(phase_fold(np.array([3.1 + 7.3 * 5]), 7.3, 3.1)[0]) < 1e-9
    with pytest.raises(ValueError):
        phase_fold(t, 0.0, 1.0)


@pytest.mark.parametrize("num_bins,width", [(11, 0.1), (50, 0.02), (21, 0.3), (201, 0.016)])
def test_bin_median_matches_loop(num_bins, width):
    rng = np.random.default_rng(num_bins)
    x = rng.uniform(-1, 1, 3000)
    y = rng.normal(size=3000)
    got, counts = bin_median(x, y, -1.0, 1.0, num_bins, width)
    ref, ref_counts = _naive_bin_median(x, y, -1.0, 1.0, num_bins, width)
    full = np.isfinite(ref)
    assert np.allclose(got[full], ref[full], atol=1e-9)
    assert np.array_equal(counts, ref_counts)
    assert np.all(np.isfinite(got))


def test_bin_median_single_point_and_empty_bins():
    x = np.array([-0.95, 0.05, 0.95])  # bins 0, 5 (of 11 equal bins over [-1, 1)) and 10
    y = np.array([1.0, 3.0, 5.0])
    values, counts = bin_median(x, y, -1.0, 1.0, 11, 2.0 / 11)
    assert counts.tolist() == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert values[0] == 1.0 and values[5] == 3.0 and values[10] == 5.0
    centres = bin_centres(-1.0, 1.0, 11, 2.0 / 11)
    assert np.allclose(values[1:5], np.interp(centres[1:5], centres[[0, 5]], [1.0, 3.0]))
    # one point only: every bin takes its value
    v1, c1 = bin_median(np.array([0.2]), np.array([7.0]), -1.0, 1.0, 5)
    assert np.all(v1 == 7.0) and c1.sum() == 1
    # even count: mean of the two middle values
    v2, _ = bin_median(np.array([0.1, 0.2, 0.3, 0.4]), np.array([4.0, 1.0, 3.0, 2.0]), 0.0, 1.0, 2)
    assert v2[0] == 2.5


def test_bin_median_errors():
    with pytest.raises(ValueError, match="empty"):
        bin_median(np.array([5.0, 6.0]), np.array([1.0, 2.0]), -1.0, 1.0, 10)
    with pytest.raises(ValueError, match="empty"):
        bin_median(np.array([]), np.array([]), -1.0, 1.0, 10)
    with pytest.raises(ValueError, match="empty"):
        bin_median(np.array([0.0]), np.array([np.nan]), -1.0, 1.0, 10)
    with pytest.raises(ValueError):
        bin_median(np.zeros(3), np.zeros(3), 1.0, -1.0, 10)
    with pytest.raises(ValueError):
        bin_median(np.zeros(3), np.zeros(3), -1.0, 1.0, 1)
    with pytest.raises(ValueError):
        bin_median(np.zeros(3), np.zeros(3), -1.0, 1.0, 10, bin_width=3.0)


# --- views on injections -----------------------------------------------------------------------

P, T0, K, A, B = 5.3, 2.1, 0.08, 12.0, 0.3


@pytest.fixture(scope="module")
def planet_curve():
    rng = np.random.default_rng(7)
    t = S.time_grid(20000, S.TESS_CADENCE, start=0.0, gap_every=13.7, gap=1.0)
    flux, model = S.planet(rng, t, P, T0, K, A, B, 3e-4, exp_time=S.TESS_CADENCE)
    return t, flux, model, S.duration(P, K, A, B)


@pytest.mark.parametrize("global_bins,local_bins", [(2001, 201), (201, 61), (501, 31)])
def test_view_lengths_configurable(planet_curve, global_bins, local_bins):
    t, flux, _, dur = planet_curve
    cfg = ViewConfig(global_bins=global_bins, local_bins=local_bins)
    v = make_views(t, flux, P, T0, dur, cfg)
    for name, arr in v.as_dict().items():
        assert arr.dtype == np.float32
        assert arr.shape == ((global_bins,) if name == "global" else (local_bins,)), name
        assert np.all(np.isfinite(arr)), name
    assert global_view(t, flux, P, T0, cfg).shape == (global_bins,)
    assert local_view(t, flux, P, T0, dur, cfg).shape == (local_bins,)
    assert secondary_view(t, flux, P, T0, dur, cfg).shape == (local_bins,)
    odd, even = odd_even_local_views(t, flux, P, T0, dur, cfg)
    assert odd.shape == even.shape == (local_bins,)


def test_transit_at_centre_and_normalisation(planet_curve):
    t, flux, model, dur = planet_curve
    v = make_views(t, flux, P, T0, dur)
    centre = 100
    assert abs(int(np.argmin(v.local)) - centre) <= 5  # flat bottom: +-5 bins = +-0.2 T14
    assert v.local.min() == pytest.approx(-1.0, abs=1e-6)
    out = np.abs(bin_centres(-4 * dur, 4 * dur, 201, 0.16 * dur)) >= dur
    assert abs(np.median(v.local[out])) < 1e-6
    assert abs(int(np.argmin(v.global_)) - 1000) <= 0.25 * dur / (P / 2001)
    assert v.global_.min() == pytest.approx(-1.0, abs=0.25)
    # the scale is the raw depth, within 10% of the injected one
    assert v.scale_kind == "depth"
    assert v.depth_scale == pytest.approx(1 - model.min(), rel=0.1)
    # odd/even of a planet: same depth; secondary: nothing
    assert v.odd.min() == pytest.approx(-1.0, abs=0.2) and v.even.min() == pytest.approx(-1.0, abs=0.2)
    assert v.secondary.min() > -0.25
    assert v.missing == ()


def test_eb_keeps_relative_depths():
    rng = np.random.default_rng(3)
    t = S.time_grid(20000, S.TESS_CADENCE, start=0.0)
    k_odd, k_even, k_sec = 0.20, 0.14, 0.10
    flux, model = S.eclipsing_binary(
        rng, t, P, T0, k_odd, k_even, A, B, 2e-4, k_secondary=k_sec, exp_time=S.TESS_CADENCE
    )
    dur = S.duration(P, k_odd, A, B)
    v = make_views(t, flux, P, T0, dur)
    d_odd, d_even = k_odd**2, k_even**2
    # local = both parities, minimum -1 by construction; odd deeper than even in the same units
    assert v.odd.min() < v.even.min() - 0.2
    assert v.even.min() / v.odd.min() == pytest.approx(d_even / d_odd, rel=0.25)
    assert v.secondary.min() == pytest.approx(-(k_sec**2) / v.depth_scale, rel=0.3)
    assert -0.5 < v.secondary.min() < -0.05


def test_flat_and_inverted_curves_use_scatter_scale():
    t = np.arange(0, 30, 0.01)
    flat = np.ones_like(t)
    v = make_views(t, flat, 3.0, 1.0, 0.1)
    assert v.scale_kind == "scatter" and v.depth_scale > 0
    assert np.all(np.isfinite(v.local)) and np.all(v.local == 0)
    bump = 1 + 1e-3 * (np.abs(phase_fold(t, 3.0, 1.0)) < 0.05)  # inverted "transit"
    v2 = make_views(t, bump, 3.0, 1.0, 0.1)
    assert v2.scale_kind == "scatter"
    assert v2.local.max() > 10 and v2.local.min() == 0
    # noise only: the scale floor (3 x bin scatter) keeps the views O(1) instead of blowing them up
    for seed in range(5):
        noise = 1 + 1e-4 * np.random.default_rng(seed).normal(size=t.size)
        v3 = make_views(t, noise, 3.0, 1.0, 0.1)
        assert v3.depth_scale < 3e-4  # a few per-bin sigmas, not a transit depth
        assert -2.5 < v3.local.min() < -0.3 and v3.local.max() < 2.5


def test_single_transit_fills_missing_parity():
    t = np.arange(0, 8, S.TESS_CADENCE)
    flux = S.transit(t, 20.0, 4.0, 0.1, 25.0, 0.2)
    dur = S.duration(20.0, 0.1, 25.0, 0.2)
    v = make_views(t, flux, 20.0, 4.0, dur)
    assert v.missing == ("odd", "secondary")  # transit 0 is even; phase 0.5 (t = 14) is not observed
    assert np.array_equal(v.odd, v.local)
    assert np.all(v.secondary == 0)
    assert odd_even_local_views(t, flux, 20.0, 4.0, dur)[0] is None
    with pytest.raises(ValueError):
        make_views(t, flux, 20.0, 14.0, dur)  # no data near any transit


def test_bad_ephemeris_raises(planet_curve):
    t, flux, _, _ = planet_curve
    with pytest.raises(ValueError):
        make_views(t, flux, P, T0, float("nan"))
    with pytest.raises(ValueError):
        local_view(t, flux, P, T0, P * 2)


# --- real fixtures -----------------------------------------------------------------------------


def _real(mission, pattern, star, signal):
    from exo_assets.science.catalogs import load_catalog
    from exo_assets.science.cleaning import clean_light_curve
    from exo_assets.science.lightcurves import read_star

    cat = load_catalog(mission)
    rows = cat[cat.star_id == star]
    lc, bad = read_star(sorted(glob.glob(str(FIXTURES / pattern))))
    assert lc is not None and not bad
    eph = list(zip(rows.period_days, rows.epoch, rows.duration_days, strict=True))
    cleaned = clean_light_curve(lc, eph)
    row = rows[rows.signal_id == signal].iloc[0]
    return cleaned, row


def test_real_kepler90_local_view_centred():
    c, row = _real("Kepler", "kepler/kplr011442793-*_llc.fits", "KIC 11442793", "KOI K00351.03")
    v = make_views(c.time, c.flux, row.period_days, row.epoch, row.duration_days)
    assert abs(int(np.argmin(v.local)) - 100) <= 6  # within +-0.25 T14 of the centre
    assert v.depth_scale * 1e6 == pytest.approx(row.depth_ppm, rel=0.2)


def test_real_pi_men_local_view_centred():
    c, row = _real("TESS", "tess/*261136679*", "TIC 261136679", "TOI 144.01")
    v = make_views(c.time, c.flux, row.period_days, row.epoch, row.duration_days)
    assert abs(int(np.argmin(v.local)) - 100) <= 6
    assert v.depth_scale * 1e6 == pytest.approx(row.depth_ppm, rel=0.2)
