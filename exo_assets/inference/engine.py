"""The inference engine: stored model assets + one light curve -> the API's prediction (Dagster-free).

`predict_curve` runs exactly the training code path on the uploaded curve:

1. `validation.validate_curve` (lengths, finite points, sorted times, ephemeris; BJD -> BKJD/BTJD);
1b. `resolve_inputs`: the shipped catalog by star id (`star`): stellar inputs not given (catalog, else
   FITS header), the catalog duration of the matching signal when none is given, the star's other
   signals to mask; each input's source goes into the response's `inputs`;
2. `prepare.clean_with_ephemerides` (quality mask, normalisation, wotan biweight detrending with the
   transits masked, upper clipping; a stale epoch is refined by BLS as for the catalog);
3. `features.signal_features` (the five AstroNet views with the `ViewConfig` the CNN was trained
   on, and every vetting diagnostic including the Mandel-Agol fit), assembled into a feature row by
   `features.feature_rows`; `measurability.assess_transit`: no measured transit -> `insufficient_data`
   (no class); one covered event -> `single_transit` (multi-event diagnostics NaN);
4. `BoosterModel.predict_proba` (temperature-calibrated) and `CNNClassifier.predict_proba`, then
   `blend.apply_blend` and `vetting.apply_vetting` with the stored blend and vetting config;
5. `response.build_response` (decision, confidence, SHAP, physics fit, optional plots).

Units: time, t0, period and duration are days in the mission's time system (BKJD = BJD - 2454833
for Kepler/K2, BTJD = BJD - 2457000 for TESS). A t0 (or times) above 2,400,000 is taken as BJD and
the mission offset is subtracted (reported in `input.conversions`). Flux is any positive flux
(e-/s or relative); each segment is normalised by its median.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from exo_assets.inference.errors import FitError, InputError, check_deadline
from exo_assets.inference.loading import MissionModel, ModelSet
from exo_assets.inference.measurability import assess_transit, mark_single_transit
from exo_assets.inference.request import TARGET_FIELDS, PredictionRequest
from exo_assets.inference.response import (
    add_plots,
    build_response,
    insufficient_response,
)
from exo_assets.inference.star import (
    KnownSignal,
    StarContext,
    match_signal,
    other_signals,
    resolve_stellar,
    star_context,
)
from exo_assets.inference.validation import ValidatedInput, validate_curve
from exo_assets.models.blend import apply_blend
from exo_assets.models.vetting import VettingResult, apply_vetting
from exo_assets.science.cleaning import CleanedCurve, clean_light_curve
from exo_assets.science.diagnostics import StellarParams, estimate_epoch_bls
from exo_assets.science.features import VIEW_NAMES, SignalResult, feature_rows, signal_features
from exo_assets.science.lightcurves import LightCurveData, LightCurveError
from exo_assets.science.prepare import clean_with_ephemerides
from exo_assets.storage import finite_or_none, json_safe

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

    curve: CleanedCurve
    ephemeris: pd.DataFrame
    result: SignalResult
    details: dict
    duration: float
    duration_source: str
    t0_views: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class Resolved:
    """What the engine looked up: the star's catalog context, the catalog signal matching the request (None
    when none), the other signals to mask (dicts of signal_id, period, t0, duration, source) and the
    stellar inputs with their sources (`inference.star.resolve_stellar`, plus depth_ppm)."""

    context: StarContext
    match: KnownSignal | None
    others: list
    values: dict
    sources: dict


@dataclass
class Classification:
    """The feature row and each stage's (1, k) probabilities; `final` is post-vetting or the blend's."""

    row: pd.DataFrame
    booster: np.ndarray
    cnn: np.ndarray | None
    blend: np.ndarray
    vetting: VettingResult
    final: np.ndarray


def _duration(
    checked: ValidatedInput, lc: LightCurveData, match: KnownSignal | None
) -> tuple[float, str, list]:
    """T14 (days) and its source: "given"; "catalog" (the matched signal's); else "bls" (BLS at the given
    period; reported as "measured" in `inputs`)."""
    if checked.duration is not None:
        return float(checked.duration), "given", []
    if match is not None and math.isfinite(match.duration) and 0 < match.duration < 0.5 * checked.period:
        note = f"duration not given: the catalog's {match.duration:.4f} d of {match.signal_id} used"
        return float(match.duration), "catalog", [note]
    first = clean_light_curve(lc, [])
    _, dur, _ = estimate_epoch_bls(first.time, first.flux, checked.period, None)
    if not 0 < dur < 0.5 * checked.period:
        raise FitError(f"could not estimate a duration below half the period (BLS gave {dur:g} d)")
    return float(dur), "bls", [f"duration not given: {dur:.4f} d estimated by BLS at the given period"]


def _clean(
    checked: ValidatedInput,
    request: PredictionRequest,
    star_id: str,
    match: KnownSignal | None,
    others: list[dict],
) -> tuple:
    """Clean the curve around the signal with the other signals masked: (curve, ephemeris table, duration,
    duration source, warnings)."""
    lc = replace(checked.curve, star_id=star_id)
    try:
        dur, duration_source, warnings = _duration(checked, lc, match)
        check_deadline(request.deadline, "cleaning")
        eph = pd.DataFrame(
            [
                {
                    "signal_id": "signal",
                    "star_id": star_id,
                    "period_days": checked.period,
                    "epoch": checked.t0,
                    "duration_days": dur,
                    "epoch_source": "catalog",
                }
            ]
            + [
                {
                    "signal_id": f"other_{i}",
                    "star_id": star_id,
                    "period_days": o["period"],
                    "epoch": o["t0"],
                    "duration_days": o["duration"],
                    "epoch_source": "catalog",
                }
                for i, o in enumerate(others)
            ]
        )
        curve, eph = clean_with_ephemerides(lc, eph)
    except LightCurveError as err:
        raise InputError(f"the curve cannot be cleaned: {err}") from None
    except ValueError as err:  # estimate_epoch_bls
        raise FitError(f"cleaning failed: {err}") from None
    return curve, eph, dur, duration_source, warnings


def measure_signal(
    checked: ValidatedInput,
    request: PredictionRequest,
    model: MissionModel,
    star_id: str,
    match: KnownSignal | None = None,
    others: list[dict] | None = None,
    stellar: dict | None = None,
) -> Measurement:
    """Clean the curve and measure the signal as training does (views + diagnostics); the result may have
    status "failed" (see `measurability.assess_transit`)."""
    others = list(others or [])
    curve, eph, dur, duration_source, warnings = _clean(checked, request, star_id, match, others)
    check_deadline(request.deadline, "cleaning")
    row_eph = eph.iloc[0]
    t0_views = float(row_eph["epoch"])
    if row_eph["epoch_source"] == "bls_refined":
        warnings.append(
            f"t0 lies far from the data and misses the transit; BLS epoch {t0_views:.5f} used "
            "(as for stale catalog epochs in training)"
        )
    others_used = [
        tuple(map(float, r)) for r in eph.iloc[1:][["period_days", "epoch", "duration_days"]].to_numpy()
    ]
    details: dict = {}
    st = stellar or {}
    star = StellarParams(st.get("teff_k", np.nan), st.get("logg_cgs", np.nan), st.get("radius_rsun", np.nan))
    # Training measures the curves as the cleaned_curves asset stores them: flux rounded to float32.
    flux32 = curve.flux.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    err32 = curve.flux_err.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    result = signal_features(
        curve.time,
        flux32,
        err32,
        checked.period,
        t0_views,
        dur,
        star,
        "signal",
        others_used,
        checked.curve.mission,
        model.view_config,
        details=details,
    )
    check_deadline(request.deadline, "diagnostics")
    return Measurement(curve, eph.iloc[:1], result, details, dur, duration_source, t0_views, warnings)


def classify(
    model: MissionModel,
    measured: Measurement,
    checked: ValidatedInput,
    request: PredictionRequest,
    star_id: str,
    inputs: dict | None = None,
) -> Classification:
    """Booster, CNN, blend and vetting on the measured signal's feature row (`inputs`: the resolved stellar
    values and catalog depth; default the request's own)."""
    target = request.target
    vals = inputs if inputs is not None else {k: getattr(target, k) for k in TARGET_FIELDS}
    catalog = pd.DataFrame(
        [
            {
                "signal_id": "signal",
                "star_id": star_id,
                "mission": checked.curve.mission,
                "label": "",
                "period_days": checked.period,
                "duration_days": measured.duration,
                **{k: vals.get(k, np.nan) for k in TARGET_FIELDS},
            }
        ]
    )
    row = feature_rows([measured.result], catalog, measured.ephemeris, model.provenance)
    p_booster = model.booster.predict_proba(row)
    p_cnn = None
    if model.cnn is not None:
        assert measured.result.views is not None  # classified only when measured: status "ok" has views
        views = {
            name: view[None, :]
            for name, view in measured.result.views.as_dict().items()
            if name in VIEW_NAMES
        }
        p_cnn = model.cnn.predict_proba(views)
    gate = row[model.blend.gate_feature].to_numpy(np.float64) if model.blend.gate_feature else None
    p_blend = apply_blend(model.blend, p_booster, p_cnn, gate)
    vet = apply_vetting(p_blend, row.reset_index(drop=True), model.classes, model.vetting)
    final = vet.proba if request.options.apply_vetting else p_blend
    return Classification(row, p_booster, p_cnn, p_blend, vet, final)


def resolve_inputs(checked: ValidatedInput, request: PredictionRequest) -> Resolved:
    """The star's context (shipped catalog by star id), the matched catalog signal, the signals to mask and
    the stellar inputs with their sources (see `inference.star`)."""
    mission = checked.curve.mission
    ctx = star_context(request.curve.star_id, mission)
    match = next(
        (s for s in ctx.signals if request.signal_id and s.signal_id == request.signal_id), None
    ) or match_signal(ctx.signals, checked.period)
    others = other_signals(
        ctx, checked.period, request.other_signals, exclude_id=match.signal_id if match is not None else None
    )
    given = {k: getattr(request.target, k) for k in TARGET_FIELDS}
    values, sources = resolve_stellar(given, request.curve.header, ctx)
    depth, depth_source = given["depth_ppm"], "given"
    if not math.isfinite(depth):
        depth, depth_source = (match.depth_ppm, "catalog") if match is not None else (np.nan, "missing")
        if not math.isfinite(depth):
            depth, depth_source = np.nan, "missing"
    values["depth_ppm"], sources["depth_ppm"] = float(depth), depth_source
    return Resolved(ctx, match, others, values, sources)


def inputs_block(
    checked: ValidatedInput, request: PredictionRequest, resolved: Resolved, measured: Measurement | None
) -> dict:
    """Per input: value and source (given / header / catalog / measured / missing), plus what was masked."""
    eph = request.ephemeris_source
    out = {
        "period_days": {"value": checked.period, "source": eph},
        "t0": {
            "value": checked.t0,
            "source": eph
            if measured is None or measured.ephemeris["epoch_source"].iloc[0] != "bls_refined"
            else "measured",
        },
    }
    if measured is not None:
        out["duration_days"] = {
            "value": measured.duration,
            "source": {"given": eph, "bls": "measured"}.get(
                measured.duration_source, measured.duration_source
            ),
        }
    for k in TARGET_FIELDS:
        out[k] = {"value": finite_or_none(resolved.values[k]), "source": resolved.sources[k]}
    out["depth_ppm"]["note"] = "catalog depth: reported, not a model input (the measured depth is)"
    return out


def predict_curve(model_set: ModelSet, request: PredictionRequest) -> dict:
    """Classify the signal (period, t0, duration) of `request.curve`; see the module docstring.

    Returns:
        JSON-ready dict of the API contract (probs, prediction, decision, physics_fit, vetting,
        explainability, optional plots / plot_data, version, input, inputs, flags, warnings, timing_ms).
        When the transit was not measured: decision `insufficient_data` with its reason, and no
        probabilities (`measurability`).

    Raises:
        InputError (BAD_INPUT), FitError / FitTimeout (FIT_FAIL), ModelError (MODEL_ERROR).
    """
    started = _time.perf_counter()
    checked = validate_curve(request.curve, request.period, request.t0, request.duration)
    model = model_set.get(
        checked.curve.mission
    )  # after validation: bad input is BAD_INPUT even without a model
    star_id = str(request.curve.star_id or "uploaded curve")
    resolved = resolve_inputs(checked, request)
    measured = measure_signal(
        checked, request, model, star_id, resolved.match, resolved.others, resolved.values
    )
    res = measured.result
    verdict = assess_transit(res.status, res.reason, res.features, res.nan_reasons)
    inputs = inputs_block(checked, request, resolved, measured)
    masked = [{k: o[k] for k in ("signal_id", "period", "t0", "duration", "source")} for o in resolved.others]
    flags = []
    if verdict.single_transit or (verdict.measured and checked.period > checked.baseline):
        flags.append("single_transit")
        res.features, res.nan_reasons = mark_single_transit(res.features, res.nan_reasons)
    if not verdict.measured:
        response = insufficient_response(model, checked, measured, request, star_id, verdict.reason)
    else:
        classified = classify(model, measured, checked, request, star_id, resolved.values)
        response = build_response(model, checked, measured, classified, request, star_id)
        flags += response["vetting"]["flags"]
        if "single_transit" in flags:
            response["warnings"].append(
                "single transit: classified from one event; odd/even, per-transit "
                "scatter and BLS period tests not measurable"
            )
        if request.options.return_plots or request.options.return_plot_data:
            check_deadline(request.deadline, "plots")
            add_plots(response, model, checked, measured, request)
    response["flags"] = flags
    response["inputs"] = inputs
    response["input"]["other_signals_masked"] = masked
    response["input"]["catalog_star_id"] = resolved.context.star_id if resolved.context.found else None
    if masked:
        response["warnings"].append(
            "other known signals of the star masked: " + ", ".join(o["signal_id"] for o in masked)
        )
    if checked.curve.mission == "TESS":  # the model trained on real TESS labels, in its own block
        from exo_assets.inference.real_label import BLOCK_KEY, block_for_prediction

        response[BLOCK_KEY] = block_for_prediction(model_set, checked, measured, resolved)
    response["timing_ms"] = round((_time.perf_counter() - started) * 1e3, 1)
    return json_safe(response)
