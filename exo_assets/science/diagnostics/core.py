"""`compute_diagnostics`: every vetting measurement of one signal, in order (see the package docstring)."""

from __future__ import annotations

import numpy as np

from exo_assets.science.diagnostics.bls import measure_bls
from exo_assets.science.diagnostics.density import measure_density
from exo_assets.science.diagnostics.depth import measure_depth
from exo_assets.science.diagnostics.folding import prepare_fit
from exo_assets.science.diagnostics.mandel_agol import MA_COLUMNS, measure_mandel_agol
from exo_assets.science.diagnostics.odd_even import measure_odd_even
from exo_assets.science.diagnostics.other_phases import measure_other_phases
from exo_assets.science.diagnostics.schema import NUMERIC_COLUMNS, DiagnosticsConfig, StellarParams, fail
from exo_assets.science.diagnostics.secondary import measure_secondary
from exo_assets.science.diagnostics.trapezoid import measure_trapezoid
from exo_assets.science.stats import robust_std, time_averaging_beta
from exo_assets.science.views import phase_fold, transit_number

#: Columns that need in-transit data (NaN, with one reason, when the windows hold too few cadences).
TRANSIT_COLUMNS = (
    "depth_ppm",
    "depth_err_ppm",
    "transit_snr",
    "mes",
    "transit_depth_chi2_dof",
    "single_event_fraction",
    "odd_depth_ppm",
    "even_depth_ppm",
    "odd_even_sigma",
    "epoch_offset_days",
    "trap_depth_ppm",
    "trap_t14_days",
    "v_shape",
    "ma_rp_rs",
    "ma_b",
    "ma_a_rs",
    "ma_t14_days",
    "ma_delta_bic",
    "rho_star_fit_cgs",
    "density_ratio",
    "ma_rp_rs_err",
    "ma_b_err",
    "ma_a_rs_err",
    "duration_ratio",
    "bls_power",
    "bls_sde",
    "bls_period_ratio",
    "bls_t0_offset_days",
)
BLS_COLUMNS = ("bls_power", "bls_sde", "bls_period_ratio", "bls_t0_offset_days")


def _finish(out: dict, reasons: dict) -> dict:
    """Floats everywhere, a reason for every NaN column and none for the others; `out["reasons"]`."""
    for c in NUMERIC_COLUMNS:
        v = out[c]
        out[c] = float(v) if v is not None else float("nan")
        if np.isfinite(out[c]):
            reasons.pop(c, None)
        elif c not in reasons:
            reasons[c] = "not measurable (non-finite result)"
    out["reasons"] = reasons
    return out


def _failed(out: dict, reasons: dict, why: str) -> dict:
    """Everything but n_points not measurable for `why`."""
    fail(out, reasons, NUMERIC_COLUMNS[1:], why)
    out["ma_fit_status"] = f"failed: {why}"
    return _finish(out, reasons)


def _refine_epoch(fit, P, D, t0, time, config, out, reasons):
    """Trapezoid fit; the epoch moves to its centre when the transit is significant. Returns (t0, phase)."""
    if isinstance(fit, str):
        fail(out, reasons, ["trap_depth_ppm", "trap_t14_days", "v_shape", "epoch_offset_days"], fit)
        return t0, None
    trap = measure_trapezoid(fit, D, out, reasons)
    if trap is None:
        return t0, None
    tc, _, t_snr = trap
    if t_snr >= config.refine_epoch_min_snr:
        out["epoch_offset_days"] = tc
        return t0 + tc, phase_fold(time, P, t0 + tc)
    fail(
        out,
        reasons,
        ["epoch_offset_days"],
        f"transit too weak to refine the epoch (trapezoid SNR {t_snr:.1f} < "
        f"{config.refine_epoch_min_snr:g}); catalog epoch used",
    )
    return t0, None


def compute_diagnostics(
    time: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray | None,
    period: float,
    t0: float,
    duration: float,
    star: StellarParams | None = None,
    config: DiagnosticsConfig | None = None,
    other_signals=(),
    details: dict | None = None,
) -> dict:
    """All vetting diagnostics of one signal.

    The catalog epoch is first refined by the trapezoid fit (when the transit is significant,
    see `DiagnosticsConfig.refine_epoch_min_snr`), so that a slightly stale ephemeris does not
    bias the window measurements; the shift is reported as `epoch_offset_days`.

    Args:
        time: days (BKJD/BTJD); flux: detrended relative flux (~1.0); flux_err: its uncertainty
            (used as BLS weights; may be None). Non-finite cadences are dropped.
        period, t0, duration: catalog ephemeris, days (duration = T14).
        star: catalog stellar parameters (limb darkening, expected density and duration).
        config: knobs (default `DiagnosticsConfig()`).
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
    config = config or DiagnosticsConfig()
    t0_catalog = float(t0)
    nan = float("nan")
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    err = np.asarray(flux_err, dtype=np.float64) if flux_err is not None else np.full(time.size, np.nan)
    out: dict = {c: nan for c in NUMERIC_COLUMNS}
    reasons: dict[str, str] = {}
    if not (
        np.isfinite(period)
        and period > 0
        and np.isfinite(t0)
        and np.isfinite(duration)
        and 0 < duration < 0.5 * period
    ):
        why = "invalid ephemeris (period, epoch or duration missing, or duration >= P/2)"
        out["ma_fit_status"] = f"failed: {why}"
        out["reasons"] = {c: why for c in NUMERIC_COLUMNS}
        return out
    ok = np.isfinite(time) & np.isfinite(flux)
    others = [tuple(map(float, o)) for o in other_signals]
    if others:
        from exo_assets.science.cleaning import transit_mask

        ok &= ~transit_mask(time, others, 1.5)
    time, flux, err = time[ok], flux[ok], err[ok]
    out["ma_fit_status"] = "failed: not attempted"
    out["n_points"] = float(time.size)
    if time.size < 10:
        return _failed(out, reasons, f"only {time.size} finite cadences")

    P, D = float(period), float(duration)
    minp = config.min_in_transit_points
    phase = phase_fold(time, P, t0)
    oot = np.abs(phase) >= D
    if oot.sum() < 10:
        return _failed(out, reasons, "fewer than 10 out-of-transit cadences")
    sigma = robust_std(flux[oot])
    if not sigma > 0:
        sigma = float(np.std(flux[oot])) or 1e-6
    out["oot_scatter_ppm"] = sigma * 1e6

    t0, refined = _refine_epoch(
        prepare_fit(phase, flux, sigma, P, D, time, config), P, D, t0, time, config, out, reasons
    )
    if refined is not None:
        phase = refined
    aph = np.abs(phase)
    in_full = aph < 0.5 * D
    in_core = aph < 0.25 * D
    oot = aph >= D
    annulus = oot & (aph < config.baseline_outer_durations * D)
    n_in, n_core = int(in_full.sum()), int(in_core.sum())
    out["n_in_transit"] = float(n_in)
    epochs = transit_number(time, P, t0)
    out["n_transits"] = float(np.unique(epochs[in_full]).size)
    baseline = float(np.median(flux[annulus])) if annulus.sum() >= 10 else float(np.median(flux[oot]))
    beta = time_averaging_beta(time[oot], flux[oot], D)
    if np.isfinite(beta):
        out["red_noise_beta"] = beta
    else:
        fail(
            out,
            reasons,
            ["red_noise_beta"],
            "too few out-of-transit bins of T14 to measure red noise; beta = 1",
        )
        beta = 1.0

    has_transit = n_in >= minp and n_core >= minp
    if has_transit:
        measure_depth(flux, epochs, in_full, in_core, baseline, sigma, out, reasons, beta)
        measure_odd_even(flux, epochs, in_core, baseline, sigma, minp, out, reasons, beta)
    else:
        fail(
            out,
            reasons,
            TRANSIT_COLUMNS,
            f"too few in-transit cadences ({n_in} in T14, {n_core} in the core; need {minp})",
        )
        out["ma_fit_status"] = "failed: no in-transit data"
    measure_secondary(time, flux, P, t0, D, oot, baseline, sigma, config, out, reasons, beta)
    if out["n_transits"] >= 2:
        measure_other_phases(time, flux, P, t0, D, sigma, baseline, config, out, reasons, beta)
    else:  # one orbit: "other phases" are unrelated single epochs (ramps, gaps), not a folded orbit
        fail(
            out,
            reasons,
            ["max_other_sigma", "max_other_phase"],
            "fewer than 2 transits: other orbital phases are not folded",
        )

    if details is not None:
        details["t0"], details["sigma"] = float(t0), float(sigma)
    if has_transit:
        fit = prepare_fit(phase, flux, sigma, P, D, time, config)
        if details is not None and not isinstance(fit, str):
            details["fit_x"], details["fit_y"], details["fit_sig"] = fit.x, fit.y, fit.sig
        if isinstance(fit, str):
            fail(out, reasons, MA_COLUMNS, fit)
            out["ma_fit_status"] = f"failed: {fit}"
        else:
            depth_ppm = out["trap_depth_ppm"] if np.isfinite(out["trap_depth_ppm"]) else out["depth_ppm"]
            measure_mandel_agol(fit, P, D, depth_ppm * 1e-6, star, config, out, reasons, details)
        if out["n_transits"] >= 2:
            measure_bls(time, flux, err, phase, P, t0_catalog, D, config, out, reasons)
        else:
            fail(out, reasons, BLS_COLUMNS, "a single transit does not constrain a period")
    measure_density(star, P, out, reasons)
    return _finish(out, reasons)
