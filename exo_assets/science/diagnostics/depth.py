"""Transit depth and its significance: core depth, box SNR, multiple-event statistic (MES), the
consistency of the individual transits' depths and the share of the strongest single event."""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.schema import fail


def measure_depth(
    flux: np.ndarray,
    epochs: np.ndarray,
    in_full: np.ndarray,
    in_core: np.ndarray,
    baseline: float,
    sigma: float,
    out: dict,
    reasons: dict,
    beta: float = 1.0,
) -> None:
    """Fill depth_ppm, depth_err_ppm, transit_snr, mes, transit_depth_chi2_dof, single_event_fraction.

    Args:
        flux: relative flux; epochs: transit number of each cadence; in_full / in_core: cadences with
            |phase| < T14/2 and < T14/4 (each window has enough cadences); baseline: local
            out-of-transit median; sigma: out-of-transit robust scatter (relative flux per cadence);
        beta: red-noise factor at the transit's timescale (`stats.time_averaging_beta`, >= 1): every
            white-noise error sigma / sqrt(n) of a window mean is multiplied by it.
    """
    sigma = sigma * beta
    n_in, n_core = int(in_full.sum()), int(in_core.sum())
    depth = baseline - float(np.mean(flux[in_core]))
    out["depth_ppm"] = depth * 1e6
    out["depth_err_ppm"] = sigma / math.sqrt(n_core) * 1e6
    box = baseline - float(np.mean(flux[in_full]))
    out["transit_snr"] = box / sigma * math.sqrt(n_in)
    ep_in = epochs[in_full]
    uniq, inv = np.unique(ep_in, return_inverse=True)
    n_i = np.bincount(inv).astype(float)
    s_i = np.bincount(inv, baseline - flux[in_full])  # summed deficit per transit
    ses = s_i / (sigma * np.sqrt(n_i))
    out["mes"] = float(ses.sum() / math.sqrt(uniq.size))
    if uniq.size >= 2:
        d_i = s_i / n_i
        w_i = n_i / sigma**2
        mean_d = float(np.sum(w_i * d_i) / np.sum(w_i))
        out["transit_depth_chi2_dof"] = float(np.sum(w_i * (d_i - mean_d) ** 2) / (uniq.size - 1))
    else:
        fail(out, reasons, ["transit_depth_chi2_dof"], "fewer than 2 transits with data")
    pos = np.clip(s_i, 0.0, None)
    if pos.sum() > 0:
        out["single_event_fraction"] = float(pos.max() / pos.sum())
    else:
        fail(out, reasons, ["single_event_fraction"], "no in-transit flux deficit (summed signal <= 0)")
