"""Secondary eclipse: box depth (width T14) at phase 0.5 against the local baseline there; its significance
uses the red-noise factor beta at T14 (Pont et al. 2006), a fixed-phase test (no trials)."""

from __future__ import annotations

import math

import numpy as np

from exo_assets.science.diagnostics.schema import DiagnosticsConfig, fail
from exo_assets.science.views import phase_fold


def measure_secondary(
    time: np.ndarray,
    flux: np.ndarray,
    P: float,
    t0: float,
    D: float,
    oot: np.ndarray,
    baseline: float,
    sigma: float,
    config: DiagnosticsConfig,
    out: dict,
    reasons: dict,
    beta: float = 1.0,
) -> None:
    """Fill secondary_depth_ppm and secondary_sigma (positive = dip).

    Args:
        P, t0, D: period, epoch and T14, days; oot: cadences >= T14 from the primary transit;
        baseline: the primary's local baseline (used when phase 0.5 has no annulus of its own);
        sigma: out-of-transit scatter per cadence; beta: red-noise factor at T14 (>= 1), so the
            significance is d2 / (sigma beta / sqrt(n)).
    """
    a2 = np.abs(phase_fold(time, P, t0 + 0.5 * P))
    sec = a2 < 0.5 * D
    n_sec = int(sec.sum())
    if n_sec >= config.min_in_transit_points:
        ann2 = (a2 >= D) & (a2 < config.baseline_outer_durations * D) & oot
        base2 = float(np.median(flux[ann2])) if ann2.sum() >= 10 else baseline
        d2 = base2 - float(np.mean(flux[sec]))
        out["secondary_depth_ppm"] = d2 * 1e6
        out["secondary_sigma"] = d2 / (sigma * beta) * math.sqrt(n_sec)
    else:
        fail(
            out,
            reasons,
            ["secondary_depth_ppm", "secondary_sigma"],
            f"too few cadences at phase 0.5 ({n_sec})",
        )
