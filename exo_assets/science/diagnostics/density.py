"""Stellar density: the catalog's (from log g and radius) against the fit's, and the observed T14
against the one the catalog density predicts for a central transit."""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.physics import a_rs_from_density
from exo_assets.science.diagnostics.schema import StellarParams, fail


def measure_density(star: StellarParams, P: float, out: dict, reasons: dict) -> None:
    """Fill rho_star_catalog_cgs, density_ratio and duration_ratio (needs the fits' columns first)."""
    rho_cat = star.density_cgs()
    out["rho_star_catalog_cgs"] = rho_cat
    if not np.isfinite(rho_cat):
        fail(out, reasons, ["rho_star_catalog_cgs", "density_ratio", "duration_ratio"],
             "catalog log g or stellar radius missing")
        return
    if np.isfinite(out["rho_star_fit_cgs"]):
        out["density_ratio"] = out["rho_star_fit_cgs"] / rho_cat
    else:
        fail(out, reasons, ["density_ratio"], reasons.get("rho_star_fit_cgs", "no fitted a/Rs"))
    a_cat = a_rs_from_density(rho_cat, P)
    t_obs = out["trap_t14_days"] if np.isfinite(out["trap_t14_days"]) else out["ma_t14_days"]
    if a_cat > 1 and np.isfinite(t_obs):
        out["duration_ratio"] = t_obs / (P / math.pi * math.asin(1.0 / a_cat))
    else:
        fail(out, reasons, ["duration_ratio"],
             "no fitted T14" if a_cat > 1 else "catalog a/Rs <= 1 (star larger than orbit)")
