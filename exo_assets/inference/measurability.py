"""Was the transit measured? No transit, no verdict; one transit, a verdict without the multi-event tests
(Dagster-free, pure functions).

A signal is classified only when its transit was measured: the views and diagnostics ran, at least one
transit event has in-transit cadences (a finite core depth) and the Mandel-Agol fit converged. Otherwise
the answer is the decision `insufficient_data` with the reason, never a class: a feature row of NaNs
where the transit should be is not evidence for any class.

A signal with exactly one covered event (a period longer than the data, or every other event in a gap or
masked) is a single transit: it is classified from that event, and the diagnostics that compare several
events (odd/even, per-transit depth scatter, single-event share, the BLS period refinement) are set to NaN
with the reason "not measurable: single transit".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Diagnostics that need two or more transit events.
MULTI_EVENT_COLUMNS: tuple[str, ...] = (
    "odd_depth_ppm",
    "even_depth_ppm",
    "odd_even_sigma",
    "transit_depth_chi2_dof",
    "single_event_fraction",
    "bls_power",
    "bls_sde",
    "bls_period_ratio",
    "bls_t0_offset_days",
)
SINGLE_TRANSIT_REASON = "not measurable: single transit (needs two or more events)"


@dataclass(frozen=True)
class Assessment:
    """Whether a signal's transit was measured.

    Attributes:
        measured: views, in-transit data and the Mandel-Agol fit all present.
        reason: why not ('' when measured).
        n_transits: events with in-transit cadences (0 when unknown).
        single_transit: exactly one event was covered.
    """

    measured: bool
    reason: str = ""
    n_transits: int = 0
    single_transit: bool = False


def _num(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v if math.isfinite(v) else float("nan")


def assess_transit(status: str, reason: str, features: dict, nan_reasons: dict) -> Assessment:
    """Decide from `signal_features`' status / reason / features / nan_reasons (see the module docstring)."""
    if status != "ok":
        return Assessment(False, f"no transit measured: the signal could not be measured ({reason})")
    n_tr = _num(features.get("n_transits"))
    n = int(n_tr) if math.isfinite(n_tr) else 0
    if n < 1:
        return Assessment(
            False, "no transit measured: no covered event has a cadence within the transit window", n
        )
    if not math.isfinite(_num(features.get("depth_ppm"))):
        why = nan_reasons.get("depth_ppm") or "no finite transit depth"
        return Assessment(False, f"no transit measured: {why}", n)
    fit = str(features.get("ma_fit_status", ""))
    if fit != "ok":
        return Assessment(
            False, f"no transit measured: the Mandel-Agol fit failed ({fit.removeprefix('failed: ')})", n
        )
    return Assessment(True, "", n, n == 1)


def mark_single_transit(features: dict, nan_reasons: dict) -> tuple[dict, dict]:
    """Copies of `features` / `nan_reasons` with `MULTI_EVENT_COLUMNS` set to NaN and explained."""
    feats, reasons = dict(features), dict(nan_reasons)
    for col in MULTI_EVENT_COLUMNS:
        if col in feats:
            feats[col] = float("nan")
            reasons[col] = SINGLE_TRANSIT_REASON
    return feats, reasons
