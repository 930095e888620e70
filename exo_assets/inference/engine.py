"""The inference engine: stored model assets + one light curve -> the API's prediction (Dagster-free).

`predict_curve` runs exactly the training code path on the uploaded curve:

1. `validation.validate_curve` (lengths, finite points, sorted times, ephemeris; BJD -> BKJD/BTJD);
2. `prepare.clean_with_ephemerides` (quality mask, normalisation, wotan biweight detrending with the
   transits masked, upper clipping; a stale epoch is refined by BLS as for the catalog);
3. `features.signal_features` (the five AstroNet views with the `ViewConfig` the CNN was trained
   on, and every vetting diagnostic including the Mandel-Agol fit), assembled into a feature row by
   `features.feature_rows`;
4. `BoosterModel.predict_proba` (temperature-calibrated) and `CNNClassifier.predict_proba`, then
   `blend.apply_blend` and `vetting.apply_vetting` with the stored blend and vetting config;
5. `response.build_response` (decision, confidence, SHAP, physics fit, optional plots).

Units: time, t0, period and duration are days in the mission's time system (BKJD = BJD - 2454833
for Kepler/K2, BTJD = BJD - 2457000 for TESS). A t0 (or times) above 2,400,000 is taken as BJD and
the mission offset is subtracted (reported in `input.conversions`). Flux is any positive flux
(e-/s or relative); each segment is normalised by its median.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from exo_assets.inference.errors import FitError, InputError, check_deadline
from exo_assets.inference.loading import MissionModel, ModelSet
from exo_assets.inference.request import PredictionRequest
from exo_assets.inference.response import add_plots, build_response
from exo_assets.inference.validation import ValidatedInput, validate_curve
from exo_assets.models.blend import apply_blend
from exo_assets.models.vetting import VettingResult, apply_vetting
from exo_assets.science.cleaning import clean_light_curve
from exo_assets.science.diagnostics import StellarParams, estimate_epoch_bls
from exo_assets.science.features import VIEW_NAMES, feature_rows, signal_features
from exo_assets.science.lightcurves import LightCurveData, LightCurveError
from exo_assets.science.prepare import clean_with_ephemerides
from exo_assets.storage import json_safe

#: The cleaned_curves asset stores flux and flux_err as float32 (exo_assets/assets/ingest.py) and the
#: features are measured on those values; inference rounds the same way so it reproduces them exactly.
CLEANED_FLUX_DTYPE = np.float32


@dataclass
class Measurement:
    """The cleaned curve and the measured signal.

    Attributes:
        curve: the cleaned curve; ephemeris: the signal's row (a one-row table) of the cleaning's
            ephemerides (epoch_source "catalog", or "bls_refined" for a stale epoch).
        result: `signal_features`' result (features, views); details: the diagnostics' arrays.
        duration: T14, days; duration_source: "given" or "bls"; t0_views: the epoch the views are
            folded on (the given one, or BLS's for a stale epoch), days.
        warnings: messages for the response.
    """

    curve: LightCurveData
    ephemeris: pd.DataFrame
    result: object
    details: dict
    duration: float
    duration_source: str
    t0_views: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class Classification:
    """The feature row and each stage's (1, k) probabilities; `final` is post-vetting or the blend's."""

    row: pd.DataFrame
    booster: np.ndarray
    cnn: np.ndarray | None
    blend: np.ndarray
    vetting: VettingResult
    final: np.ndarray


def _clean(checked: ValidatedInput, request: PredictionRequest, star_id: str) -> tuple:
    """Clean the curve around the signal (duration by BLS when not given): (curve, ephemeris table,
    duration, duration source, warnings)."""
    lc = replace(checked.curve, star_id=star_id)
    warnings = []
    duration_source = "given"
    others = [tuple(float(v) for v in o) for o in request.other_signals]
    try:
        dur = checked.duration
        if dur is None:
            first = clean_light_curve(lc, [])
            _, dur, _ = estimate_epoch_bls(first.time, first.flux, checked.period, None)
            duration_source = "bls"
            warnings.append(f"duration not given: {dur:.4f} d estimated by BLS at the given period")
            if not 0 < dur < 0.5 * checked.period:
                raise FitError(f"could not estimate a duration below half the period (BLS gave {dur:g} d)")
        check_deadline(request.deadline, "cleaning")
        eph = pd.DataFrame([{"signal_id": "signal", "star_id": star_id, "period_days": checked.period,
                             "epoch": checked.t0, "duration_days": dur, "epoch_source": "catalog"}]
                           + [{"signal_id": f"other_{i}", "star_id": star_id, "period_days": o[0], "epoch": o[1],
                               "duration_days": o[2], "epoch_source": "catalog"} for i, o in enumerate(others)])
        curve, eph = clean_with_ephemerides(lc, eph)
    except LightCurveError as err:
        raise InputError(f"the curve cannot be cleaned: {err}") from None
    except ValueError as err:  # estimate_epoch_bls
        raise FitError(f"cleaning failed: {err}") from None
    return curve, eph, float(dur), duration_source, warnings


def measure_signal(checked: ValidatedInput, request: PredictionRequest, model: MissionModel,
                   star_id: str) -> Measurement:
    """Clean the curve and measure the signal as training does (views + diagnostics)."""
    curve, eph, dur, duration_source, warnings = _clean(checked, request, star_id)
    check_deadline(request.deadline, "cleaning")
    row_eph = eph.iloc[0]
    t0_views = float(row_eph["epoch"])
    if row_eph["epoch_source"] == "bls_refined":
        warnings.append(f"t0 lies far from the data and misses the transit; BLS epoch {t0_views:.5f} used "
                        "(as for stale catalog epochs in training)")
    others_used = [tuple(map(float, r)) for r in eph.iloc[1:][["period_days", "epoch", "duration_days"]].to_numpy()]
    details: dict = {}
    target = request.target
    star = StellarParams(target.teff_k, target.logg_cgs, target.radius_rsun)
    # Training measures the curves as the cleaned_curves asset stores them: flux rounded to float32.
    flux32 = curve.flux.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    err32 = curve.flux_err.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    result = signal_features(curve.time, flux32, err32, checked.period, t0_views, dur, star, "signal",
                             others_used, checked.curve.mission, model.view_config, details=details)
    if result.status != "ok":
        raise FitError(f"the signal could not be measured: {result.reason}")
    check_deadline(request.deadline, "diagnostics")
    return Measurement(curve, eph.iloc[:1], result, details, dur, duration_source, t0_views, warnings)


def classify(model: MissionModel, measured: Measurement, checked: ValidatedInput,
             request: PredictionRequest, star_id: str) -> Classification:
    """Booster, CNN, blend and vetting on the measured signal's feature row."""
    target = request.target
    catalog = pd.DataFrame([{"signal_id": "signal", "star_id": star_id, "mission": checked.curve.mission,
                             "label": "", "period_days": checked.period, "duration_days": measured.duration,
                             "depth_ppm": target.depth_ppm, "teff_k": target.teff_k, "logg_cgs": target.logg_cgs,
                             "radius_rsun": target.radius_rsun, "mag": target.mag}])
    row = feature_rows([measured.result], catalog, measured.ephemeris, model.provenance)
    p_booster = model.booster.predict_proba(row)
    p_cnn = None
    if model.cnn is not None:
        views = {name: view[None, :] for name, view in measured.result.views.as_dict().items() if name in VIEW_NAMES}
        p_cnn = model.cnn.predict_proba(views)
    gate = row[model.blend.gate_feature].to_numpy(np.float64) if model.blend.gate_feature else None
    p_blend = apply_blend(model.blend, p_booster, p_cnn, gate)
    vet = apply_vetting(p_blend, row.reset_index(drop=True), model.classes, model.vetting)
    final = vet.proba if request.options.apply_vetting else p_blend
    return Classification(row, p_booster, p_cnn, p_blend, vet, final)


def predict_curve(model_set: ModelSet, request: PredictionRequest) -> dict:
    """Classify the signal (period, t0, duration) of `request.curve`; see the module docstring.

    Returns:
        JSON-ready dict of the API contract (probs, prediction, decision, physics_fit, vetting,
        explainability, optional plots / plot_data, version, input, warnings, timing_ms).

    Raises:
        InputError (BAD_INPUT), FitError / FitTimeout (FIT_FAIL), ModelError (MODEL_ERROR).
    """
    started = _time.perf_counter()
    checked = validate_curve(request.curve, request.period, request.t0, request.duration)
    model = model_set.get(checked.curve.mission)  # after validation: bad input is BAD_INPUT even without a model
    star_id = str(request.curve.star_id or "uploaded curve")
    measured = measure_signal(checked, request, model, star_id)
    classified = classify(model, measured, checked, request, star_id)
    response = build_response(model, checked, measured, classified, request, star_id)
    if request.options.return_plots or request.options.return_plot_data:
        check_deadline(request.deadline, "plots")
        add_plots(response, model, checked, measured, request)
    response["timing_ms"] = round((_time.perf_counter() - started) * 1e3, 1)
    return json_safe(response)
