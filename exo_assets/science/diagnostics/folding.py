"""The folded curve the transit fits run on: mean flux in phase bins around the transit, per-bin
uncertainties, and the sub-sample offsets that integrate a model over a bin and one exposure."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exo_assets.science.diagnostics.physics import cadence_days


def binned_fold(phase: np.ndarray, flux: np.ndarray, half: float, nbins: int):
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


def integration_offsets(bin_width: float, exp_time: float, n_bin: int, n_exp: int) -> np.ndarray:
    """Sub-sample offsets (days) that average a model over a phase bin convolved with one exposure."""
    ob = ((np.arange(n_bin) + 0.5) / n_bin - 0.5) * bin_width
    oe = ((np.arange(n_exp) + 0.5) / n_exp - 0.5) * exp_time if n_exp > 1 else np.zeros(1)
    return (ob[:, None] + oe[None, :]).ravel()


@dataclass
class FitData:
    x: np.ndarray       # bin centres, days from mid-transit
    y: np.ndarray       # mean relative flux per bin
    sig: np.ndarray     # 1-sigma per bin
    n_in: int           # cadences within T14 in the fit window
    offsets: np.ndarray  # integration sub-sample offsets, days


def prepare_fit(phase, flux, sigma, P, D, time, config) -> FitData | str:
    """Folded curve binned around the transit for the fits, or the reason it cannot be fitted."""
    half = min(config.fit_half_width_durations * D, 0.5 * P)
    x, y, n, bin_width = binned_fold(phase, flux, half, config.fit_bins)
    if x.size < 10:
        return f"only {x.size} non-empty bins around the transit"
    exp_time = cadence_days(time)
    if not np.isfinite(exp_time):
        exp_time = 0.0
    # Integrate the models over each phase bin (3 sub-samples) convolved with one exposure
    # (enough sub-samples that each spans <= T14 / supersample_per_duration).
    ss = int(np.clip(math.ceil(exp_time * config.supersample_per_duration / D), 1, 15)) if exp_time > 0 else 1
    n_in = int(n[np.abs(x) < 0.5 * D].sum())
    return FitData(x, y, sigma / np.sqrt(n), n_in, integration_offsets(bin_width, exp_time, 3, ss))
