"""Transit geometry and limb darkening: trapezoid shape, T14, density <-> a/Rs, cadence.

Limb darkening: the project's one table, `exo_assets.science.simulator.limb_darkening` (Claret &
Bloemen 2011 Kepler band, Claret 2017 TESS band; Teff grid 3000-10000 K with a log g term), so the
fits assume the same stellar limb as the simulated transits they are trained on.
"""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.schema import DAY_S, G_CGS
from exo_assets.science.simulator.limb_darkening import quadratic_ld


def limb_darkening(teff_k: float, logg_cgs: float = 4.5, band: str = "Kepler") -> tuple[float, float]:
    """Quadratic limb-darkening (u1, u2) for a star of `teff_k` (K) and `logg_cgs` in `band`
    ("Kepler"/"K2"/"TESS"); NaN Teff -> 5750 K, NaN log g -> 4.5 (see the module docstring)."""
    return quadratic_ld(teff_k, logg_cgs, "TESS" if band == "TESS" else "Kepler")


def cadence_days(time: np.ndarray) -> float:
    """Typical cadence: median positive time step, days (NaN for < 2 points)."""
    if time.size < 2:
        return float("nan")
    dt = np.diff(np.sort(time))
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else float("nan")


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
