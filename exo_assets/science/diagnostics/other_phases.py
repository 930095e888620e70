"""Strongest box dip (width ~T14) at any orbital phase at least T14 away from the transit, judged against
the distribution of dips at all phases of the same folded curve (trials-aware, model-shift style).

The search tries ~4 P / T14 overlapping boxes, so its maximum white-noise significance is ~3.5-4.5
sigma on pure white noise and far more with red noise: a fixed threshold on it fires on many planets.
As the Kepler Robovetter's model-shift test (Coughlin et al. 2016; its F_red) does, each box's white
significance z_j = depth_j / (sigma / sqrt(n_j)) is compared with the robust spread of z over all the
boxes away from the transit: max_other_sigma = (max z - median z) / robust_std(z). Correlated noise
on the transit's timescale widens every box's z alike and so cancels; a real dip at one phase (an
eccentric secondary, another star's eclipse) stands out of the spread. With fewer than
`MIN_BOXES` independent boxes (short periods) the spread is not measurable and the white z over the
red-noise factor beta is used instead. With fewer than 2 transits in the data (`core`) the search is not
run: other phases of a single orbit are unrelated epochs (ramps after gaps), not a folded orbit.
"""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.stats import robust_std

#: Fewest independent (non-overlapping) boxes away from the transit for the spread to be used.
MIN_BOXES = 12


def box_dips(time, flux, P, t0, D, baseline, config):
    """Box depths on a grid of phases: (centre days from t0 in [0, P), summed deficit, cadences, width bins).

    Boxes of `round(T14 / step)` fine bins of width P / nb (step = other_phase_step_durations x T14),
    wrapping around the orbit; sums via bincount (fast for 65,000 cadences).
    """
    step = config.other_phase_step_durations * D
    nb = min(int(math.ceil(P / step)), config.max_other_phase_bins)
    bw = P / nb
    width = max(int(round(D / bw)), 1)
    ph = np.mod(time - t0, P)
    idx = np.minimum((ph / bw).astype(np.int64), nb - 1)
    n = np.bincount(idx, minlength=nb).astype(float)
    s = np.bincount(idx, baseline - flux, minlength=nb)
    n_c = np.concatenate([[0.0], np.cumsum(np.concatenate([n, n[:width]]))])
    s_c = np.concatenate([[0.0], np.cumsum(np.concatenate([s, s[:width]]))])
    nbox = n_c[width : width + nb] - n_c[:nb]
    sbox = s_c[width : width + nb] - s_c[:nb]
    centre = np.mod((np.arange(nb) + 0.5 * width) * bw, P)
    return centre, sbox, nbox, width


def trials_significance(z: np.ndarray, independent: float) -> np.ndarray:
    """z relative to its own distribution: (z - median) / robust_std; NaN when fewer than MIN_BOXES
    independent boxes or no spread."""
    z = np.asarray(z, dtype=np.float64)
    s = robust_std(z)
    if independent < MIN_BOXES or not s > 0:
        return np.full(z.shape, np.nan)
    return (z - float(np.median(z))) / s


def measure_other_phases(time, flux, P, t0, D, sigma, baseline, config, out, reasons, beta: float = 1.0):
    """Fill max_other_sigma (trials-aware, see the module docstring) and max_other_phase (0-1).

    sigma: out-of-transit scatter per cadence (relative flux); beta: red-noise factor at T14, used only
    when the orbit holds too few boxes for their spread to be measured.
    """
    centre, sbox, nbox, width = box_dips(time, flux, P, t0, D, baseline, config)
    away = (centre > D) & (centre < P - D) & (nbox >= config.min_in_transit_points)
    if not away.any():
        for c in ("max_other_sigma", "max_other_phase"):
            out[c] = float("nan")
            reasons[c] = "no phase >= T14 from the transit with enough cadences"
        return
    z = sbox[away] / (sigma * np.sqrt(nbox[away]))
    rel = trials_significance(z, away.sum() / width)
    if not np.isfinite(rel).any():
        rel = z / max(beta, 1.0)
    j = int(np.argmax(rel))
    out["max_other_sigma"] = float(rel[j])
    out["max_other_phase"] = float(centre[away][j] / P)
