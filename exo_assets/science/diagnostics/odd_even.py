"""Odd/even test: core depths of the odd- and even-numbered transits and the significance of their
difference (an eclipsing binary at twice the period shows unequal depths)."""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.schema import fail


def measure_odd_even(flux: np.ndarray, epochs: np.ndarray, in_core: np.ndarray, baseline: float,
                     sigma: float, min_points: int, out: dict, reasons: dict) -> None:
    """Fill odd_depth_ppm, even_depth_ppm and odd_even_sigma (transit number round((t - t0) / P))."""
    odd = (epochs % 2) == 1
    d_pe = []
    for name, sel in (("odd", in_core & odd), ("even", in_core & ~odd)):
        n = int(sel.sum())
        if n >= min_points:
            d = baseline - float(np.mean(flux[sel]))
            out[f"{name}_depth_ppm"] = d * 1e6
            d_pe.append((d, sigma / math.sqrt(n)))
        else:
            fail(out, reasons, [f"{name}_depth_ppm"], f"too few {name}-transit core cadences ({n})")
    if len(d_pe) == 2:
        (d1, e1), (d2, e2) = d_pe
        out["odd_even_sigma"] = abs(d1 - d2) / math.hypot(e1, e2)
    else:
        fail(out, reasons, ["odd_even_sigma"], "odd or even transits have no in-transit data")
