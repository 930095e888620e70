"""The prediction's JSON: the decision rule, the confidence, SHAP, the physics fit and the plot data
(Dagster-free).

Decision rule (`DecisionConfig`, defaults cp_thresh 0.5 / cp_high 0.9, `exo_assets.defaults`): p(CP) >=
cp_high -> "high_confidence_planet"; cp_thresh <= p(CP) < cp_high -> "candidate"; otherwise
"false_positive" when FP is the most probable class, else "needs_follow_up"; "insufficient_data" (no
probabilities at all) when the transit was not measured (`measurability`). Confidence: entropy (nats)
of the final probabilities, its normalised value H / ln k, margin (top minus second probability) and
confidence_index = 1 - H / ln k (1 = certain, 0 = uniform).

Explainability: SHAP values of the booster for the predicted class, from
`reporting.explain.booster_shap` (LightGBM's `pred_contrib=True`: the TreeSHAP algorithm of
`shap.TreeExplainer`, computed inside LightGBM, ~1 ms; cheaper than building a shap explainer per
request), in raw-margin (log-odds) units, before temperature scaling.
"""

from __future__ import annotations

import math
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from exo_assets.inference.errors import InputError
from exo_assets.inference.loading import MissionModel
from exo_assets.inference.request import DecisionConfig, PredictionRequest
from exo_assets.inference.validation import ValidatedInput
from exo_assets.models.booster import BoosterModel
from exo_assets.science.diagnostics import mandel_agol_flux
from exo_assets.science.features import MODEL_FEATURES
from exo_assets.science.missions import mission_info
from exo_assets.science.views import bin_centres
from exo_assets.storage import finite_or_none

if TYPE_CHECKING:
    from exo_assets.inference.engine import Classification, Measurement


def safe_name(text: str, limit: int = 40) -> str:
    """File-name-safe version of a star id (letters, digits, '-', '_')."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "_", text or "curve").strip("_") or "curve")[:limit]


def decide(probs: dict[str, float], decision: DecisionConfig) -> dict:
    """The decision block: label, rule, score and confidence (see the module docstring)."""
    classes = list(probs)
    p = np.array([probs[c] for c in classes], dtype=np.float64)
    order = np.argsort(-p)
    top = classes[int(order[0])]
    p_cp = float(probs.get("CP", 0.0))
    if p_cp >= decision.cp_high:
        label, rule, score = "high_confidence_planet", f"p(CP) >= {decision.cp_high:.2f}", p_cp
    elif p_cp >= decision.cp_thresh:
        label, rule, score = "candidate", f"{decision.cp_thresh:.2f} <= p(CP) < {decision.cp_high:.2f}", p_cp
    elif top == "FP":
        label, rule, score = (
            "false_positive",
            f"p(CP) < {decision.cp_thresh:.2f} and FP most probable",
            float(p.max()),
        )
    else:
        label, rule = "needs_follow_up", f"p(CP) < {decision.cp_thresh:.2f} and {top} most probable"
        score = float(p.max())
    pc = np.clip(p, 1e-300, 1.0)
    entropy = float(-np.sum(p * np.log(pc)))
    norm = entropy / math.log(len(p)) if len(p) > 1 else 0.0
    margin = float(p[order[0]] - p[order[1]]) if len(p) > 1 else 1.0
    return {
        "label": label,
        "rule": rule,
        "reason": "",
        "score": score,
        "confidence": {
            "entropy": entropy,
            "entropy_normalized": norm,
            "margin": margin,
            "confidence_index": 1.0 - norm,
        },
    }


def top_shap(booster: BoosterModel, row: pd.DataFrame, class_index: int, top_k: int) -> dict:
    """Top SHAP features of one row for one class, from `reporting.explain.booster_shap` (LightGBM's
    TreeSHAP, the project's one SHAP implementation), in raw-margin units."""
    from exo_assets.reporting.explain import SHAP_METHOD, booster_shap

    shap = booster_shap(booster, row, max_rows=1)
    values = shap.values[0, class_index]
    order = np.argsort(-np.abs(values))[: max(0, int(top_k))]
    return {
        "method": SHAP_METHOD,
        "class": booster.classes[class_index],
        "units": "booster raw margin (log-odds) of that class, before temperature scaling",
        "base_value": float(shap.bias[class_index]),
        "top_shap": [
            {"feature": shap.features[i], "shap": float(values[i]), "value": finite_or_none(shap.data[0, i])}
            for i in order
        ],
    }


def physics_fit(features: dict, details: dict) -> dict:
    """The Mandel-Agol fit and the related diagnostics of `compute_diagnostics`, in the API's shape."""
    f = {k: finite_or_none(v) for k, v in features.items() if k != "ma_fit_status"}
    status = str(features.get("ma_fit_status", ""))
    k = f.get("ma_rp_rs")
    bic_t, bic_f = finite_or_none(details.get("bic_transit")), finite_or_none(details.get("bic_flat"))
    t14 = f.get("ma_t14_days")
    depth = f.get("depth_ppm")
    return {
        "model": "MandelAgol2002",
        "params": {
            "Rp_Rs": k,
            "b": f.get("ma_b"),
            "a_Rs": f.get("ma_a_rs"),
            "u1": f.get("ma_u1"),
            "u2": f.get("ma_u2"),
        },
        "derived": {
            "rho_star_phot": f.get("rho_star_fit_cgs"),
            "rho_star_catalog": f.get("rho_star_catalog_cgs"),
            "density_ratio": f.get("density_ratio"),
            "delta": depth * 1e-6 if depth is not None else None,
            "delta_geometric": k * k if k is not None else None,
            "T14": t14,
            "T14_hours": t14 * 24.0 if t14 is not None else None,
        },
        "goodness": {
            "bic": bic_t,
            "bic_flat": bic_f,
            "delta_bic_vs_notransit": (bic_t - bic_f) if bic_t is not None and bic_f is not None else None,
            "snr": f.get("transit_snr"),
            "mes": f.get("mes"),
        },
        "odd_even": f.get("odd_even_sigma"),
        "odd_even_depths_ppm": {"odd": f.get("odd_depth_ppm"), "even": f.get("even_depth_ppm")},
        "secondary": {
            "snr": f.get("secondary_sigma"),
            "phase": 0.5,
            "depth_ppm": f.get("secondary_depth_ppm"),
            "strongest_other": {"snr": f.get("max_other_sigma"), "phase": f.get("max_other_phase")},
        },
        "v_shape": f.get("v_shape"),
        "status": "estimated" if status == "ok" else "failed",
        "reason": "" if status == "ok" else status.removeprefix("failed: "),
        "units": {
            "T14": "days",
            "rho_star_phot": "g cm^-3",
            "rho_star_catalog": "g cm^-3",
            "delta": "fraction of the stellar flux (measured core depth)",
            "delta_geometric": "(Rp/Rs)^2",
            "bic": "on the binned folded curve",
            "delta_bic_vs_notransit": "BIC(transit) - BIC(flat): negative favours a transit",
            "odd_even": "sigma",
            "secondary.snr": "sigma",
        },
    }


def plot_data(
    model: MissionModel,
    result,
    details: dict,
    period: float,
    duration: float,
    t0_views: float,
    cadence: float,
) -> dict:
    """Arrays for a front end: global fold with the model, the fitted local fold, residuals, the CNN's
    local views and the model's reliability diagram."""
    views = result.views
    vc = model.view_config
    gw = min(vc.global_bin_width_factor * period / vc.global_bins, period)
    gx = bin_centres(-0.5 * period, 0.5 * period, vc.global_bins, gw)
    scale = float(views.depth_scale)
    feats = result.features
    ok_fit = feats.get("ma_fit_status") == "ok" and "ma_tc" in details
    shift = float(details.get("t0", t0_views) - t0_views) + float(details.get("ma_tc", 0.0))
    u = (feats.get("ma_u1", 0.4), feats.get("ma_u2", 0.25))
    y_model_global = None
    if ok_fit:
        y_model_global = mandel_agol_flux(
            gx, period, feats["ma_rp_rs"], feats["ma_b"], feats["ma_a_rs"], u, tc=shift, exposure_days=cadence
        )
    half = vc.local_half_width(period, duration)
    lx = (
        bin_centres(-half, half, vc.local_bins, min(vc.local_bin_width_factor * duration, 2 * half))
        / duration
    )
    out = {
        "phase": {
            "x": gx / period,
            "y": 1.0 + views.global_.astype(np.float64) * scale,
            "y_model": y_model_global,
            "x_units": "orbital phase (0 = transit at t0)",
            "y_units": "relative flux",
        },
        "local": {
            "x": details.get("fit_x"),
            "y": details.get("fit_y"),
            "y_err": details.get("fit_sig"),
            "y_model": details.get("ma_model_y") if ok_fit else None,
            "x_units": "days from the fitted mid-transit",
            "y_units": "relative flux",
        },
        "residuals": {
            "x": details.get("fit_x"),
            "r": (
                (np.asarray(details["fit_y"]) - np.asarray(details["ma_model_y"])) * 1e6
                if ok_fit and details.get("fit_x") is not None
                else None
            ),
            "x_units": "days from the fitted mid-transit",
            "r_units": "ppm",
        },
        "local_view": {
            "x": lx,
            "y": views.local,
            "odd": views.odd,
            "even": views.even,
            "secondary": views.secondary,
            "x_units": "transit durations from t0",
            "y_units": "CNN input: out-of-transit 0, local transit minimum -1",
        },
        "reliability": {k: model.reliability.get(k, []) for k in ("confidence", "accuracy", "counts")},
    }
    return out


def _by_class(proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    return {c: float(proba[0, i]) for i, c in enumerate(classes)}


def build_response(
    model: MissionModel,
    checked: ValidatedInput,
    measured: Measurement,
    classified: Classification,
    request: PredictionRequest,
    star_id: str,
) -> dict:
    """The prediction of the API contract (without plots and timing; not yet `json_safe`)."""
    classes = model.classes
    probs = _by_class(classified.final, classes)
    prediction = classes[int(np.argmax(classified.final[0]))]
    vet = classified.vetting
    flags = [f for f in vet.flags.columns if bool(vet.flags[f].iloc[0])]
    weights = {r.flag: r.weight for r in model.vetting.rules}
    feats = dict(measured.result.features)
    details = measured.details
    mission = checked.curve.mission
    warnings = [*checked.conversions, *measured.warnings]
    if feats.get("ma_fit_status") != "ok":
        warnings.append(f"Mandel-Agol fit: {feats.get('ma_fit_status')}")
    if model.provenance == "simulated":
        warnings.append(
            "model trained on simulated data: probabilities are simulated, not real-world accuracy"
        )
    return {
        "star_id": star_id,
        "mission": mission,
        "provenance": model.provenance,
        "version": model.info(request.decision),
        "probs": probs,
        "prediction": prediction,
        "decision": decide(probs, request.decision),
        "stages": {
            "booster": _by_class(classified.booster, classes),
            "cnn": _by_class(classified.cnn, classes) if classified.cnn is not None else None,
            "blend": _by_class(classified.blend, classes),
            "alpha": float(model.blend.alpha),
        },
        "physics_fit": physics_fit(feats, details),
        "vetting": {
            "enabled": bool(request.options.apply_vetting),
            "penalties": {f: (weights[f] if f in flags else 0.0) for f in weights},
            "flags": flags,
            "total_penalty": float(vet.penalty.iloc[0]),
            "post_penalty_probs": _by_class(vet.proba, classes),
            "negative_classes": vet.negative_classes,
        },
        "explainability": top_shap(
            model.booster, classified.row, classes.index(prediction), request.options.top_k_shap
        ),
        "diagnostics": classified.row[MODEL_FEATURES].iloc[0].to_dict(),
        "input": input_block(checked, measured),
        "plots": None,
        "plot_data": None,
        "warnings": warnings,
    }


def input_block(checked: ValidatedInput, measured: Measurement) -> dict:
    """The `input` block: cadences used, time system, ephemeris used and its sources, cleaning counts."""
    details = measured.details
    return {
        "n_cadences": int(checked.curve.time.size),
        "n_finite": checked.n_finite,
        "n_used": int(measured.curve.time.size),
        "baseline_days": checked.baseline,
        "time_system": mission_info(checked.curve.mission).time_system,
        "period_days": checked.period,
        "t0": measured.t0_views,
        "t0_fitted": details.get("t0"),
        "duration_days": measured.duration,
        "duration_source": measured.duration_source,
        "epoch_source": str(measured.ephemeris["epoch_source"].iloc[0]),
        "cleaning": dict(measured.curve.stats),
        "conversions": checked.conversions,
    }


def insufficient_response(
    model: MissionModel,
    checked: ValidatedInput,
    measured: Measurement,
    request: PredictionRequest,
    star_id: str,
    reason: str,
) -> dict:
    """The answer when the transit was not measured: decision `insufficient_data` with `reason`, no
    probabilities, no class (what was measured is still reported)."""
    feats = dict(measured.result.features)
    warnings = [*checked.conversions, *measured.warnings, f"insufficient data: {reason}"]
    if model.provenance == "simulated":
        warnings.append(
            "model trained on simulated data: probabilities are simulated, not real-world accuracy"
        )
    numeric = {k: finite_or_none(feats.get(k)) for k in MODEL_FEATURES if k in feats}
    return {
        "star_id": star_id,
        "mission": checked.curve.mission,
        "provenance": model.provenance,
        "version": model.info(request.decision),
        "probs": None,
        "prediction": None,
        "decision": {
            "label": "insufficient_data",
            "rule": "the transit was not measured: no class is given",
            "reason": reason,
            "score": None,
            "confidence": None,
        },
        "stages": None,
        "physics_fit": physics_fit(feats, measured.details) if feats else None,
        "vetting": None,
        "explainability": None,
        "diagnostics": numeric or None,
        "input": input_block(checked, measured),
        "plots": None,
        "plot_data": None,
        "warnings": warnings,
    }


def add_plots(
    response: dict,
    model: MissionModel,
    checked: ValidatedInput,
    measured: Measurement,
    request: PredictionRequest,
) -> None:
    """Fill `plot_data` and / or `plots` (PNG files under `request.media_dir`) as the options ask."""
    options = request.options
    curve = measured.curve
    cadence = float(np.median(np.diff(curve.time))) if curve.time.size > 1 else 0.0
    data = plot_data(
        model,
        measured.result,
        measured.details,
        checked.period,
        measured.duration,
        measured.t0_views,
        cadence,
    )
    if options.return_plot_data:
        response["plot_data"] = data
    if options.return_plots:
        if request.media_dir is None:
            raise InputError("plots were requested but this server has no media folder")
        from exo_assets.inference.plots import write_plots

        star_id, prediction = response["star_id"], response["prediction"]
        stem = f"{safe_name(star_id)}_{uuid.uuid4().hex[:10]}"
        title = f"{star_id} ({checked.curve.mission}, P = {checked.period:.4f} d) — {prediction}"
        if model.provenance == "simulated":
            title += " [simulated model]"
        response["plots"] = write_plots(
            data,
            Path(request.media_dir),
            stem,
            title,
            request.media_url,
            confidence=max(response["probs"].values()),
        )
