"""batman (Kreidberg 2015) wrappers: transits, eclipsing binaries, and the geometry solvers.

Geometry (circular orbits, stellar radii as unit): for impact parameter b, radius ratio k and
scaled semi-major axis a = a/R*, the total duration is

    T14 = P / pi * arcsin( sqrt((1 + k)^2 - b^2) / sqrt(a^2 - b^2) )

so a = sqrt( ((1 + k)^2 - b^2) / sin^2(pi T14 / P) + b^2 ) given the catalog T14 and P.
The radius ratio is solved so that the instantaneous (unsmeared) model depth at mid-transit,
1 - F(z = b), equals the target depth. Exposure smearing uses batman's supersampling.
Only cadences within a window around each event are computed (the rest are exactly 1).
"""

from __future__ import annotations

import copy
import warnings

import batman
import numpy as np

#: Planck second radiation constant hc/k, micron K.
C2_UM_K = 14387.77
#: Effective wavelengths (micron) of the bands, for surface-brightness ratios.
BAND_WAVELENGTH_UM = {"Kepler": 0.64, "K2": 0.64, "TESS": 0.80}


def _params(t0, per, k, a, inc_deg, u, ecc=0.0, w=90.0, fp=None, t_sec=None) -> batman.TransitParams:
    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a, p.inc = float(t0), float(per), float(k), float(a), float(inc_deg)
    p.ecc, p.w, p.u, p.limb_dark = float(ecc), float(w), [float(u[0]), float(u[1])], "quadratic"
    if fp is not None:
        p.fp, p.t_secondary = float(fp), float(t_sec)
    return p


def _batman_exp_time(exp_time: float, supersample: int) -> float:
    """`exp_time` to give batman so that its sub-samples sit at the midpoints of `supersample` equal
    slices of the exposure: batman spaces them edge to edge (linspace(-exp/2, exp/2, n)), which
    smears like an exposure ~7 % longer (15 samples) than the 29.4-min cadence."""
    return exp_time * (supersample - 1) / supersample if supersample > 1 else 0.0


def inclination_deg(a_rs: float, b: float) -> float:
    """Inclination (deg) of a circular orbit with scaled semi-major axis `a_rs` and impact `b`."""
    return float(np.degrees(np.arccos(np.clip(b / a_rs, 0.0, 1.0))))


def center_depth(k: float, b: float, u) -> float:
    """Fraction of the star's flux blocked by a disk of radius ratio k at sky separation b (quadratic LD)."""
    a = 50.0 + b
    p = _params(0.0, 1.0, k, a, inclination_deg(a, b), u)
    return float(1.0 - batman.TransitModel(p, np.zeros(1)).light_curve(p)[0])


def solve_k(depth: float, b: float, u, k_max: float = 0.8) -> float:
    """Radius ratio whose mid-transit depth at impact b equals `depth` (fraction); capped at k_max."""
    if center_depth(k_max, b, u) <= depth:
        return float(k_max)
    lo, hi = np.log(1e-4), np.log(k_max)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if center_depth(float(np.exp(mid)), b, u) < depth:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def a_from_duration(period: float, duration: float, k: float, b: float) -> float:
    """a/R* of a circular orbit with total duration `duration` (days), period (days), k and b."""
    x = np.sin(np.pi * min(duration / period, 0.49))
    return float(np.sqrt(max((1.0 + k) ** 2 - b**2, 1e-12) / x**2 + b**2))


def duration_from_a(period: float, a_rs: float, k: float, b: float) -> float:
    """Total duration T14 (days) of a circular orbit; 0 if the bodies never overlap."""
    chord2 = (1.0 + k) ** 2 - b**2
    if chord2 <= 0:
        return 0.0
    return float(period / np.pi * np.arcsin(min(np.sqrt(chord2 / max(a_rs**2 - b**2, 1e-12)), 1.0)))


def surface_brightness_ratio(t_primary: float, t_secondary: float, mission: str) -> float:
    """Band surface-brightness ratio J = B_lambda(T2) / B_lambda(T1) (Planck at the band's wavelength)."""
    x = C2_UM_K / BAND_WAVELENGTH_UM[mission]
    return float(np.expm1(x / t_primary) / np.expm1(x / t_secondary))


def near_events(time: np.ndarray, t0: float, period: float, half_width: float) -> np.ndarray:
    """Boolean mask of cadences within `half_width` days of t0 + n * period."""
    dt = ((time - t0) / period + 0.5) % 1.0 - 0.5
    return np.abs(dt * period) < half_width


def transit_delta(
    time, t0, period, k, a_rs, b, u, exp_time, supersample, half_width, only=None
) -> np.ndarray:
    """Relative flux change (F - 1, <= 0) of a limb-darkened transit; 0 outside the windows.

    `only` restricts the model to a boolean mask of cadences (e.g. one single event).
    """
    out = np.zeros_like(time)
    sel = near_events(time, t0, period, half_width)
    if only is not None:
        sel &= only
    if not sel.any():
        return out
    p = _params(t0, period, k, a_rs, inclination_deg(a_rs, b), u)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = batman.TransitModel(
            p,
            np.ascontiguousarray(time[sel]),
            supersample_factor=supersample,
            exp_time=_batman_exp_time(exp_time, supersample),
        )
        out[sel] = m.light_curve(p) - 1.0
    return out


def eb_secondary_time(t0, period, k, a_rs, inc_deg, u, ecc, w) -> float:
    """Mid-time (days) of the secondary eclipse following t0 (batman's Kepler-orbit solution)."""
    p = _params(t0, period, k, a_rs, inc_deg, u, ecc, w)
    t_sec = batman.TransitModel(p, np.zeros(1)).get_t_secondary(p)
    return float(t0 + ((t_sec - t0) % period))


def eb_delta(time, t0, period, k, a_rs, inc_deg, u, ecc, w, fp, exp_time, supersample, half_width):
    """Relative flux change of an eclipsing binary normalised to the system's total light.

    Star 1 (unit radius, quadratic LD `u`) is eclipsed by star 2 (radius k) at t0 (primary);
    star 2, a uniform disk with flux ratio fp = F2/F1, is occulted at the secondary. Returns
    (delta, t_secondary): delta = -(blocked_1 + fp * hidden_fraction_2) / (1 + fp).
    """
    out = np.zeros_like(time)
    t_sec = eb_secondary_time(t0, period, k, a_rs, inc_deg, u, ecc, w)
    kw = dict(supersample_factor=supersample, exp_time=_batman_exp_time(exp_time, supersample))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = near_events(time, t0, period, half_width)
        if sel.any():
            p = _params(t0, period, k, a_rs, inc_deg, u, ecc, w)
            out[sel] += batman.TransitModel(p, np.ascontiguousarray(time[sel]), **kw).light_curve(p) - 1.0
        sel = near_events(time, t_sec, period, half_width)
        if sel.any() and fp > 0:
            p = _params(t0, period, k, a_rs, inc_deg, u, ecc, w, fp=fp, t_sec=t_sec)
            m = batman.TransitModel(
                copy.copy(p), np.ascontiguousarray(time[sel]), transittype="secondary", **kw
            )
            out[sel] += m.light_curve(p) - 1.0 - fp
    return out / (1.0 + fp), t_sec


def temperature_for_sb_ratio(t_primary: float, sb_ratio: float, mission: str) -> float:
    """Companion temperature (K) whose band surface-brightness ratio to the primary is `sb_ratio`."""
    x = C2_UM_K / BAND_WAVELENGTH_UM[mission]
    return float(x / np.log1p(np.expm1(x / t_primary) / sb_ratio))


def eb_fractions(k, a_rs, inc_deg, u, ecc, w) -> tuple[float, float]:
    """(fraction of star 1's light blocked at mid-primary, fraction of star 2 hidden at mid-secondary).

    Sky separations at conjunction (Winn 2010, eqs. 7-8): b = a cos(i) (1 - e^2) / (1 +- e sin w),
    + at the primary (star 2 in front), - at the secondary (star 1 in front). Star 2 is a uniform
    disk: a uniform unit star blocks overlap / pi, so star 2 loses overlap / (pi k^2).
    """
    esw = ecc * np.sin(np.radians(w))
    base = a_rs * np.cos(np.radians(inc_deg)) * (1.0 - ecc**2)
    b1, b2 = base / (1.0 + esw), base / (1.0 - esw)
    hidden = min(center_depth(k, b2, (0.0, 0.0)) / k**2, 1.0) if k > 0 else 0.0
    return center_depth(k, b1, u), float(hidden)


def eb_center_depths(k, a_rs, inc_deg, u, fp, ecc, w) -> tuple[float, float]:
    """Undiluted mid-eclipse depths (fractions of the system's light) of the primary and secondary."""
    blocked, hidden = eb_fractions(k, a_rs, inc_deg, u, ecc, w)
    return float(blocked / (1.0 + fp)), float(fp * hidden / (1.0 + fp))
