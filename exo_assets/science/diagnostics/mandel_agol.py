"""Mandel-Agol fit of the folded transit (batman, quadratic limb darkening fixed from the star, circular
orbit, period fixed; free: baseline, centre, Rp/Rs, b, a/Rs): radius ratio, impact parameter, a/Rs, the
implied stellar density and the BIC against a flat line.

Two fits: the free fit gives the light curve's own stellar density (`rho_star_fit_cgs`, tested against
the catalog by `density_ratio`) and the BIC; where the catalog density is known, a second fit adds a
Gaussian prior on ln(rho) (sigma `DiagnosticsConfig.density_prior_sigma_ln`) as one more residual
(ln rho(a/Rs, P) - ln rho_cat) / sigma, started at the catalog a/Rs with b from the observed T14. At
moderate SNR the b - a/Rs - Rp/Rs degeneracy lets the free fit trade a grazing, smaller planet for a
central, shallower one (pi Men c in TESS sector 1: Rp/Rs 0.0144, a/Rs 16.7, rho 2.2 g/cc against 1.2);
the prior breaks it, as in published fits. Where the prior costs the binned data more than
`density_prior_max_dchi2` in chi^2 (a prior-data conflict: eccentric orbit, wrong catalog star, blend)
or the free fit's own density is more than 3 sigma (prior and fit errors combined) from the catalog's,
the free fit is kept. The reported ma_rp_rs, ma_b, ma_a_rs (and ma_t14_days) come
from the prior fit when it ran, with 1-sigma errors from the fit's covariance (J^T J)^-1 scaled by the
reduced chi^2 when above 1.
"""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.folding import FitData, integration_offsets
from exo_assets.science.diagnostics.physics import (
    a_rs_from_density,
    density_from_a_rs,
    limb_darkening,
    t14_from_params,
)


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


#: The feature-table columns this measurement fills (NaN with a reason when the fit fails).
MA_COLUMNS = (
    "ma_rp_rs",
    "ma_b",
    "ma_a_rs",
    "ma_t14_days",
    "ma_delta_bic",
    "rho_star_fit_cgs",
    "ma_rp_rs_err",
    "ma_b_err",
    "ma_a_rs_err",
)


def _fit_mandel_agol(x, y, sig, period, duration, depth_guess, u, offsets, prior=None, start=None):
    """least_squares fit of (f0, tc, k, b, a/Rs); `prior` = (ln rho_cat, sigma_ln) adds the density term,
    `start` = (k, b, a/Rs) overrides the starting point."""
    from scipy.optimize import least_squares

    model = _MandelAgol(x, period, u, offsets)

    def resid(p):
        f0, tc, k, b, a_rs = p
        r = (y - f0 * model(tc, k, b, a_rs)) / sig
        if prior is None:
            return r
        return np.append(r, (math.log(density_from_a_rs(a_rs, period)) - prior[0]) / prior[1])

    k0 = math.sqrt(max(depth_guess, 1e-6) / 1.15)
    b0 = 0.3
    s = math.sin(math.pi * min(duration / period, 0.49))
    a0 = float(np.clip(math.sqrt((1 + k0) ** 2 - b0**2) / s, 1.6, 4000.0))
    if start is not None:
        k0, b0, a0 = (float(v) for v in start)
        k0 = float(np.clip(k0, 1.1e-4, 1.4))
        b0 = float(np.clip(b0, 0.0, 1.5))
        a0 = float(np.clip(a0, 1.6, 4000.0))
    p0 = [1.0, 0.0, min(k0, 1.0), b0, a0]
    lo = [0.5, -0.5 * duration, 1e-4, 0.0, 1.5]
    hi = [1.5, 0.5 * duration, 1.5, 1.6, 5000.0]
    return least_squares(
        resid, p0, bounds=(lo, hi), x_scale=[1e-4, 0.05 * duration, 0.1 * k0, 0.1, 0.1 * a0], max_nfev=400
    )


def parameter_errors(res, n_data: int) -> np.ndarray:
    """1-sigma errors of the least_squares parameters: sqrt(diag((J^T J)^-1)) x sqrt(max(1, chi^2 / dof)).

    `res.fun` must be residuals in units of their 1-sigma (as in the fits here); `n_data` is the number of
    data residuals (a prior residual is not a data point). Pseudo-inverse: a parameter on a bound or
    unconstrained gets a large or NaN error rather than an exception.
    """
    jac = np.asarray(res.jac, dtype=np.float64)
    npar = jac.shape[1]
    with np.errstate(all="ignore"):
        cov = np.linalg.pinv(jac.T @ jac)
        chi2_red = float(np.sum(res.fun[:n_data] ** 2)) / max(n_data - npar, 1)
        err = np.sqrt(np.clip(np.diag(cov), 0.0, None)) * math.sqrt(max(1.0, chi2_red))
    return np.where(np.isfinite(err), err, np.nan)


def _b_for_duration(t14: float, period: float, k: float, a_rs: float) -> float:
    """Impact parameter giving T14 on a circular orbit of a/Rs (0 when the chord is too short)."""
    chord = (math.pi * t14 / period * a_rs) ** 2
    return float(math.sqrt(max((1.0 + k) ** 2 - chord, 0.0)))


def mandel_agol_flux(
    x: np.ndarray,
    period: float,
    rp_rs: float,
    b: float,
    a_rs: float,
    u: tuple[float, float],
    tc: float = 0.0,
    f0: float = 1.0,
    exposure_days: float = 0.0,
) -> np.ndarray:
    """The Mandel-Agol model of `compute_diagnostics` (batman, quadratic limb darkening, circular orbit).

    Args:
        x: days from mid-transit; period: days; rp_rs, b, a_rs: fitted Rp/Rs, impact parameter, a/Rs;
        u: (u1, u2); tc: centre offset, days; f0: out-of-transit level; exposure_days: integration
            time each point is averaged over (0 = instantaneous).
    Returns relative flux at x.
    """
    offsets = integration_offsets(0.0, exposure_days, 1, 7 if exposure_days > 0 else 1)
    return f0 * _MandelAgol(np.asarray(x, dtype=np.float64), period, u, offsets)(tc, rp_rs, b, a_rs)


def measure_mandel_agol(fit: FitData, P, D, depth_guess, star, config, out, reasons, details=None):
    """Fill the Mandel-Agol columns and `ma_fit_status`."""
    ma_cols = MA_COLUMNS
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
        details.update(
            bic_transit=chi2_tr + 5 * nlog,
            bic_flat=chi2_flat + 1 * nlog,
            ma_f0=f0,
            ma_tc=tc,
            ma_model_y=y - res.fun * sig,
        )  # resid = (y - model) / sig
    if not res.success or not np.all(np.isfinite(res.x)):
        why = f"least squares did not converge ({res.message})"
        for c in (
            "ma_rp_rs",
            "ma_b",
            "ma_a_rs",
            "ma_t14_days",
            "rho_star_fit_cgs",
            "ma_rp_rs_err",
            "ma_b_err",
            "ma_a_rs_err",
        ):
            out[c] = float("nan")
            reasons[c] = why
        out["ma_fit_status"] = f"failed: {why}"
        return
    out["rho_star_fit_cgs"] = density_from_a_rs(a_rs, P)
    errs = parameter_errors(res, x.size)
    rho_cat = star.density_cgs()
    if np.isfinite(rho_cat) and rho_cat > 0 and config.density_prior_sigma_ln > 0:
        prior = (math.log(rho_cat), config.density_prior_sigma_ln)
        a_cat = a_rs_from_density(rho_cat, P)
        t14 = out.get("trap_t14_days", float("nan"))
        t14 = t14 if np.isfinite(t14) else D
        try:
            res_p = _fit_mandel_agol(
                x,
                y,
                sig,
                P,
                D,
                depth_guess,
                (u1, u2),
                fit.offsets,
                prior=prior,
                start=(k, _b_for_duration(t14, P, k, a_cat), a_cat),
            )
        except Exception:  # noqa: BLE001 - keep the free fit
            res_p = None
        # prior-data conflict: keep the free fit when the prior costs the data more than
        # density_prior_max_dchi2 (the light curve's own density then disagrees with the catalog's
        # beyond noise: eccentric orbit, wrong catalog star or a blend; density_ratio reports it)
        # (chi^2 difference in units of the free fit's reduced chi^2, so red noise does not count as conflict)
        chi2_red = max(1.0, chi2_tr / max(x.size - 5, 1))
        # or the free fit's density is > 3 sigma from the catalog's (sigma: prior and fit, ln rho = 3 ln a)
        sig_ln_free = 3.0 * float(errs[4]) / a_rs if np.isfinite(errs[4]) and a_rs > 0 else float("inf")
        z_rho = abs(math.log(density_from_a_rs(a_rs, P)) - prior[0]) / math.hypot(prior[1], sig_ln_free)
        conflict = res_p is not None and (
            (float(np.sum(res_p.fun[: x.size] ** 2)) - chi2_tr) / chi2_red > config.density_prior_max_dchi2
            or z_rho > 3.0
        )
        if details is not None:
            details["ma_prior_conflict"] = bool(conflict)
        if res_p is not None and not conflict and res_p.success and np.all(np.isfinite(res_p.x)):
            f0, tc, k, b, a_rs = (float(v) for v in res_p.x)
            errs = parameter_errors(res_p, x.size)
            if details is not None:
                details.update(
                    ma_f0=f0, ma_tc=tc, ma_model_y=y - res_p.fun[: x.size] * sig, ma_density_prior=True
                )
    out["ma_rp_rs"], out["ma_b"], out["ma_a_rs"] = k, b, a_rs
    out["ma_rp_rs_err"], out["ma_b_err"], out["ma_a_rs_err"] = (float(e) for e in errs[2:5])
    for c in ("ma_rp_rs_err", "ma_b_err", "ma_a_rs_err"):
        if not np.isfinite(out[c]):
            reasons[c] = "singular fit covariance (parameter unconstrained)"
    out["ma_t14_days"] = t14_from_params(P, k, b, a_rs)
    if not np.isfinite(out["ma_t14_days"]):
        reasons["ma_t14_days"] = "fitted b >= 1 + Rp/Rs (no transit chord)"
    out["ma_fit_status"] = "ok"
