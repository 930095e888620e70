"""The inference engine: stored model assets + one light curve -> the API's prediction (Dagster-free).

`predict_curve` runs exactly the training code path on the uploaded curve:

1. `prepare.clean_with_ephemerides` (quality mask, normalisation, wotan biweight detrending with the
   transits masked, upper clipping; a stale epoch is refined by BLS as for the catalog);
2. `features.signal_features` (the five AstroNet views with the `ViewConfig` the CNN was trained
   on, and every vetting diagnostic including the Mandel-Agol fit), assembled into a feature row by
   `features.feature_rows`;
3. `BoosterModel.predict_proba` (temperature-calibrated) and `CNNClassifier.predict_proba`;
4. `blend.apply_blend` and `vetting.apply_vetting` with the stored blend and vetting config.

Explainability: SHAP values of the booster for the predicted class, from
`reporting.explain.booster_shap` (LightGBM's `pred_contrib=True`: the TreeSHAP algorithm of
`shap.TreeExplainer`, computed inside LightGBM, ~1 ms; cheaper than building a shap explainer per
request), in raw-margin (log-odds) units, before temperature scaling.

Units: time, t0, period and duration are days in the mission's time system (BKJD = BJD - 2454833
for Kepler/K2, BTJD = BJD - 2457000 for TESS). A t0 (or times) above 2,400,000 is taken as BJD and
the mission offset is subtracted (reported in `input.conversions`). Flux is any positive flux
(e-/s or relative); each segment is normalised by its median.

Decision rule (`DecisionConfig`, defaults cp_thresh 0.5 / cp_high 0.9): p(CP) >= cp_high ->
"high_confidence_planet"; cp_thresh <= p(CP) < cp_high -> "candidate"; otherwise "false_positive"
when FP is the most probable class, else "needs_follow_up". Confidence: entropy (nats) of the final
probabilities, its normalised value H / ln k, margin (top minus second probability) and
confidence_index = 1 - H / ln k (1 = certain, 0 = uniform).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time as _time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exo_assets.models import artifacts
from exo_assets.models.blend import BlendModel, apply_blend
from exo_assets.models.booster import BoosterModel
from exo_assets.models.metrics import reliability_bins
from exo_assets.models.vetting import VettingConfig, apply_vetting
from exo_assets.science.cleaning import CleaningConfig, clean_light_curve
from exo_assets.science.diagnostics import StellarParams, estimate_epoch_bls, mandel_agol_flux
from exo_assets.science.features import MODEL_FEATURES, VIEW_NAMES, feature_rows, signal_features
from exo_assets.science.lightcurves import LightCurveData, LightCurveError
from exo_assets.science.missions import MISSIONS, mission_info
from exo_assets.science.prepare import clean_with_ephemerides
from exo_assets.science.views import ViewConfig, bin_centres
from exo_assets.storage import finite_or_none, json_safe

#: Times / epochs above this are read as BJD and converted to the mission's system (days).
BJD_THRESHOLD = 2.4e6
#: Fewest finite cadences a curve must have (the cleaning's own minimum).
MIN_POINTS = CleaningConfig().min_points
#: The cleaned_curves asset stores flux and flux_err as float32 (exo_assets/assets/ingest.py) and the
#: features are measured on those values; inference rounds the same way so it reproduces them exactly.
CLEANED_FLUX_DTYPE = np.float32


# ---------------------------------------------------------------------------------------- errors

class InferenceError(Exception):
    """An error with an API code ("BAD_INPUT", "FIT_FAIL", "MODEL_ERROR") and a client-safe message."""

    code = "INTERNAL"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(InferenceError):
    """The request or the curve is not usable (wrong lengths, too few points, bad ephemeris, ...)."""

    code = "BAD_INPUT"


class FitError(InferenceError):
    """The curve is valid but the signal could not be measured (no data near the transit, ...)."""

    code = "FIT_FAIL"


class FitTimeout(FitError):
    """The fit ran past its deadline."""


class ModelError(InferenceError):
    """No usable model for the requested mission."""

    code = "MODEL_ERROR"


# ---------------------------------------------------------------------------------------- config

@dataclass(frozen=True)
class DecisionConfig:
    """Thresholds of the decision rule on the final p(CP) (see the module docstring)."""

    cp_thresh: float = 0.5
    cp_high: float = 0.9

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


@dataclass(frozen=True)
class TargetInfo:
    """Optional facts about the star and the signal (NaN = unknown; LightGBM handles missing values).

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
    def from_header(cls, header: Mapping, **overrides) -> "TargetInfo":
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


# ---------------------------------------------------------------------------------------- models

def _reliability(blend_oof: pd.DataFrame, classes: list[str]) -> dict:
    cols = artifacts.proba_columns(classes, artifacts.FINAL_STAGE)
    if blend_oof is None or not len(blend_oof) or not set(cols) <= set(blend_oof.columns):
        return {"confidence": [], "accuracy": [], "counts": [], "source": "none"}
    lookup = {c: i for i, c in enumerate(classes)}
    y = blend_oof["label"].map(lookup).to_numpy()
    ok = ~pd.isna(y)
    bins = reliability_bins(y[ok].astype(int), blend_oof.loc[ok, cols].to_numpy(np.float64), 15)
    bins["source"] = "out-of-fold blend + vetting probabilities of the training stars"
    return bins


def _contract_metrics(m: dict | None) -> dict:
    if not m:
        return {}
    return {"macro_f1": m.get("macro_f1"), "logloss": m.get("log_loss"), "ece": m.get("ece_15"),
            "brier": m.get("brier"), "roc_auc_planet_vs_fp": m.get("binary_roc_auc"), "n": m.get("n")}


@dataclass
class MissionModel:
    """The models of one mission partition, rebuilt from the stored asset values.

    Attributes:
        mission: partition key.
        booster, cnn, blend, vetting: the trained objects (`cnn` None when its bundle was unusable
            and the blend gives it no weight).
        view_config: the views the CNN was trained on.
        classes: probability column order.
        holdout_metrics: blend + vetting metrics on the holdout stars (contract keys), per stage in
            `holdout_by_stage`.
        reliability: reliability-diagram bins of the out-of-fold blend + vetting probabilities.
        model_hash: sha256 (16 hex) of the booster text, CNN weights, blend and vetting config.
        trained_at: the booster's training timestamp (ISO 8601 UTC).
        provenance: data the models were trained on: simulated, local or MAST.
        lineage: asset -> {"run_id", "storage_id", "timestamp"} of the materializations loaded.
    """

    mission: str
    booster: BoosterModel
    cnn: object | None
    blend: BlendModel
    vetting: VettingConfig
    view_config: ViewConfig
    classes: list[str]
    holdout_metrics: dict
    holdout_by_stage: dict
    oof_metrics: dict
    reliability: dict
    model_hash: str
    trained_at: str
    provenance: str
    lineage: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """Dagster run id of the blend materialization (the last model asset)."""
        return str(self.lineage.get("blend", {}).get("run_id", ""))

    @property
    def features(self) -> list[str]:
        return list(self.booster.features)

    @classmethod
    def from_bundles(cls, mission: str, booster_bundle, cnn_bundle, blend_bundle, view_config: dict | None = None,
                     lineage: dict | None = None, device: str = "cpu") -> "MissionModel":
        """Rebuild from the `TableBundle` values of calibrated_booster, cnn_oof and blend.

        Args:
            view_config: ViewConfig fields; default the one stored in cnn_oof's attrs (else AstroNet's).
            lineage: materialization facts to report (run ids, storage ids, timestamps).
            device: torch device of the CNN.
        Raises:
            ModelError: a bundle lacks what inference needs.
        """
        try:
            booster = artifacts.read_booster(booster_bundle)
            blend, vetting = artifacts.read_blend(blend_bundle)
        except (KeyError, ValueError, TypeError) as err:
            raise ModelError(f"{mission}: stored models are incomplete or unreadable ({type(err).__name__}: {err})")
        notes = []
        cnn = None
        try:
            cnn = artifacts.read_cnn(cnn_bundle.files, device=device)
        except Exception as err:  # noqa: BLE001 - the blend may not need it
            if blend.uses_cnn:
                raise ModelError(f"{mission}: the blend uses the CNN but its stored model is unreadable ({err})")
            notes.append(f"CNN unavailable ({type(err).__name__}); the blend gives it no weight")
        vc = view_config if view_config is not None else artifacts.stored_view_config(cnn_bundle)
        view = ViewConfig(**{k: v for k, v in (vc or {}).items() if k in ViewConfig.__dataclass_fields__})
        if cnn is not None:
            lengths = cnn.input_lengths
            if lengths.get("global") != view.global_bins or lengths.get("local") != view.local_bins:
                raise ModelError(f"{mission}: CNN input lengths {lengths} do not match the view config {view}")
        classes = list(blend_bundle.attrs.get("classes") or booster.classes)
        if list(booster.classes) != classes or list(blend.classes) != classes:
            raise ModelError(f"{mission}: class order differs between booster {booster.classes}, blend {blend.classes}")
        metrics = blend_bundle.attrs.get("metrics", {})
        holdout = metrics.get("holdout", {})
        digest = hashlib.sha256()
        digest.update(booster_bundle.files[artifacts.BOOSTER_MODEL_FILE])
        if cnn_bundle is not None and artifacts.CNN_WEIGHTS_FILE in cnn_bundle.files:
            digest.update(cnn_bundle.files[artifacts.CNN_WEIGHTS_FILE])
        digest.update(json.dumps({"blend": blend.to_dict(), "vetting": vetting.to_dict(), "view": view.__dict__},
                                 sort_keys=True).encode())
        provenance = str(blend_bundle.attrs.get("provenance") or booster.meta.get("provenance") or "unknown")
        return cls(
            mission=mission, booster=booster, cnn=cnn, blend=blend, vetting=vetting, view_config=view,
            classes=classes, holdout_metrics=_contract_metrics(holdout.get(artifacts.FINAL_STAGE)),
            holdout_by_stage={k: _contract_metrics(v) for k, v in holdout.items()},
            oof_metrics=_contract_metrics(metrics.get("oof", {}).get(artifacts.FINAL_STAGE)),
            reliability=_reliability(blend_bundle.tables.get("oof"), classes),
            model_hash=digest.hexdigest()[:16], trained_at=str(booster.meta.get("trained_at", "")),
            provenance=provenance, lineage=dict(lineage or {}), notes=notes)

    def info(self, decision: DecisionConfig | None = None) -> dict:
        """JSON-ready description (the `version` block of a prediction and `/api/models/info`)."""
        decision = decision or DecisionConfig()
        out = {
            "mission": self.mission, "model_hash": self.model_hash, "trained_at": self.trained_at,
            "run_id": self.run_id, "provenance": self.provenance, "features": self.features,
            "holdout_metrics": self.holdout_metrics,
            "decision_thresholds": {"cp_high": decision.cp_high, "cp_thresh": decision.cp_thresh},
            "classes": self.classes,
        }
        return json_safe(out)

    def details(self, decision: DecisionConfig | None = None) -> dict:
        """`info` plus lineage, per-stage metrics, blend and vetting settings and the view config."""
        out = self.info(decision)
        out.update(json_safe({
            "lineage": self.lineage, "holdout_metrics_by_stage": self.holdout_by_stage,
            "oof_metrics": self.oof_metrics, "cnn_loaded": self.cnn is not None,
            "blend": {"alpha": self.blend.alpha, "t_booster": self.blend.t_booster, "t_cnn": self.blend.t_cnn,
                      "gate_feature": self.blend.gate_feature, "uses_cnn": self.blend.uses_cnn},
            "vetting": self.vetting.to_dict(), "view_config": dict(self.view_config.__dict__),
            "notes": self.notes,
        }))
        if self.provenance == "simulated":
            out["notice"] = ("trained on the embedded simulator: metrics and probabilities are simulated, "
                             "not real-world accuracy")
        return out


@dataclass(frozen=True)
class ModelSet:
    """Models of every loaded mission plus a version token (changes whenever any model changes).

    Immutable once built: a server swaps whole ModelSets, so a request keeps the one it started with.
    """

    models: Mapping[str, MissionModel]
    version: str
    loaded_at: str = ""

    @classmethod
    def build(cls, models: Mapping[str, MissionModel], loaded_at: str = "") -> "ModelSet":
        token = hashlib.sha256(json.dumps(
            {m: [mm.model_hash, {a: v.get("storage_id") for a, v in mm.lineage.items()}]
             for m, mm in sorted(models.items())}, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return cls(dict(models), token, loaded_at or pd.Timestamp.now(tz="UTC").isoformat())

    def get(self, mission: str) -> MissionModel:
        """The mission's models; InputError for an unknown mission, ModelError when none is loaded."""
        if mission not in MISSIONS:
            raise InputError(f"unknown mission {mission!r}; expected one of {list(MISSIONS)}")
        if mission not in self.models:
            loaded = sorted(self.models) or "none"
            raise ModelError(f"no model is materialized for mission {mission!r} (loaded: {loaded}); run "
                             f"`exo-assets materialize --mission {mission}` with the same DAGSTER_HOME")
        return self.models[mission]


# ---------------------------------------------------------------------------------------- helpers

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


def _check_deadline(deadline: float | None, stage: str) -> None:
    if deadline is not None and _time.monotonic() > deadline:
        raise FitTimeout(f"the fit exceeded its time limit (during {stage})")


def safe_name(text: str, limit: int = 40) -> str:
    """File-name-safe version of a star id (letters, digits, '-', '_')."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "_", text or "curve").strip("_") or "curve")[:limit]


@dataclass
class ValidatedCurve:
    """A checked curve in the mission's time system (days)."""

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    segment: np.ndarray
    period: float
    t0: float
    duration: float | None
    n_finite: int
    baseline: float
    conversions: list[str]


def validate_curve(time, flux, flux_err, period, t0, duration, mission: str, quality=None,
                   segment=None) -> ValidatedCurve:
    """Check a curve and its ephemeris; InputError with a clear message for anything unusable.

    Rules: equal lengths; at least `MIN_POINTS` cadences with finite time and flux; finite times
    strictly increasing (no duplicates); period and t0 given and finite, 0 < period <= baseline
    (span of the finite times); duration, when given, 0 < duration < period / 2. Times or t0 above
    `BJD_THRESHOLD` are BJD and converted to the mission's system.
    """
    if mission not in MISSIONS:
        raise InputError(f"unknown mission {mission!r}; expected one of {list(MISSIONS)}")
    t = _array("time", time)
    n = t.size
    f = _array("flux", flux, n)
    e = _array("flux_err", flux_err, n) if flux_err is not None else np.full(n, np.nan)
    q = np.zeros(n, dtype=np.int32) if quality is None else _array("quality", quality, n)
    s = np.zeros(n, dtype=np.int32) if segment is None else _array("segment", segment, n)
    if n == 0:
        raise InputError("the curve is empty (no cadences)")
    if not np.isfinite(f).any():
        raise InputError("flux has no finite value (all NaN)")
    finite_t = np.isfinite(t)
    good = finite_t & np.isfinite(f)
    n_good = int(good.sum())
    if n_good < MIN_POINTS:
        raise InputError(f"only {n_good} cadences have a finite time and flux; at least {MIN_POINTS} are needed")
    tf = t[finite_t]
    steps = np.diff(tf)
    if (steps == 0).any():
        i = int(np.flatnonzero(steps == 0)[0])
        raise InputError(f"time has duplicate values (first at cadence {i + 1}: {tf[i]!r}); times must be "
                         "strictly increasing")
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0])
        raise InputError(f"time is not sorted (cadence {i + 1} at {tf[i + 1]!r} follows {tf[i]!r}); "
                         "times must be strictly increasing")
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
    if period > baseline:
        raise InputError(f"period {period:g} d is longer than the data's baseline ({baseline:.3f} d): "
                         "the transit cannot be folded")
    if duration is not None:
        d = finite_or_none(duration)
        if d is None or not 0 < d < 0.5 * period:
            raise InputError(f"duration must be a number with 0 < duration < period / 2, got {duration!r}")
        duration = d
    return ValidatedCurve(t, f, e, q.astype(np.int32), s.astype(np.int32), period, t0, duration, n_good,
                          baseline, conversions)


# ---------------------------------------------------------------------------------------- outputs

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
        label, rule, score = "false_positive", f"p(CP) < {decision.cp_thresh:.2f} and FP most probable", float(p.max())
    else:
        label, rule = "needs_follow_up", f"p(CP) < {decision.cp_thresh:.2f} and {top} most probable"
        score = float(p.max())
    pc = np.clip(p, 1e-300, 1.0)
    entropy = float(-np.sum(p * np.log(pc)))
    norm = entropy / math.log(len(p)) if len(p) > 1 else 0.0
    margin = float(p[order[0]] - p[order[1]]) if len(p) > 1 else 1.0
    return {"label": label, "rule": rule, "score": score,
            "confidence": {"entropy": entropy, "entropy_normalized": norm, "margin": margin,
                           "confidence_index": 1.0 - norm}}


def top_shap(booster: BoosterModel, row: pd.DataFrame, class_index: int, top_k: int) -> dict:
    """Top SHAP features of one row for one class, from `reporting.explain.booster_shap` (LightGBM's
    TreeSHAP, the project's one SHAP implementation), in raw-margin units."""
    from exo_assets.reporting.explain import SHAP_METHOD, booster_shap

    shap = booster_shap(booster, row, max_rows=1)
    values = shap.values[0, class_index]
    order = np.argsort(-np.abs(values))[:max(0, int(top_k))]
    return {
        "method": SHAP_METHOD,
        "class": booster.classes[class_index],
        "units": "booster raw margin (log-odds) of that class, before temperature scaling",
        "base_value": float(shap.bias[class_index]),
        "top_shap": [{"feature": shap.features[i], "shap": float(values[i]), "value": finite_or_none(shap.data[0, i])}
                     for i in order],
    }


def physics_fit(features: dict, details: dict) -> dict:
    """The Mandel-Agol fit and the related diagnostics of `compute_diagnostics`, in the API's shape."""
    f = {k: finite_or_none(v) for k, v in features.items() if k != "ma_fit_status"}
    status = str(features.get("ma_fit_status", ""))
    k = f.get("ma_rp_rs")
    bic_t, bic_f = finite_or_none(details.get("bic_transit")), finite_or_none(details.get("bic_flat"))
    t14 = f.get("ma_t14_days")
    return {
        "model": "MandelAgol2002",
        "params": {"Rp_Rs": k, "b": f.get("ma_b"), "a_Rs": f.get("ma_a_rs"), "u1": f.get("ma_u1"),
                   "u2": f.get("ma_u2")},
        "derived": {"rho_star_phot": f.get("rho_star_fit_cgs"), "rho_star_catalog": f.get("rho_star_catalog_cgs"),
                    "density_ratio": f.get("density_ratio"),
                    "delta": f["depth_ppm"] * 1e-6 if f.get("depth_ppm") is not None else None,
                    "delta_geometric": k * k if k is not None else None,
                    "T14": t14, "T14_hours": t14 * 24.0 if t14 is not None else None},
        "goodness": {"bic": bic_t, "bic_flat": bic_f,
                     "delta_bic_vs_notransit": (bic_t - bic_f) if bic_t is not None and bic_f is not None else None,
                     "snr": f.get("transit_snr"), "mes": f.get("mes")},
        "odd_even": f.get("odd_even_sigma"),
        "odd_even_depths_ppm": {"odd": f.get("odd_depth_ppm"), "even": f.get("even_depth_ppm")},
        "secondary": {"snr": f.get("secondary_sigma"), "phase": 0.5, "depth_ppm": f.get("secondary_depth_ppm"),
                      "strongest_other": {"snr": f.get("max_other_sigma"), "phase": f.get("max_other_phase")}},
        "v_shape": f.get("v_shape"),
        "status": "estimated" if status == "ok" else "failed",
        "reason": "" if status == "ok" else status.removeprefix("failed: "),
        "units": {"T14": "days", "rho_star_phot": "g cm^-3", "rho_star_catalog": "g cm^-3",
                  "delta": "fraction of the stellar flux (measured core depth)",
                  "delta_geometric": "(Rp/Rs)^2", "bic": "on the binned folded curve",
                  "delta_bic_vs_notransit": "BIC(transit) - BIC(flat): negative favours a transit",
                  "odd_even": "sigma", "secondary.snr": "sigma"},
    }


def _plot_data(model: MissionModel, result, details: dict, period: float, duration: float, t0_views: float,
               cadence: float) -> dict:
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
        y_model_global = mandel_agol_flux(gx, period, feats["ma_rp_rs"], feats["ma_b"], feats["ma_a_rs"], u,
                                          tc=shift, exposure_days=cadence)
    half = vc.local_half_width(period, duration)
    lx = bin_centres(-half, half, vc.local_bins, min(vc.local_bin_width_factor * duration, 2 * half)) / duration
    out = {
        "phase": {"x": gx / period, "y": 1.0 + views.global_.astype(np.float64) * scale, "y_model": y_model_global,
                  "x_units": "orbital phase (0 = transit at t0)", "y_units": "relative flux"},
        "local": {"x": details.get("fit_x"), "y": details.get("fit_y"), "y_err": details.get("fit_sig"),
                  "y_model": details.get("ma_model_y") if ok_fit else None,
                  "x_units": "days from the fitted mid-transit", "y_units": "relative flux"},
        "residuals": {"x": details.get("fit_x"),
                      "r": ((np.asarray(details["fit_y"]) - np.asarray(details["ma_model_y"])) * 1e6
                            if ok_fit and details.get("fit_x") is not None else None),
                      "x_units": "days from the fitted mid-transit", "r_units": "ppm"},
        "local_view": {"x": lx,
                       "y": views.local, "odd": views.odd, "even": views.even, "secondary": views.secondary,
                       "x_units": "transit durations from t0",
                       "y_units": "CNN input: out-of-transit 0, local transit minimum -1"},
        "reliability": {k: model.reliability.get(k, []) for k in ("confidence", "accuracy", "counts")},
    }
    return out


# ---------------------------------------------------------------------------------------- predict

def predict_curve(model_set: ModelSet, time, flux, flux_err=None, period=None, t0=None, duration=None,
                  mission: str = "Kepler", star_id: str = "", target: TargetInfo | None = None,
                  options: PredictOptions | None = None, decision: DecisionConfig | None = None,
                  media_dir: str | Path | None = None, media_url: str = "/media",
                  deadline: float | None = None, quality=None, segment=None, other_signals=()) -> dict:
    """Classify the signal (period, t0, duration) in one light curve; see the module docstring.

    Args:
        model_set: the loaded models; `mission` picks one.
        time: days (BKJD/BTJD, or BJD); flux: any positive flux; flux_err: optional, same units.
        period, t0, duration: ephemeris, days (duration = T14; estimated by BLS when None).
        star_id: label echoed back (and used in plot file names).
        target: optional stellar parameters / catalog depth (booster features; NaN when unknown).
        options: plots, plot data, SHAP count, vetting.
        decision: decision thresholds.
        media_dir: folder the PNG plots are written to (under "plots/"); needed for return_plots.
        media_url: URL prefix the plots are served under.
        deadline: `time.monotonic()` value after which FitTimeout is raised between stages.
        quality, segment: per-cadence quality flags (mission bitmask) and segment numbers (FITS).
        other_signals: (period, t0, duration) of the star's other known signals (masked out).

    Returns:
        JSON-ready dict of the API contract (probs, prediction, decision, physics_fit, vetting,
        explainability, optional plots / plot_data, version, input, warnings).

    Raises:
        InputError (BAD_INPUT), FitError / FitTimeout (FIT_FAIL), ModelError (MODEL_ERROR).
    """
    started = _time.perf_counter()
    options = options or PredictOptions()
    decision = decision or DecisionConfig()
    target = target or TargetInfo()
    cur = validate_curve(time, flux, flux_err, period, t0, duration, mission, quality, segment)
    model = model_set.get(mission)  # after validation: bad input is BAD_INPUT even without a model
    warnings_out = list(cur.conversions)
    star_id = str(star_id or "uploaded curve")
    lc = LightCurveData(star_id=star_id, mission=mission, time=cur.time, flux=cur.flux, flux_err=cur.flux_err,
                        quality=cur.quality, segment=cur.segment)
    others = [tuple(float(v) for v in o) for o in other_signals]
    duration_source = "given"
    try:
        dur = cur.duration
        if dur is None:
            first = clean_light_curve(lc, [])
            _, dur, _ = estimate_epoch_bls(first.time, first.flux, cur.period, None)
            duration_source = "bls"
            warnings_out.append(f"duration not given: {dur:.4f} d estimated by BLS at the given period")
            if not 0 < dur < 0.5 * cur.period:
                raise FitError(f"could not estimate a duration below half the period (BLS gave {dur:g} d)")
        _check_deadline(deadline, "cleaning")
        eph = pd.DataFrame([{"signal_id": "signal", "star_id": star_id, "period_days": cur.period, "epoch": cur.t0,
                             "duration_days": dur, "epoch_source": "catalog"}]
                           + [{"signal_id": f"other_{i}", "star_id": star_id, "period_days": o[0], "epoch": o[1],
                               "duration_days": o[2], "epoch_source": "catalog"} for i, o in enumerate(others)])
        curve, eph = clean_with_ephemerides(lc, eph)
    except LightCurveError as err:
        raise InputError(f"the curve cannot be cleaned: {err}") from None
    except ValueError as err:  # estimate_epoch_bls
        raise FitError(f"cleaning failed: {err}") from None
    _check_deadline(deadline, "cleaning")
    row_eph = eph.iloc[0]
    t0_views = float(row_eph["epoch"])
    if row_eph["epoch_source"] == "bls_refined":
        warnings_out.append(f"t0 lies far from the data and misses the transit; BLS epoch {t0_views:.5f} used "
                            "(as for stale catalog epochs in training)")
    others_used = [tuple(map(float, r)) for r in eph.iloc[1:][["period_days", "epoch", "duration_days"]].to_numpy()]
    details: dict = {}
    star = StellarParams(target.teff_k, target.logg_cgs, target.radius_rsun)
    # Training measures the curves as the cleaned_curves asset stores them: flux rounded to float32.
    flux32 = curve.flux.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    err32 = curve.flux_err.astype(CLEANED_FLUX_DTYPE).astype(np.float64)
    result = signal_features(curve.time, flux32, err32, cur.period, t0_views, dur, star, "signal",
                             others_used, mission, model.view_config, details=details)
    if result.status != "ok":
        raise FitError(f"the signal could not be measured: {result.reason}")
    _check_deadline(deadline, "diagnostics")

    catalog = pd.DataFrame([{"signal_id": "signal", "star_id": star_id, "mission": mission, "label": "",
                             "period_days": cur.period, "duration_days": dur, "depth_ppm": target.depth_ppm,
                             "teff_k": target.teff_k, "logg_cgs": target.logg_cgs,
                             "radius_rsun": target.radius_rsun, "mag": target.mag}])
    row = feature_rows([result], catalog, eph.iloc[:1], model.provenance)
    classes = model.classes
    p_booster = model.booster.predict_proba(row)
    p_cnn = None
    if model.cnn is not None:
        views = {name: view[None, :] for name, view in result.views.as_dict().items() if name in VIEW_NAMES}
        p_cnn = model.cnn.predict_proba(views)
    gate = row[model.blend.gate_feature].to_numpy(np.float64) if model.blend.gate_feature else None
    p_blend = apply_blend(model.blend, p_booster, p_cnn, gate)
    vet = apply_vetting(p_blend, row.reset_index(drop=True), classes, model.vetting)
    p_final = vet.proba if options.apply_vetting else p_blend
    probs = {c: float(p_final[0, i]) for i, c in enumerate(classes)}
    prediction = classes[int(np.argmax(p_final[0]))]
    flags = [f for f in vet.flags.columns if bool(vet.flags[f].iloc[0])]
    weights = {r.flag: r.weight for r in model.vetting.rules}
    feats = dict(result.features)
    response = {
        "star_id": star_id,
        "mission": mission,
        "provenance": model.provenance,
        "version": model.info(decision),
        "probs": probs,
        "prediction": prediction,
        "decision": decide(probs, decision),
        "stages": {
            "booster": {c: float(p_booster[0, i]) for i, c in enumerate(classes)},
            "cnn": {c: float(p_cnn[0, i]) for i, c in enumerate(classes)} if p_cnn is not None else None,
            "blend": {c: float(p_blend[0, i]) for i, c in enumerate(classes)},
            "alpha": float(model.blend.alpha),
        },
        "physics_fit": physics_fit(feats, details),
        "vetting": {
            "enabled": bool(options.apply_vetting),
            "penalties": {f: (weights[f] if f in flags else 0.0) for f in weights},
            "flags": flags,
            "total_penalty": float(vet.penalty.iloc[0]),
            "post_penalty_probs": {c: float(vet.proba[0, i]) for i, c in enumerate(classes)},
            "negative_classes": vet.negative_classes,
        },
        "explainability": top_shap(model.booster, row, classes.index(prediction), options.top_k_shap),
        "diagnostics": row[MODEL_FEATURES].iloc[0].to_dict(),
        "input": {
            "n_cadences": int(cur.time.size), "n_finite": cur.n_finite, "n_used": int(curve.time.size),
            "baseline_days": cur.baseline, "time_system": mission_info(mission).time_system,
            "period_days": cur.period, "t0": t0_views, "t0_fitted": details.get("t0"),
            "duration_days": float(dur), "duration_source": duration_source,
            "epoch_source": str(row_eph["epoch_source"]), "cleaning": dict(curve.stats),
            "conversions": cur.conversions,
        },
        "plots": None,
        "plot_data": None,
        "warnings": warnings_out,
    }
    if feats.get("ma_fit_status") != "ok":
        warnings_out.append(f"Mandel-Agol fit: {feats.get('ma_fit_status')}")
    if model.provenance == "simulated":
        warnings_out.append("model trained on simulated data: probabilities are simulated, not real-world accuracy")
    if options.return_plots or options.return_plot_data:
        _check_deadline(deadline, "plots")
        cadence = float(np.median(np.diff(curve.time))) if curve.time.size > 1 else 0.0
        data = _plot_data(model, result, details, cur.period, float(dur), t0_views, cadence)
        if options.return_plot_data:
            response["plot_data"] = data
        if options.return_plots:
            if media_dir is None:
                raise InputError("plots were requested but this server has no media folder")
            from exo_assets.inference.plots import write_plots

            stem = f"{safe_name(star_id)}_{uuid.uuid4().hex[:10]}"
            title = f"{star_id} ({mission}, P = {cur.period:.4f} d) — {prediction}"
            if model.provenance == "simulated":
                title += " [simulated model]"
            response["plots"] = write_plots(data, Path(media_dir), stem, title, media_url,
                                            confidence=max(probs.values()))
    response["timing_ms"] = round((_time.perf_counter() - started) * 1e3, 1)
    return json_safe(response)
