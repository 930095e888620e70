"""What one prediction is asked for: the curve, the signal's ephemeris, facts about the star, options and
the decision thresholds (Dagster-free).

Units: time, t0, period and duration are days in the mission's time system (BKJD = BJD - 2454833 for
Kepler/K2, BTJD = BJD - 2457000 for TESS) or BJD (converted by `validation.validate_curve`); flux is
any positive flux (e-/s or relative).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exo_assets.defaults import CP_HIGH, CP_THRESH
from exo_assets.science.lightcurves import LightCurveData


@dataclass(frozen=True)
class DecisionConfig:
    """Thresholds of the decision rule on the final p(CP) (see `response.decide`)."""

    cp_thresh: float = CP_THRESH
    cp_high: float = CP_HIGH

    def __post_init__(self) -> None:
        if not (0.0 < self.cp_thresh <= self.cp_high <= 1.0):
            raise ValueError(f"need 0 < cp_thresh <= cp_high <= 1, got {self.cp_thresh}, {self.cp_high}")


@dataclass(frozen=True)
class PredictOptions:
    """Per-request options.

    Attributes:
        return_plots: write PNG plots under the media folder and return their URLs.
        return_plot_data: return the arrays behind the plots.
        top_k_shap: number of booster features in `explainability.top_shap`.
        apply_vetting: apply the physical vetting penalties (the final probabilities then equal the
            post-penalty ones; without it they are the blend's).
    """

    return_plots: bool = False
    return_plot_data: bool = False
    top_k_shap: int = 5
    apply_vetting: bool = True


#: The `TargetInfo` fields, in order.
TARGET_FIELDS: tuple[str, ...] = ("teff_k", "logg_cgs", "radius_rsun", "mag", "depth_ppm")


@dataclass(frozen=True)
class TargetInfo:
    """Facts about the star and the signal given with the request (NaN = not given). The engine fills what
    is not given from the shipped catalog and the FITS header (`inference.star`).

    Attributes:
        teff_k: K; logg_cgs: log10 cm s^-2; radius_rsun: R_sun; mag: Kepler/TESS magnitude;
        depth_ppm: catalog transit depth, ppm.
    """

    teff_k: float = float("nan")
    logg_cgs: float = float("nan")
    radius_rsun: float = float("nan")
    mag: float = float("nan")
    depth_ppm: float = float("nan")

    @classmethod
    def from_header(cls, header: Mapping, **overrides) -> TargetInfo:
        """From a light-curve FITS header (TEFF, LOGG, RADIUS, KEPMAG/TESSMAG), then non-None overrides."""

        def num(key):
            try:
                v = float(header.get(key))
                return v if math.isfinite(v) else float("nan")
            except (TypeError, ValueError):
                return float("nan")

        mag = num("KEPMAG")
        if not math.isfinite(mag):
            mag = num("TESSMAG")
        values = {"teff_k": num("TEFF"), "logg_cgs": num("LOGG"), "radius_rsun": num("RADIUS"), "mag": mag}
        values.update({k: float(v) for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class PredictionRequest:
    """One signal in one curve to classify.

    Attributes:
        curve: the light curve as received (`validation.validate_curve` checks it): `curve.mission`
            picks the model, `curve.star_id` is echoed back ("uploaded curve" when empty); flux_err,
            quality and segment may be None.
        period, t0, duration: ephemeris, days (duration = T14; estimated by BLS when None).
        target: stellar parameters / catalog depth given with the request (NaN = not given: looked up).
        options: plots, plot data, SHAP count, vetting.
        decision: decision thresholds.
        other_signals: (period, t0, duration) of the star's other known signals (masked out), days.
        media_dir: folder the PNG plots are written to (under "plots/"); needed for return_plots.
        media_url: URL prefix the plots are served under.
        deadline: `time.monotonic()` value after which FitTimeout is raised between stages.
        ephemeris_source: where period / t0 (/ duration) came from, reported per input: "given" (request,
            CLI flags, a user's catalog CSV), "catalog" (the shipped catalog) or "header" (FITS keywords).
        signal_id: the catalog signal asked for, when known (it is not masked as an "other" signal).
    """

    curve: LightCurveData
    period: float | None
    t0: float | None
    duration: float | None = None
    target: TargetInfo = field(default_factory=TargetInfo)
    options: PredictOptions = field(default_factory=PredictOptions)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    other_signals: tuple = ()
    media_dir: str | Path | None = None
    media_url: str = "/media"
    deadline: float | None = None
    ephemeris_source: str = "given"
    signal_id: str = ""


def curve_of(
    time, flux, flux_err=None, quality=None, segment=None, star_id: str = "", mission: str = ""
) -> LightCurveData:
    """A `LightCurveData` of arrays as received (lists or arrays, unchecked; None where not given)."""
    return LightCurveData(
        star_id=star_id,
        mission=mission,
        time=time,
        flux=flux,
        flux_err=flux_err,
        quality=quality,
        segment=segment,
    )
