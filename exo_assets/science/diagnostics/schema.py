"""Columns, units and knobs of the diagnostics, the catalog star they use, and the physical constants."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

G_CGS = 6.674e-8  # cm^3 g^-1 s^-2
RSUN_CM = 6.957e10
DAY_S = 86400.0

#: Column -> (unit, meaning) of the diagnostics; the feature table schema is built from it.
DIAGNOSTIC_SCHEMA: dict[str, tuple[str, str]] = {
    "n_points": ("", "finite cadences used"),
    "n_in_transit": ("", "cadences within the transit window |phase| < T14/2"),
    "n_transits": ("", "number of individual transits with at least one in-transit cadence"),
    "oot_scatter_ppm": ("ppm", "robust (1.4826 x MAD) scatter of the out-of-transit flux per cadence"),
    "depth_ppm": (
        "ppm",
        "transit depth: local out-of-transit median minus mean flux in the core |phase| < T14/4",
    ),
    "red_noise_beta": (
        "",
        "time-averaging red-noise factor beta (>= 1) of the out-of-transit curve at T14 "
        "(Pont et al. 2006; Winn et al. 2008); every white-noise error below is multiplied by it",
    ),
    "depth_err_ppm": ("ppm", "1-sigma uncertainty of depth_ppm (scatter x beta / sqrt(core cadences))"),
    "transit_snr": ("", "box depth over the full window / (scatter x beta) x sqrt(in-transit cadences)"),
    "mes": (
        "",
        "multiple-event statistic: sum of single-event statistics (per-transit box SNR, scatter x beta)"
        " / sqrt(transits)",
    ),
    "odd_depth_ppm": ("ppm", "core depth of odd-numbered transits (transit number round((t - t0)/P))"),
    "even_depth_ppm": ("ppm", "core depth of even-numbered transits"),
    "odd_even_sigma": (
        "sigma",
        "|odd - even depth| over its combined uncertainty (scatter x beta, inflated by "
        "the per-transit depth scatter about each parity's mean when larger)",
    ),
    "secondary_depth_ppm": ("ppm", "box depth (width T14) at phase 0.5 against the local baseline there"),
    "secondary_sigma": ("sigma", "significance of secondary_depth_ppm (scatter x beta; positive = dip)"),
    "max_other_sigma": (
        "sigma",
        "trials-aware: largest box-dip significance (width T14) at any phase at least "
        "T14 from the transit, relative to the robust spread of the box dips at all "
        "those phases (model-shift style)",
    ),
    "max_other_phase": ("orbital phase 0-1", "phase of max_other_sigma (0 = transit)"),
    "epoch_offset_days": (
        "d",
        "trapezoid-fitted transit centre minus catalog epoch (the epoch used for the window measurements)",
    ),
    "trap_depth_ppm": ("ppm", "depth of the best-fitting trapezoid"),
    "trap_t14_days": ("d", "total duration T14 of the best-fitting trapezoid"),
    "v_shape": ("", "trapezoid (ingress + egress) / T14: 0 = box, 1 = V"),
    "ma_rp_rs": (
        "",
        "Mandel-Agol fit: planet-to-star radius ratio Rp/Rs (with the catalog stellar-density prior "
        "where the star's density is known)",
    ),
    "ma_b": ("", "Mandel-Agol fit: impact parameter b"),
    "ma_a_rs": ("", "Mandel-Agol fit: scaled semi-major axis a/Rs"),
    "ma_rp_rs_err": (
        "",
        "1-sigma uncertainty of ma_rp_rs (covariance of the fit, scaled by reduced chi^2 >= 1)",
    ),
    "ma_b_err": ("", "1-sigma uncertainty of ma_b"),
    "ma_a_rs_err": ("", "1-sigma uncertainty of ma_a_rs"),
    "ma_t14_days": ("d", "T14 derived from the Mandel-Agol parameters"),
    "ma_u1": ("", "quadratic limb-darkening u1 used (fixed from Teff and log g, see limb_darkening)"),
    "ma_u2": ("", "quadratic limb-darkening u2 used"),
    "ma_delta_bic": ("", "BIC(flat) - BIC(transit) on the binned folded curve (positive favours a transit)"),
    "ma_fit_status": ("", "string: 'ok' or 'failed: <reason>'"),
    "rho_star_fit_cgs": (
        "g cm^-3",
        "stellar density 3 pi (a/Rs)^3 / (G P^2) implied by the a/Rs of the fit "
        "WITHOUT the density prior (the light curve's own density, tested against "
        "the catalog's)",
    ),
    "rho_star_catalog_cgs": ("g cm^-3", "catalog stellar density 3 g / (4 pi G R) from log g and radius"),
    "density_ratio": ("", "rho_star_fit_cgs / rho_star_catalog_cgs"),
    "duration_ratio": (
        "",
        "observed T14 (trapezoid) over P/pi arcsin(Rs/a) with a/Rs from the catalog density",
    ),
    "bls_power": ("", "astropy BoxLeastSquares log-likelihood power at the peak of a narrow grid around P"),
    "bls_sde": ("", "signal detection efficiency (peak - mean) / std of that narrow periodogram"),
    "bls_period_ratio": ("", "BLS best period / catalog period"),
    "bls_t0_offset_days": ("d", "BLS best mid-transit time minus catalog epoch (nearest transit)"),
    "transit_depth_chi2_dof": (
        "",
        "chi^2 per degree of freedom of individual-transit depths about their weighted mean",
    ),
    "single_event_fraction": (
        "",
        "largest single transit's share of the summed in-transit flux deficit (1 = one event)",
    ),
}
#: Columns that hold strings rather than floats.
STRING_COLUMNS: frozenset[str] = frozenset({"ma_fit_status"})
NUMERIC_COLUMNS: list[str] = [c for c in DIAGNOSTIC_SCHEMA if c not in STRING_COLUMNS]


@dataclass(frozen=True)
class StellarParams:
    """Host-star parameters from the catalog (NaN where unknown).

    Attributes:
        teff_k: effective temperature, K.
        logg_cgs: log10 surface gravity, cm s^-2.
        radius_rsun: radius, R_sun.
    """

    teff_k: float = float("nan")
    logg_cgs: float = float("nan")
    radius_rsun: float = float("nan")

    def density_cgs(self) -> float:
        """Mean density 3 g / (4 pi G R), g cm^-3 (NaN without log g and radius)."""
        if not (np.isfinite(self.logg_cgs) and np.isfinite(self.radius_rsun) and self.radius_rsun > 0):
            return float("nan")
        return 3.0 * 10.0**self.logg_cgs / (4.0 * math.pi * G_CGS * self.radius_rsun * RSUN_CM)


@dataclass(frozen=True)
class DiagnosticsConfig:
    """Knobs of `compute_diagnostics`.

    Attributes:
        band: limb-darkening table, "Kepler" (Kepler and K2) or "TESS".
        min_in_transit_points: fewer cadences than this in a window makes its statistic NaN.
        baseline_outer_durations: outer edge of the local out-of-transit annulus, durations.
        fit_half_width_durations: the fits use |phase| < this many durations.
        fit_bins: bins of the folded curve the fits run on.
        bls_period_frac: BLS period grid spans at most +- this fraction of P ...
        bls_peak_widths: ... and at most +- this many BLS peak widths (P x T14 / baseline).
        bls_periods: number of trial periods.
        bls_duration_factors: trial durations as multiples of T14.
        other_phase_step_durations: grid step of the other-phase dip search, durations.
        max_other_phase_bins: cap on the number of phase bins of that search.
        refine_epoch_min_snr: the catalog epoch is moved to the trapezoid fit's centre when the
            trapezoid depth is at least this many sigma (else the catalog epoch is kept).
        supersample_per_duration: the fitted models are integrated over each exposure with enough
            sub-samples that one spans at most T14 / this (1 to 15 sub-samples).
        density_prior_sigma_ln: 1-sigma of the Gaussian prior on ln(stellar density) around the
            catalog's (log g 0.1 dex and R 10% give ~0.25; eccentricity widens it): the Mandel-Agol
            parameters (ma_*) come from the fit with this prior when the catalog density is known ...
        density_prior_max_dchi2: ... unless the prior raises the data chi^2 by more than this (a
            prior-data conflict, e.g. an eccentric orbit or a blend; then the free fit is reported).
    """

    band: str = "Kepler"
    min_in_transit_points: int = 3
    baseline_outer_durations: float = 3.0
    fit_half_width_durations: float = 2.0
    fit_bins: int = 150
    bls_period_frac: float = 0.02
    bls_peak_widths: float = 10.0
    bls_periods: int = 101
    bls_duration_factors: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)
    other_phase_step_durations: float = 0.25
    max_other_phase_bins: int = 20000
    refine_epoch_min_snr: float = 7.0
    supersample_per_duration: float = 40.0
    density_prior_sigma_ln: float = 0.35
    density_prior_max_dchi2: float = 9.0


def fail(out: dict, reasons: dict, cols, why: str) -> None:
    """Mark `cols` not measurable: NaN in `out`, `why` in `reasons` (a column's first reason is kept)."""
    for c in cols:
        out[c] = float("nan")
        reasons.setdefault(c, why)
