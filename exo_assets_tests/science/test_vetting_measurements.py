"""One vetting test per noise-aware measurement (exovetter style): each must fire on a synthetic
eclipsing binary and must not fire on a planet in red noise (TESS-like sector, 2-min cadence).

Red noise: an AR(1) process with a correlation time of ~half the transit duration and the white
scatter's amplitude, the regime where white-noise significances overstate (the simulator's and real
curves' residual stellar / instrumental noise). The white-noise statistics the issue found firing on
planets are reproduced here first (`_white_only`), so each test shows what the correction changes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from exo_assets.science.diagnostics import (
    DiagnosticsConfig,
    StellarParams,
    compute_diagnostics,
    density_from_a_rs,
)
from exo_assets.science.diagnostics.mandel_agol import parameter_errors
from exo_assets.science.diagnostics.odd_even import parity_scatter_factor
from exo_assets.science.diagnostics.other_phases import MIN_BOXES, trials_significance
from exo_assets.science.stats import time_averaging_beta
from exo_assets_tests.science import synthetic as S

SUN = StellarParams(teff_k=5750.0, logg_cgs=4.438, radius_rsun=1.0)
TESS = DiagnosticsConfig(band="TESS")
PERIOD, T0, A_RS = 3.3, 1325.9, 9.0


def _grid():
    return S.time_grid(int(27.0 / S.TESS_CADENCE), S.TESS_CADENCE, start=1325.0, gap_every=13.7, gap=1.0)


def red_noise(rng, time, sigma, tau_days):
    """AR(1) noise of stationary standard deviation `sigma` and correlation time `tau_days`."""
    phi = math.exp(-S.TESS_CADENCE / tau_days)
    e = rng.standard_normal(time.size) * sigma * math.sqrt(1 - phi**2)
    out = np.empty(time.size)
    out[0] = e[0] / math.sqrt(1 - phi**2)
    for i in range(1, time.size):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _planet_red(seed, k=0.08, b=0.3, white=8e-4, red=8e-4):
    t = _grid()
    rng = np.random.default_rng(seed)
    dur = S.duration(PERIOD, k, A_RS, b)
    model = S.transit(t, PERIOD, T0, k, A_RS, b, exp_time=S.TESS_CADENCE)
    flux = model + white * rng.standard_normal(t.size) + red_noise(rng, t, red, 0.5 * dur)
    return t, flux, dur


# --- stats: beta -------------------------------------------------------------------------------


def test_beta_is_one_for_white_noise_and_large_for_red_noise():
    t = _grid()
    rng = np.random.default_rng(1)
    white = rng.standard_normal(t.size) * 1e-3
    assert time_averaging_beta(t, white, 0.1) == pytest.approx(1.0, abs=0.15)
    red = white + red_noise(rng, t, 1e-3, 0.05)
    assert time_averaging_beta(t, red, 0.1) > 2.0
    assert math.isnan(time_averaging_beta(t[:20], white[:20], 0.1))  # too few bins


# --- depth / SNR -------------------------------------------------------------------------------


def test_depth_error_includes_red_noise():
    t, flux, dur = _planet_red(3)
    d = compute_diagnostics(t, flux, None, PERIOD, T0, dur, SUN, TESS)
    assert d["red_noise_beta"] > 1.5
    white_err = d["oot_scatter_ppm"] / math.sqrt(
        np.sum(np.abs((t - T0 + PERIOD / 2) % PERIOD - PERIOD / 2) < dur / 4)
    )
    assert d["depth_err_ppm"] == pytest.approx(d["red_noise_beta"] * white_err, rel=0.05)


# --- odd / even ---------------------------------------------------------------------------------


def test_parity_scatter_factor():
    odd = np.array([1, 0, 1, 0, 1, 0], bool)
    alternating = np.where(odd, 100.0, 80.0)  # an EB: each parity is constant
    assert parity_scatter_factor(alternating, np.full(6, 5.0), odd) == 1.0
    jumpy = np.array([100.0, 60.0, 140.0, 100.0, 60.0, 140.0])  # scatter beyond the errors
    assert parity_scatter_factor(jumpy, np.full(6, 5.0), odd) > 5
    assert parity_scatter_factor(jumpy[:3], np.full(3, 5.0), odd[:3]) == 1.0  # one even transit


def test_odd_even_fires_on_eb_not_on_red_noise_planet():
    t = _grid()
    fired_planet, white_planet = [], []
    for seed in range(12):
        tt, flux, dur = _planet_red(100 + seed)
        d = compute_diagnostics(tt, flux, None, PERIOD, T0, dur, SUN, TESS)
        fired_planet.append(d["odd_even_sigma"] > 3)
        white_planet.append(d["odd_even_sigma"] * d["red_noise_beta"] > 3)  # the white-noise statistic
    assert np.mean(fired_planet) <= 1 / 12
    assert np.sum(white_planet) > np.sum(fired_planet)  # the correction is what keeps planets quiet
    rng = np.random.default_rng(7)
    flux, _ = S.eclipsing_binary(rng, t, PERIOD, T0, 0.15, 0.12, A_RS, 0.2, 8e-4, exp_time=S.TESS_CADENCE)
    flux = flux + red_noise(rng, t, 8e-4, 0.05)
    d = compute_diagnostics(t, flux, None, PERIOD, T0, S.duration(PERIOD, 0.15, A_RS, 0.2), SUN, TESS)
    assert d["odd_even_sigma"] > 5


# --- secondary ----------------------------------------------------------------------------------


def test_secondary_fires_on_eb_not_on_red_noise_planet():
    t = _grid()
    rng = np.random.default_rng(11)
    flux, _ = S.eclipsing_binary(
        rng, t, PERIOD, T0, 0.15, 0.15, A_RS, 0.3, 8e-4, k_secondary=0.06, exp_time=S.TESS_CADENCE
    )
    flux = flux + red_noise(rng, t, 8e-4, 0.05)
    d = compute_diagnostics(t, flux, None, PERIOD, T0, S.duration(PERIOD, 0.15, A_RS, 0.3), SUN, TESS)
    assert d["secondary_sigma"] > 5
    sig = [
        compute_diagnostics(*_planet_red(200 + s)[:2], None, PERIOD, T0, _planet_red(200 + s)[2], SUN, TESS)[
            "secondary_sigma"
        ]
        for s in range(6)
    ]
    assert max(sig) < 3.5


# --- other phases (trials-aware) ----------------------------------------------------------------


def test_trials_significance_is_relative_to_the_spread():
    rng = np.random.default_rng(0)
    z = 3.0 * rng.standard_normal(400)  # red noise: every box 3x wider than white
    rel = trials_significance(z, 100)
    assert np.nanmax(rel) < 4.5  # the white maximum would be ~9
    z[17] = 30.0
    assert np.argmax(trials_significance(z, 100)) == 17
    assert np.isnan(trials_significance(z, MIN_BOXES - 1)).all()


def test_other_dip_fires_on_eccentric_eb_not_on_red_noise_planet():
    t = _grid()
    rng = np.random.default_rng(21)
    k, b = 0.15, 0.3
    dur = S.duration(PERIOD, k, A_RS, b)
    model = S.transit(t, PERIOD, T0, k, A_RS, b, exp_time=S.TESS_CADENCE)
    # an eccentric orbit's secondary at phase 0.37 (not 0.5)
    model = model + S.transit(t, PERIOD, T0 + 0.37 * PERIOD, 0.06, A_RS, b, u=(0.0, 0.0)) - 1
    flux = model + 8e-4 * rng.standard_normal(t.size) + red_noise(rng, t, 8e-4, 0.5 * dur)
    d = compute_diagnostics(t, flux, None, PERIOD, T0, dur, SUN, TESS)
    assert d["max_other_sigma"] > 7 and abs(d["max_other_phase"] - 0.37) < 0.03
    quiet = []
    for s in range(8):
        tt, f, du = _planet_red(300 + s)
        quiet.append(compute_diagnostics(tt, f, None, PERIOD, T0, du, SUN, TESS)["max_other_sigma"])
    assert max(quiet) < 6


# --- Mandel-Agol with the density prior -----------------------------------------------------------


def test_mandel_agol_density_prior_and_errors():
    """b = 0.6 at moderate SNR: the free fit slides to a central, smaller planet; the prior does not."""
    t = _grid()
    k, b = 0.03, 0.6
    a = S.a_rs_from_density(SUN.density_cgs(), PERIOD)
    dur = S.duration(PERIOD, k, a, b)
    errs, ks = [], []
    for seed in range(6):
        rng = np.random.default_rng(400 + seed)
        flux, _ = S.planet(rng, t, PERIOD, T0, k, a, b, 6e-4, exp_time=S.TESS_CADENCE)
        d = compute_diagnostics(t, flux, None, PERIOD, T0, dur, SUN, TESS)
        assert d["ma_fit_status"] == "ok" and np.isfinite(d["ma_rp_rs_err"]) and d["ma_rp_rs_err"] > 0
        ks.append(d["ma_rp_rs"])
        errs.append((d["ma_rp_rs"] - k) / d["ma_rp_rs_err"])
        assert abs(math.log(density_from_a_rs(d["ma_a_rs"], PERIOD) / SUN.density_cgs())) < 0.7
    assert abs(np.median(ks) / k - 1) < 0.05
    assert np.median(np.abs(errs)) < 2.0  # the reported errors are of the right size


def test_parameter_errors_scale_with_noise():
    class Res:  # a linear model y = p0 + p1 x with unit residuals
        jac = np.column_stack([np.ones(100), np.linspace(-1, 1, 100)])
        fun = np.ones(100)

    e = parameter_errors(Res, 100)
    assert e[0] == pytest.approx(0.1, rel=0.05)
    Res.fun = 3 * np.ones(100)  # reduced chi^2 9: errors x 3
    assert parameter_errors(Res, 100)[0] == pytest.approx(0.3, rel=0.05)
