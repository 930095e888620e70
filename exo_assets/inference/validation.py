"""Checks of an uploaded curve and its ephemeris, before any fitting (Dagster-free).

`validate_curve` turns the curve as received (lists or arrays, optional columns None) into a
`LightCurveData` of float64 / int32 arrays in the mission's time system, or raises `InputError` with a
message that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from exo_assets.inference.errors import InputError
from exo_assets.science.cleaning import CleaningConfig
from exo_assets.science.lightcurves import LightCurveData
from exo_assets.science.missions import MISSIONS, mission_info
from exo_assets.storage import finite_or_none

#: Times / epochs above this are read as BJD and converted to the mission's system (days).
BJD_THRESHOLD = 2.4e6
#: Fewest finite cadences a curve must have (the cleaning's own minimum).
MIN_POINTS = CleaningConfig().min_points


@dataclass(frozen=True)
class ValidatedInput:
    """A checked curve and ephemeris.

    Attributes:
        curve: float64 time / flux / flux_err (NaN when not given), int32 quality / segment (0 when not
            given); time in the mission's system, days.
        period, t0: days (t0 in the mission's system); duration: days, None when not given.
        n_finite: cadences with a finite time and flux.
        baseline: span of those cadences' times, days.
        conversions: the BJD conversions applied, as messages.
    """

    curve: LightCurveData
    period: float
    t0: float
    duration: float | None
    n_finite: int
    baseline: float
    conversions: list[str]


def _array(name: str, values, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} has non-numeric values") from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be a one-dimensional list of numbers, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise InputError(f"{name} has {arr.size} values but time has {n}: the arrays must have equal lengths")
    return arr


def _check_times(tf: np.ndarray) -> None:
    """Finite times must be strictly increasing."""
    steps = np.diff(tf)
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0])
        raise InputError(
            f"time has duplicate values (first at cadence {i + 1}: {tf[i]!r}); times must be "
            "strictly increasing"
        )
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0])
        raise InputError(
            f"time is not sorted (cadence {i + 1} at {tf[i + 1]!r} follows {tf[i]!r}); "
            "times must be strictly increasing"
        )


def validate_curve(curve: LightCurveData, period, t0, duration=None) -> ValidatedInput:
    """Check a curve and its ephemeris; InputError with a clear message for anything unusable.

    Rules: known mission; equal lengths; at least `MIN_POINTS` cadences with finite time and flux;
    finite times strictly increasing (no duplicates); period and t0 given and finite, period > 0 (a
    period longer than the baseline is a single transit: whether its event is covered is measured
    later, `measurability`); duration, when given, 0 < duration < period / 2. Times or t0
    above `BJD_THRESHOLD` are BJD and converted to the mission's system.
    """
    mission = curve.mission
    if mission not in MISSIONS:
        raise InputError(f"unknown mission {mission!r}; expected one of {list(MISSIONS)}")
    t = _array("time", curve.time)
    n = t.size
    f = _array("flux", curve.flux, n)
    e = _array("flux_err", curve.flux_err, n) if curve.flux_err is not None else np.full(n, np.nan)
    q = np.zeros(n, dtype=np.int32) if curve.quality is None else _array("quality", curve.quality, n)
    s = np.zeros(n, dtype=np.int32) if curve.segment is None else _array("segment", curve.segment, n)
    if n == 0:
        raise InputError("the curve is empty (no cadences)")
    if not np.isfinite(f).any():
        raise InputError("flux has no finite value (all NaN)")
    finite_t = np.isfinite(t)
    good = finite_t & np.isfinite(f)
    n_good = int(good.sum())
    if n_good < MIN_POINTS:
        raise InputError(
            f"only {n_good} cadences have a finite time and flux; at least {MIN_POINTS} are needed"
        )
    tf = t[finite_t]
    _check_times(tf)
    conversions = []
    offset = mission_info(mission).bjd_offset
    system = mission_info(mission).time_system
    if np.nanmedian(tf) > BJD_THRESHOLD:
        t = t - offset
        conversions.append(f"time given in BJD: converted to {system} (BJD - {offset:g})")
    if period is None:
        raise InputError("period is required (days)")
    if t0 is None:
        raise InputError("t0 is required (mid-transit time, BKJD/BTJD or BJD days)")
    period, t0 = finite_or_none(period), finite_or_none(t0)
    if period is None or t0 is None:
        raise InputError("period and t0 must be finite numbers (days)")
    if t0 > BJD_THRESHOLD:
        t0 -= offset
        conversions.append(f"t0 given in BJD: converted to {system} (BJD - {offset:g})")
    baseline = float(np.nanmax(t[good]) - np.nanmin(t[good]))
    if period <= 0:
        raise InputError(f"period must be positive, got {period:g} days")
    if duration is not None:
        d = finite_or_none(duration)
        if d is None or not 0 < d < 0.5 * period:
            raise InputError(f"duration must be a number with 0 < duration < period / 2, got {duration!r}")
        duration = d
    checked = replace(
        curve, time=t, flux=f, flux_err=e, quality=q.astype(np.int32), segment=s.astype(np.int32)
    )
    return ValidatedInput(checked, period, t0, duration, n_good, baseline, conversions)
