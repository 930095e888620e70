"""Odd/even test: core depths of the odd- and even-numbered transits and the significance of their
difference (an eclipsing binary at twice the period shows unequal depths).

Noise model: each parity's depth error is the red-noise-corrected white error sigma x beta / sqrt(n)
(beta from `stats.time_averaging_beta` at the transit's timescale), inflated by the empirical scatter of
the individual transits' core depths about their own parity's mean when that scatter is larger (as
the Kepler Robovetter trusts the per-transit scatter over a white-noise model; Coughlin et al. 2016):
sqrt(chi^2 / dof) of the per-transit depths about the two parity means, with dof = transits - 2,
used only with at least 2 transits of each parity. Alternating EB depths do not inflate it (each parity
is compared with its own mean), while spot crossings, ramps and red noise that move single transits do.
"""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.schema import fail


def parity_scatter_factor(depths: np.ndarray, errors: np.ndarray, odd: np.ndarray) -> float:
    """sqrt(chi^2 / dof) (>= 1) of per-transit depths about their parity's weighted mean; 1 when
    fewer than 2 transits of either parity (dof = n - 2).

    Args:
        depths, errors: per-transit core depth and its 1-sigma error (same units); odd: boolean parity.
    """
    d, e, o = (np.asarray(a) for a in (depths, errors, odd))
    ok = np.isfinite(d) & np.isfinite(e) & (e > 0)
    d, e, o = d[ok], e[ok], o[ok].astype(bool)
    if o.sum() < 2 or (~o).sum() < 2:
        return 1.0
    chi2 = 0.0
    for sel in (o, ~o):
        w = 1.0 / e[sel] ** 2
        mean = float(np.sum(w * d[sel]) / np.sum(w))
        chi2 += float(np.sum(w * (d[sel] - mean) ** 2))
    return float(max(1.0, math.sqrt(chi2 / (d.size - 2))))


def measure_odd_even(
    flux: np.ndarray,
    epochs: np.ndarray,
    in_core: np.ndarray,
    baseline: float,
    sigma: float,
    min_points: int,
    out: dict,
    reasons: dict,
    beta: float = 1.0,
) -> None:
    """Fill odd_depth_ppm, even_depth_ppm and odd_even_sigma (transit number round((t - t0) / P)).

    sigma: out-of-transit robust scatter per cadence (relative flux); beta: red-noise factor (>= 1).
    """
    odd = (epochs % 2) == 1
    sig = sigma * beta
    d_pe = []
    for name, sel in (("odd", in_core & odd), ("even", in_core & ~odd)):
        n = int(sel.sum())
        if n >= min_points:
            d = baseline - float(np.mean(flux[sel]))
            out[f"{name}_depth_ppm"] = d * 1e6
            d_pe.append((d, sig / math.sqrt(n)))
        else:
            fail(out, reasons, [f"{name}_depth_ppm"], f"too few {name}-transit core cadences ({n})")
    if len(d_pe) == 2:
        ep = epochs[in_core]
        uniq, inv = np.unique(ep, return_inverse=True)
        n_i = np.bincount(inv).astype(float)
        d_i = baseline - np.bincount(inv, flux[in_core]) / n_i
        factor = parity_scatter_factor(d_i, sig / np.sqrt(n_i), (uniq % 2) == 1)
        (d1, e1), (d2, e2) = d_pe
        out["odd_even_sigma"] = abs(d1 - d2) / (factor * math.hypot(e1, e2))
    else:
        fail(out, reasons, ["odd_even_sigma"], "odd or even transits have no in-transit data")
