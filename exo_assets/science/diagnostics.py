"""Physical vetting diagnostics of one transit signal (Dagster-free, pure functions on arrays).

`compute_diagnostics` measures, on a cleaned and detrended light curve (time in days BKJD/BTJD,
relative flux ~1.0), the quantities a human vetter or the Kepler Robovetter looks at: depth and
signal-to-noise, odd/even depth difference, secondary eclipse, V-shape, a Mandel-Agol fit with the
implied stellar density, a narrow box-least-squares refinement and per-transit consistency. Every
column is a measurement; where one is not measurable it is NaN and `reasons[column]` says why.
`DIAGNOSTIC_SCHEMA` lists the columns with unit and meaning.

Windows (phase measured from mid-transit, D = catalog duration T14):
- full window |phase| < D/2 (box of the transit): SNR, MES, per-transit statistics;
- core window |phase| < D/4 (flat bottom for planets): depth, odd/even depths;
- out of transit |phase| >= D: scatter (1.4826 x MAD) over all of it; baseline (median) over the
  local annulus D <= |phase| < 3D, so a slightly imperfect detrending does not bias depths.

All uncertainties are white-noise estimates from the out-of-transit robust scatter.

Epoch: when the transit is significant (trapezoid depth >= 7 sigma) the windows are centred on the
trapezoid-fitted centre rather than the catalog epoch (a stale ephemeris would otherwise bias every
window measurement); the shift is the `epoch_offset_days` column. Other known signals of the same
star can be masked out first (`other_signals`), so that a sibling planet's transits do not pose
as this signal's odd/even difference, secondary or extra depth.

Models: the trapezoid and the Mandel-Agol model (batman, quadratic limb darkening fixed from Teff
with `limb_darkening`, circular orbit, period fixed; free: baseline, centre, Rp/Rs, b, a/Rs) are
averaged over each phase bin convolved with one exposure (mid-point sub-samples), so long-cadence
smearing does not masquerade as a V shape or a low stellar density.

Speed: the trapezoid and Mandel-Agol fits run on the folded curve binned to ~150 points around
the transit; the box-least-squares refinement only sees cadences within a few durations of the
transit phase (enough for the narrow period grid); the search over other phases uses bincount
sums. All of it takes ~0.1-0.2 s for a 65,000-cadence Kepler curve on one core.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from exo_assets.science.views import phase_fold, transit_number

G_CGS = 6.674e-8  # cm^3 g^-1 s^-2
RSUN_CM = 6.957e10
DAY_S = 86400.0

#: Column -> (unit, meaning) of the diagnostics; the feature table schema is built from it.
DIAGNOSTIC_SCHEMA: dict[str, tuple[str, str]] = {
    "n_points": ("", "finite cadences used"),
    "n_in_transit": ("", "cadences within the transit window |phase| < T14/2"),
    "n_transits": ("", "number of individual transits with at least one in-transit cadence"),
    "oot_scatter_ppm": ("ppm", "robust (1.4826 x MAD) scatter of the out-of-transit flux per cadence"),
    "depth_ppm": ("ppm", "transit depth: local out-of-transit median minus mean flux in the core "
                          "|phase| < T14/4"),
    "depth_err_ppm": ("ppm", "1-sigma uncertainty of depth_ppm (scatter / sqrt(core cadences))"),
    "transit_snr": ("", "box depth over the full window / scatter x sqrt(in-transit cadences)"),
    "mes": ("", "multiple-event statistic: sum of single-event statistics (per-transit box SNR)"
                   " / sqrt(transits)"),
    "odd_depth_ppm": ("ppm", "core depth of odd-numbered transits (transit number round((t - t0)/P))"),
    "even_depth_ppm": ("ppm", "core depth of even-numbered transits"),
    "odd_even_sigma": ("sigma", "|odd - even depth| over its combined uncertainty"),
    "secondary_depth_ppm": ("ppm", "box depth (width T14) at phase 0.5 against the local baseline there"),
    "secondary_sigma": ("sigma", "significance of secondary_depth_ppm (positive = dip)"),
    "max_other_sigma": ("sigma", "largest box-dip significance (width T14) at any phase at least T14 away "
                                     "from the transit"),
    "max_other_phase": ("orbital phase 0-1", "phase of max_other_sigma (0 = transit)"),
    "epoch_offset_days": ("d", "trapezoid-fitted transit centre minus catalog epoch (the epoch used for the "
                                "window measurements)"),
    "trap_depth_ppm": ("ppm", "depth of the best-fitting trapezoid"),
    "trap_t14_days": ("d", "total duration T14 of the best-fitting trapezoid"),
    "v_shape": ("", "trapezoid (ingress + egress) / T14: 0 = box, 1 = V"),
    "ma_rp_rs": ("", "Mandel-Agol fit: planet-to-star radius ratio Rp/Rs"),
    "ma_b": ("", "Mandel-Agol fit: impact parameter b"),
    "ma_a_rs": ("", "Mandel-Agol fit: scaled semi-major axis a/Rs"),
    "ma_t14_days": ("d", "T14 derived from the Mandel-Agol parameters"),
    "ma_u1": ("", "quadratic limb-darkening u1 used (fixed from Teff, see limb_darkening)"),
    "ma_u2": ("", "quadratic limb-darkening u2 used"),
    "ma_delta_bic": ("", "BIC(flat) - BIC(transit) on the binned folded curve (positive favours a transit)"),
    "ma_fit_status": ("", "string: 'ok' or 'failed: <reason>'"),
    "rho_star_fit_cgs": ("g cm^-3", "stellar density implied by a/Rs and P: 3 pi (a/Rs)^3 / (G P^2)"),
    "rho_star_catalog_cgs": ("g cm^-3", "catalog stellar density 3 g / (4 pi G R) from log g and radius"),
    "density_ratio": ("", "rho_star_fit_cgs / rho_star_catalog_cgs"),
    "duration_ratio": ("", "observed T14 (trapezoid) over P/pi arcsin(Rs/a) with a/Rs from the catalog "
                           "density"),
    "bls_power": ("", "astropy BoxLeastSquares log-likelihood power at the peak of a narrow grid around P"),
    "bls_sde": ("", "signal detection efficiency (peak - mean) / std of that narrow periodogram"),
    "bls_period_ratio": ("", "BLS best period / catalog period"),
    "bls_t0_offset_days": ("d", "BLS best mid-transit time minus catalog epoch (nearest transit)"),
    "transit_depth_chi2_dof": ("", "chi^2 per degree of freedom of individual-transit depths about their "
                                   "weighted mean"),
    "single_event_fraction": ("", "largest single transit's share of the summed in-transit flux deficit "
                                  "(1 = one event)"),
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
        return 3.0 * 10.0 ** self.logg_cgs / (4.0 * math.pi * G_CGS * self.radius_rsun * RSUN_CM)


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


# --- limb darkening -----------------------------------------------------------------------------

#: Approximate quadratic limb-darkening coefficients (u1, u2) at log g = 4.5, solar metallicity,
#: read off Claret & Bloemen (2011, Kepler band) and Claret (2017, TESS band), by Teff (K).
#: Linear interpolation in Teff, clamped at the ends; NaN Teff -> 5750 K. The log g dependence over
#: 4.0-5.0 is below ~0.03 in u1 and is ignored. Good to ~0.05, ample for vetting features.
LIMB_DARKENING_TABLE: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    "Kepler": ((3500, 4000, 4500, 5000, 5750, 6500, 7500),
               (0.47, 0.62, 0.57, 0.50, 0.41, 0.32, 0.25),
               (0.27, 0.11, 0.16, 0.20, 0.26, 0.30, 0.33)),
    "TESS": ((3500, 4000, 4500, 5000, 5750, 6500, 7500),
             (0.27, 0.45, 0.43, 0.40, 0.33, 0.26, 0.20),
             (0.33, 0.18, 0.19, 0.21, 0.23, 0.27, 0.29)),
}


def limb_darkening(teff_k: float, logg_cgs: float = 4.5, band: str = "Kepler") -> tuple[float, float]:
    """Quadratic limb-darkening (u1, u2) for a star of `teff_k` (K) in `band` ("Kepler"/"K2"/"TESS").

    `logg_cgs` is accepted for the interface but ignored (weak dependence, see the table).
    """
    table = LIMB_DARKENING_TABLE["TESS" if band == "TESS" else "Kepler"]
    teff = 5750.0 if not np.isfinite(teff_k) else float(teff_k)
    return float(np.interp(teff, table[0], table[1])), float(np.interp(teff, table[0], table[2]))


# --- helpers ------------------------------------------------------------------------------------

def _robust_std(v: np.ndarray) -> float:
    if v.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def cadence_days(time: np.ndarray) -> float:
    """Typical cadence: median positive time step, days (NaN for < 2 points)."""
    if time.size < 2:
        return float("nan")
    dt = np.diff(np.sort(time))
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else float("nan")


def _binned_fold(phase: np.ndarray, flux: np.ndarray, half: float, nbins: int):
    """Mean flux in `nbins` equal bins over |phase| < half.

    Returns (centres, mean flux, counts) of the non-empty bins and the bin width (days).
    """
    sel = np.abs(phase) < half
    x, y = phase[sel], flux[sel]
    width = 2.0 * half / nbins
    idx = np.minimum(((x + half) / width).astype(np.int64), nbins - 1)
    n = np.bincount(idx, minlength=nbins)
    sy = np.bincount(idx, y, minlength=nbins)
    ok = n > 0
    centres = -half + width * (np.arange(nbins) + 0.5)
    return centres[ok], sy[ok] / n[ok], n[ok], width


def _integration_offsets(bin_width: float, exp_time: float, n_bin: int, n_exp: int) -> np.ndarray:
    """Sub-sample offsets (days) that average a model over a phase bin convolved with one exposure."""
    ob = ((np.arange(n_bin) + 0.5) / n_bin - 0.5) * bin_width
    oe = ((np.arange(n_exp) + 0.5) / n_exp - 0.5) * exp_time if n_exp > 1 else np.zeros(1)
    return (ob[:, None] + oe[None, :]).ravel()


def trapezoid(x: np.ndarray, tc: float, depth: float, t14: float, v: float) -> np.ndarray:
    """Trapezoid transit: relative flux 1 - depth x shape at phase x (days).

    Args:
        tc: centre (days); depth: fractional depth; t14: total duration (days);
        v: (ingress + egress) / t14 in [0, 1] (0 box, 1 V).
    """
    ingress = max(0.5 * v * t14, 1e-9)
    d = np.abs(x - tc)
    shape = np.clip((0.5 * t14 - d) / ingress, 0.0, 1.0)
    return 1.0 - depth * shape


def t14_from_params(period: float, rp_rs: float, b: float, a_rs: float) -> float:
    """Total transit duration (days) of a circular orbit: P/pi asin(sqrt((1+k)^2 - b^2) / (a/Rs sin i))."""
    chord = (1.0 + rp_rs) ** 2 - b**2
    if not (chord > 0 and a_rs > b):
        return float("nan")
    sin_i = math.sqrt(1.0 - (b / a_rs) ** 2)
    arg = math.sqrt(chord) / (a_rs * sin_i)
    return float(period / math.pi * math.asin(min(arg, 1.0)))


def density_from_a_rs(a_rs: float, period_days: float) -> float:
    """Stellar density (g cm^-3) implied by a/Rs and the period: 3 pi (a/Rs)^3 / (G P^2)."""
    p = period_days * DAY_S
    return float(3.0 * math.pi * a_rs**3 / (G_CGS * p * p))


def a_rs_from_density(rho_cgs: float, period_days: float) -> float:
    """a/Rs of a circular orbit of `period_days` around a star of density `rho_cgs` (g cm^-3)."""
    p = period_days * DAY_S
    return float((G_CGS * rho_cgs * p * p / (3.0 * math.pi)) ** (1.0 / 3.0))


# --- fits ---------------------------------------------------------------------------------------

def _fit_trapezoid(x, y, sig, duration, offsets):
    from scipy.optimize import least_squares

    ns = offsets.size
    xs = (x[:, None] + offsets[None, :]).ravel()

    def resid(p):
        f0, tc, depth, t14, v = p
        model = trapezoid(xs, tc, depth, t14, v)
        if ns > 1:
            model = model.reshape(-1, ns).mean(axis=1)
        return (y - f0 * model) / sig

    core = np.abs(x) < 0.25 * duration
    depth0 = 1.0 - float(np.median(y[core])) if core.any() else 1e-4
    depth0 = float(np.clip(depth0, 1e-6, 0.9))
    hi_t14 = 3.5 * duration
    p0 = [1.0, 0.0, depth0, duration, 0.3]
    lo = [0.5, -0.5 * duration, 0.0, 0.1 * duration, 0.0]
    hi = [1.5, 0.5 * duration, 1.0, hi_t14, 1.0]
    x_scale = [1e-4, 0.05 * duration, max(depth0, 1e-5), 0.1 * duration, 0.1]
    res = least_squares(resid, p0, bounds=(lo, hi), x_scale=x_scale, max_nfev=300)
    return res


class _MandelAgol:
    """Batman quadratic-limb-darkening model on fixed (supersampled) phase points."""

    def __init__(self, x, period, u, offsets):
        import batman

        self.period = period
        self.params = batman.TransitParams()
        p = self.params
        p.t0, p.per, p.rp, p.a, p.inc, p.ecc, p.w = 0.0, period, 0.05, 20.0, 89.0, 0.0, 90.0
        p.u, p.limb_dark = list(u), "quadratic"
        self.ns = offsets.size
        xs = (np.asarray(x, dtype=np.float64)[:, None] + offsets[None, :]).ravel()
        self.model = batman.TransitModel(p, np.ascontiguousarray(xs))

    def __call__(self, tc, k, b, a_rs):
        p = self.params
        p.t0, p.rp, p.a = tc, k, a_rs
        p.inc = math.degrees(math.acos(min(b / a_rs, 1.0)))
        lc = self.model.light_curve(p)
        return lc.reshape(-1, self.ns).mean(axis=1) if self.ns > 1 else lc


def _fit_mandel_agol(x, y, sig, period, duration, depth_guess, u, offsets):
    from scipy.optimize import least_squares

    model = _MandelAgol(x, period, u, offsets)

    def resid(p):
        f0, tc, k, b, a_rs = p
        return (y - f0 * model(tc, k, b, a_rs)) / sig

    k0 = math.sqrt(max(depth_guess, 1e-6) / 1.15)
    b0 = 0.3
    s = math.sin(math.pi * min(duration / period, 0.49))
    a0 = float(np.clip(math.sqrt((1 + k0) ** 2 - b0**2) / s, 1.6, 4000.0))
    p0 = [1.0, 0.0, min(k0, 1.0), b0, a0]
    lo = [0.5, -0.5 * duration, 1e-4, 0.0, 1.5]
    hi = [1.5, 0.5 * duration, 1.5, 1.6, 5000.0]
    return least_squares(resid, p0, bounds=(lo, hi), x_scale=[1e-4, 0.05 * duration, 0.1 * k0, 0.1, 0.1 * a0],
                         max_nfev=400)


def mandel_agol_flux(x: np.ndarray, period: float, rp_rs: float, b: float, a_rs: float, u: tuple[float, float],
                     tc: float = 0.0, f0: float = 1.0, exposure_days: float = 0.0) -> np.ndarray:
    """The Mandel-Agol model of `compute_diagnostics` (batman, quadratic limb darkening, circular orbit).

    Args:
        x: days from mid-transit; period: days; rp_rs, b, a_rs: fitted Rp/Rs, impact parameter, a/Rs;
        u: (u1, u2); tc: centre offset, days; f0: out-of-transit level; exposure_days: integration
            time each point is averaged over (0 = instantaneous).
    Returns relative flux at x.
    """
    offsets = _integration_offsets(0.0, exposure_days, 1, 7 if exposure_days > 0 else 1)
    return f0 * _MandelAgol(np.asarray(x, dtype=np.float64), period, u, offsets)(tc, rp_rs, b, a_rs)


# --- BLS ----------------------------------------------------------------------------------------

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


# --- main entry ---------------------------------------------------------------------------------

def _empty_result(reason: str) -> tuple[dict, dict]:
    out = {c: float("nan") for c in NUMERIC_COLUMNS}
    out["ma_fit_status"] = f"failed: {reason}"
    reasons = {c: reason for c in NUMERIC_COLUMNS}
    return out, reasons


_TRANSIT_COLUMNS = (
    "depth_ppm", "depth_err_ppm", "transit_snr", "mes", "transit_depth_chi2_dof", "single_event_fraction",
    "odd_depth_ppm", "even_depth_ppm", "odd_even_sigma", "epoch_offset_days", "trap_depth_ppm",
    "trap_t14_days", "v_shape", "ma_rp_rs", "ma_b", "ma_a_rs", "ma_t14_days", "ma_delta_bic",
    "rho_star_fit_cgs", "density_ratio", "duration_ratio", "bls_power", "bls_sde", "bls_period_ratio",
    "bls_t0_offset_days",
)


def compute_diagnostics(time: np.ndarray, flux: np.ndarray, flux_err: np.ndarray | None, period: float,
                        t0: float, duration: float, star: StellarParams | None = None,
                        config: DiagnosticsConfig = DiagnosticsConfig(), other_signals=(),
                        details: dict | None = None) -> dict:
    """All vetting diagnostics of one signal.

    The catalog epoch is first refined by the trapezoid fit (when the transit is significant,
    see `DiagnosticsConfig.refine_epoch_min_snr`), so that a slightly stale ephemeris does not
    bias the window measurements; the shift is reported as `epoch_offset_days`.

    Args:
        time: days (BKJD/BTJD); flux: detrended relative flux (~1.0); flux_err: its uncertainty
            (used as BLS weights; may be None). Non-finite cadences are dropped.
        period, t0, duration: catalog ephemeris, days (duration = T14).
        star: catalog stellar parameters (limb darkening, expected density and duration).
        config: knobs.
        other_signals: (period, epoch, duration) of the star's *other* known signals, days; their
            transits (+-0.75 duration) are removed first so that they cannot pose as this signal's
            odd/even difference, secondary or extra depth (multi-planet systems).
        details: optional dict that receives what the fits saw, for plots and reports (not features):
            "t0" (epoch used for the windows, days), "sigma" (out-of-transit scatter, relative flux),
            "fit_x" / "fit_y" / "fit_sig" (the binned folded curve the fits ran on: days from "t0",
            mean relative flux, 1-sigma), and when the Mandel-Agol fit ran "ma_tc" (fitted centre,
            days from "t0"), "ma_f0" (baseline), "ma_model_y" (the fitted model on fit_x), "bic_transit"
            and "bic_flat" (BIC of the transit and of the flat model on the binned curve; their
            difference is ma_delta_bic).

    Returns:
        dict with every column of `DIAGNOSTIC_SCHEMA` (floats, NaN where not measurable;
        "ma_fit_status" a string) plus "reasons": {column: why it is NaN}.
    """
    star = star or StellarParams()
    t0_catalog = float(t0)
    nan = float("nan")
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    err = np.asarray(flux_err, dtype=np.float64) if flux_err is not None else np.full(time.size, np.nan)
    if not (np.isfinite(period) and period > 0 and np.isfinite(t0) and np.isfinite(duration)
            and 0 < duration < 0.5 * period):
        out, reasons = _empty_result(
            "invalid ephemeris (period, epoch or duration missing, or duration >= P/2)")
        out["reasons"] = reasons
        return out
    ok = np.isfinite(time) & np.isfinite(flux)
    others = [tuple(map(float, o)) for o in other_signals]
    if others:
        from exo_assets.science.cleaning import transit_mask

        ok &= ~transit_mask(time, others, 1.5)
    time, flux, err = time[ok], flux[ok], err[ok]
    out: dict = {c: nan for c in NUMERIC_COLUMNS}
    reasons: dict[str, str] = {}
    out["ma_fit_status"] = "failed: not attempted"

    def fail(cols, why):
        for c in cols:
            out[c] = nan
            reasons.setdefault(c, why)

    def finish():
        for c in NUMERIC_COLUMNS:
            v = out[c]
            out[c] = float(v) if v is not None else nan
            if np.isfinite(out[c]):
                reasons.pop(c, None)
            elif c not in reasons:
                reasons[c] = "not measurable (non-finite result)"
        out["reasons"] = reasons
        return out

    out["n_points"] = float(time.size)
    if time.size < 10:
        fail(NUMERIC_COLUMNS[1:], f"only {time.size} finite cadences")
        out["ma_fit_status"] = f"failed: only {time.size} finite cadences"
        return finish()

    P, D = float(period), float(duration)
    minp = config.min_in_transit_points
    phase = phase_fold(time, P, t0)
    oot = np.abs(phase) >= D
    if oot.sum() < 10:
        fail(NUMERIC_COLUMNS[1:], "fewer than 10 out-of-transit cadences")
        out["ma_fit_status"] = "failed: fewer than 10 out-of-transit cadences"
        return finish()
    sigma = _robust_std(flux[oot])
    if not sigma > 0:
        sigma = float(np.std(flux[oot])) or 1e-6
    out["oot_scatter_ppm"] = sigma * 1e6

    # --- trapezoid fit (V-shape, T14) and epoch refinement -----------------------------------
    fit = _prepare_fit(phase, flux, sigma, P, D, time, config)
    trap = None
    if isinstance(fit, str):
        fail(["trap_depth_ppm", "trap_t14_days", "v_shape", "epoch_offset_days"], fit)
    else:
        trap = _trapezoid_measure(fit, D, out, reasons)
    if trap is not None:
        tc, t_depth, t_snr = trap
        if t_snr >= config.refine_epoch_min_snr:
            out["epoch_offset_days"] = tc
            t0 = t0 + tc
            phase = phase_fold(time, P, t0)
        else:
            fail(["epoch_offset_days"], f"transit too weak to refine the epoch (trapezoid SNR {t_snr:.1f} < "
                                        f"{config.refine_epoch_min_snr:g}); catalog epoch used")

    aph = np.abs(phase)
    in_full = aph < 0.5 * D
    in_core = aph < 0.25 * D
    oot = aph >= D
    annulus = oot & (aph < config.baseline_outer_durations * D)
    n_in = int(in_full.sum())
    out["n_in_transit"] = float(n_in)
    epochs = transit_number(time, P, t0)
    out["n_transits"] = float(np.unique(epochs[in_full]).size)
    baseline = float(np.median(flux[annulus])) if annulus.sum() >= 10 else float(np.median(flux[oot]))

    # --- depth, SNR, MES, per-transit statistics ---------------------------------------------
    n_core = int(in_core.sum())
    has_transit = n_in >= minp and n_core >= minp
    if not has_transit:
        fail(_TRANSIT_COLUMNS,
             f"too few in-transit cadences ({n_in} in T14, {n_core} in the core; need {minp})")
        out["ma_fit_status"] = "failed: no in-transit data"
    else:
        depth = baseline - float(np.mean(flux[in_core]))
        out["depth_ppm"] = depth * 1e6
        out["depth_err_ppm"] = sigma / math.sqrt(n_core) * 1e6
        box = baseline - float(np.mean(flux[in_full]))
        out["transit_snr"] = box / sigma * math.sqrt(n_in)
        ep_in = epochs[in_full]
        uniq, inv = np.unique(ep_in, return_inverse=True)
        n_i = np.bincount(inv).astype(float)
        s_i = np.bincount(inv, baseline - flux[in_full])  # summed deficit per transit
        ses = s_i / (sigma * np.sqrt(n_i))
        out["mes"] = float(ses.sum() / math.sqrt(uniq.size))
        if uniq.size >= 2:
            d_i = s_i / n_i
            w_i = n_i / sigma**2
            mean_d = float(np.sum(w_i * d_i) / np.sum(w_i))
            out["transit_depth_chi2_dof"] = float(np.sum(w_i * (d_i - mean_d) ** 2) / (uniq.size - 1))
        else:
            fail(["transit_depth_chi2_dof"], "fewer than 2 transits with data")
        pos = np.clip(s_i, 0.0, None)
        if pos.sum() > 0:
            out["single_event_fraction"] = float(pos.max() / pos.sum())
        else:
            fail(["single_event_fraction"], "no in-transit flux deficit (summed signal <= 0)")

        # --- odd / even ---------------------------------------------------------------------
        odd = (epochs % 2) == 1
        d_pe = []
        for name, sel in (("odd", in_core & odd), ("even", in_core & ~odd)):
            n = int(sel.sum())
            if n >= minp:
                d = baseline - float(np.mean(flux[sel]))
                out[f"{name}_depth_ppm"] = d * 1e6
                d_pe.append((d, sigma / math.sqrt(n)))
            else:
                fail([f"{name}_depth_ppm"], f"too few {name}-transit core cadences ({n})")
        if len(d_pe) == 2:
            (d1, e1), (d2, e2) = d_pe
            out["odd_even_sigma"] = abs(d1 - d2) / math.hypot(e1, e2)
        else:
            fail(["odd_even_sigma"], "odd or even transits have no in-transit data")

    # --- secondary eclipse at phase 0.5 ------------------------------------------------------
    ph2 = phase_fold(time, P, t0 + 0.5 * P)
    a2 = np.abs(ph2)
    sec = a2 < 0.5 * D
    n_sec = int(sec.sum())
    if n_sec >= minp:
        ann2 = (a2 >= D) & (a2 < config.baseline_outer_durations * D) & oot
        base2 = float(np.median(flux[ann2])) if ann2.sum() >= 10 else baseline
        d2 = base2 - float(np.mean(flux[sec]))
        out["secondary_depth_ppm"] = d2 * 1e6
        out["secondary_sigma"] = d2 / sigma * math.sqrt(n_sec)
    else:
        fail(["secondary_depth_ppm", "secondary_sigma"], f"too few cadences at phase 0.5 ({n_sec})")

    # --- strongest dip at any other phase (bincount on a fine phase grid) ---------------------
    _other_phase_search(time, flux, P, t0, D, sigma, baseline, config, out, reasons)

    if details is not None:
        details["t0"], details["sigma"] = float(t0), float(sigma)
    if has_transit:
        fit = _prepare_fit(phase, flux, sigma, P, D, time, config)
        if details is not None and not isinstance(fit, str):
            details["fit_x"], details["fit_y"], details["fit_sig"] = fit.x, fit.y, fit.sig
        if isinstance(fit, str):
            fail(["ma_rp_rs", "ma_b", "ma_a_rs", "ma_t14_days", "ma_delta_bic", "rho_star_fit_cgs"], fit)
            out["ma_fit_status"] = f"failed: {fit}"
        else:
            depth_ppm = out["trap_depth_ppm"] if np.isfinite(out["trap_depth_ppm"]) else out["depth_ppm"]
            depth_guess = depth_ppm * 1e-6
            _mandel_agol_measure(fit, P, D, depth_guess, star, config, out, reasons, details)
        if out["n_transits"] >= 2:
            _bls_refine(time, flux, err, phase, P, t0_catalog, D, config, out, reasons)
        else:
            fail(["bls_power", "bls_sde", "bls_period_ratio", "bls_t0_offset_days"],
                 "a single transit does not constrain a period")

    # --- stellar density and expected duration -----------------------------------------------
    rho_cat = star.density_cgs()
    out["rho_star_catalog_cgs"] = rho_cat
    if not np.isfinite(rho_cat):
        fail(["rho_star_catalog_cgs", "density_ratio", "duration_ratio"],
             "catalog log g or stellar radius missing")
    else:
        if np.isfinite(out["rho_star_fit_cgs"]):
            out["density_ratio"] = out["rho_star_fit_cgs"] / rho_cat
        else:
            fail(["density_ratio"], reasons.get("rho_star_fit_cgs", "no fitted a/Rs"))
        a_cat = a_rs_from_density(rho_cat, P)
        t_obs = out["trap_t14_days"] if np.isfinite(out["trap_t14_days"]) else out["ma_t14_days"]
        if a_cat > 1 and np.isfinite(t_obs):
            out["duration_ratio"] = t_obs / (P / math.pi * math.asin(1.0 / a_cat))
        else:
            fail(["duration_ratio"],
                 "no fitted T14" if a_cat > 1 else "catalog a/Rs <= 1 (star larger than orbit)")
    return finish()


def _other_phase_search(time, flux, P, t0, D, sigma, baseline, config, out, reasons):
    """Box (width ~T14) dip significance on a grid of phases >= T14 away from the transit."""
    step = config.other_phase_step_durations * D
    nb = int(math.ceil(P / step))
    if nb > config.max_other_phase_bins:
        nb = config.max_other_phase_bins
    bw = P / nb
    width = max(int(round(D / bw)), 1)
    ph = np.mod(time - t0, P)
    idx = np.minimum((ph / bw).astype(np.int64), nb - 1)
    n = np.bincount(idx, minlength=nb).astype(float)
    s = np.bincount(idx, baseline - flux, minlength=nb)
    # box of `width` fine bins starting at bin j (wrapping around the orbit)
    n_c = np.concatenate([[0.0], np.cumsum(np.concatenate([n, n[:width]]))])
    s_c = np.concatenate([[0.0], np.cumsum(np.concatenate([s, s[:width]]))])
    nbox = n_c[width:width + nb] - n_c[:nb]
    sbox = s_c[width:width + nb] - s_c[:nb]
    centre = np.mod((np.arange(nb) + 0.5 * width) * bw, P)
    away = (centre > D) & (centre < P - D) & (nbox >= config.min_in_transit_points)
    if not away.any():
        for c in ("max_other_sigma", "max_other_phase"):
            out[c] = float("nan")
            reasons[c] = "no phase >= T14 from the transit with enough cadences"
        return
    sig = np.full(nb, -np.inf)
    sig[away] = sbox[away] / (sigma * np.sqrt(nbox[away]))
    j = int(np.argmax(sig))
    out["max_other_sigma"] = float(sig[j])
    out["max_other_phase"] = float(centre[j] / P)


@dataclass
class _FitData:
    x: np.ndarray       # bin centres, days from mid-transit
    y: np.ndarray       # mean relative flux per bin
    sig: np.ndarray     # 1-sigma per bin
    n_in: int           # cadences within T14 in the fit window
    offsets: np.ndarray  # integration sub-sample offsets, days


def _prepare_fit(phase, flux, sigma, P, D, time, config) -> _FitData | str:
    """Folded curve binned around the transit for the fits, or the reason it cannot be fitted."""
    half = min(config.fit_half_width_durations * D, 0.5 * P)
    x, y, n, bin_width = _binned_fold(phase, flux, half, config.fit_bins)
    if x.size < 10:
        return f"only {x.size} non-empty bins around the transit"
    exp_time = cadence_days(time)
    if not np.isfinite(exp_time):
        exp_time = 0.0
    # Integrate the models over each phase bin (3 sub-samples) convolved with one exposure
    # (enough sub-samples that each spans <= T14 / supersample_per_duration).
    ss = int(np.clip(math.ceil(exp_time * config.supersample_per_duration / D), 1, 15)) if exp_time > 0 else 1
    n_in = int(n[np.abs(x) < 0.5 * D].sum())
    return _FitData(x, y, sigma / np.sqrt(n), n_in, _integration_offsets(bin_width, exp_time, 3, ss))


def _trapezoid_measure(fit: _FitData, D, out, reasons):
    """Fill the trapezoid columns; return (centre offset, depth, SNR) or None."""
    cols = ["trap_depth_ppm", "trap_t14_days", "v_shape", "epoch_offset_days"]
    try:
        res = _fit_trapezoid(fit.x, fit.y, fit.sig, D, fit.offsets)
    except Exception as exc:  # noqa: BLE001 - any numerical failure becomes a reason
        for c in cols:
            out[c] = float("nan")
            reasons[c] = f"trapezoid fit failed ({type(exc).__name__}: {exc})"
        return None
    f0, tc, depth, t14, v = (float(p) for p in res.x)
    if not res.success:
        for c in cols:
            out[c] = float("nan")
            reasons[c] = f"trapezoid fit did not converge ({res.message})"
        return None
    out["trap_depth_ppm"] = depth * 1e6
    out["trap_t14_days"] = t14
    out["v_shape"] = v
    inside = np.abs(fit.x) < 0.5 * D
    sig_mean = float(np.sqrt(1.0 / np.sum(1.0 / fit.sig[inside] ** 2))) if inside.any() else float("inf")
    return tc, depth, depth / sig_mean if sig_mean > 0 else 0.0


def _mandel_agol_measure(fit: _FitData, P, D, depth_guess, star, config, out, reasons, details=None):
    """Fill the Mandel-Agol columns and `ma_fit_status`."""
    ma_cols = ["ma_rp_rs", "ma_b", "ma_a_rs", "ma_t14_days", "ma_delta_bic", "rho_star_fit_cgs"]
    u1, u2 = limb_darkening(star.teff_k, star.logg_cgs, config.band)
    out["ma_u1"], out["ma_u2"] = u1, u2
    x, y, sig = fit.x, fit.y, fit.sig
    try:
        res = _fit_mandel_agol(x, y, sig, P, D, depth_guess, (u1, u2), fit.offsets)
    except Exception as exc:  # noqa: BLE001
        why = f"Mandel-Agol fit raised {type(exc).__name__}: {exc}"
        for c in ma_cols:
            out[c] = float("nan")
            reasons[c] = why
        out["ma_fit_status"] = f"failed: {why}"
        return
    f0, tc, k, b, a_rs = (float(v) for v in res.x)
    chi2_tr = float(np.sum(res.fun**2))
    w = 1.0 / sig**2
    flat = float(np.sum(w * y) / np.sum(w))
    chi2_flat = float(np.sum(w * (y - flat) ** 2))
    nlog = math.log(x.size)
    out["ma_delta_bic"] = (chi2_flat + 1 * nlog) - (chi2_tr + 5 * nlog)
    if details is not None:
        details.update(bic_transit=chi2_tr + 5 * nlog, bic_flat=chi2_flat + 1 * nlog, ma_f0=f0, ma_tc=tc,
                       ma_model_y=y - res.fun * sig)  # resid = (y - model) / sig
    if not res.success or not np.all(np.isfinite(res.x)):
        why = f"least squares did not converge ({res.message})"
        for c in ("ma_rp_rs", "ma_b", "ma_a_rs", "ma_t14_days", "rho_star_fit_cgs"):
            out[c] = float("nan")
            reasons[c] = why
        out["ma_fit_status"] = f"failed: {why}"
        return
    out["ma_rp_rs"], out["ma_b"], out["ma_a_rs"] = k, b, a_rs
    out["ma_t14_days"] = t14_from_params(P, k, b, a_rs)
    if not np.isfinite(out["ma_t14_days"]):
        reasons["ma_t14_days"] = "fitted b >= 1 + Rp/Rs (no transit chord)"
    out["rho_star_fit_cgs"] = density_from_a_rs(a_rs, P)
    out["ma_fit_status"] = "ok"


def _bls_refine(time, flux, err, phase, P, t0, D, config, out, reasons):
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
