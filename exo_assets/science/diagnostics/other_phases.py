"""Strongest box dip (width ~T14) at any orbital phase at least T14 away from the transit."""

from __future__ import annotations

import math

import numpy as np


def measure_other_phases(time, flux, P, t0, D, sigma, baseline, config, out, reasons):
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
