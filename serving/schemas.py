"""Pydantic models of the API: requests, responses and the error envelope (they make the OpenAPI schema).

Units: time, t0, period, duration in days (BKJD for Kepler/K2, BTJD for TESS; a t0 or times above
2,400,000 are read as BJD and converted); depths in ppm; stellar density g cm^-3.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_CADENCES = 2_000_000


class ErrorBody(BaseModel):
    code: Literal["BAD_INPUT", "FIT_FAIL", "MODEL_ERROR", "INTERNAL"] = Field(
        description="BAD_INPUT: the request or curve is unusable (4xx; 400 also when a FITS header names "
        "another mission than the request's `mission`); FIT_FAIL: the signal could not be "
        "measured (422) or the fit timed out (504); MODEL_ERROR: no usable model (503); "
        "INTERNAL: a server bug (500)"
    )
    message: str = Field(description="what went wrong, for a human; never a stack trace")


class ErrorResponse(BaseModel):
    """Body of every error response."""

    error: ErrorBody


class PredictOptionsModel(BaseModel):
    """Per-request options."""

    model_config = ConfigDict(extra="forbid")

    # `default=` by keyword: mypy (no pydantic plugin) reads a positional default as a required field.
    return_plots: bool = Field(
        default=False, description="write PNG plots and return their URLs under /media/plots"
    )
    return_plot_data: bool = Field(default=False, description="return the arrays behind the plots")
    top_k_shap: int = Field(
        default=5, ge=0, le=50, description="number of booster features in explainability.top_shap"
    )
    apply_vetting: bool = Field(
        default=True, description="apply the physical vetting penalties to the final probabilities"
    )


class CurveMeta(BaseModel):
    """The signal and the star (the `meta` JSON field of a multipart upload; also part of the JSON body)."""

    model_config = ConfigDict(extra="forbid")

    star_id: str | None = Field(
        None,
        max_length=100,
        description="echoed back and the key of the shipped-catalog lookup (stellar "
        "parameters, the star's other signals): 'TIC n', 'KIC n', 'EPIC n' or a bare number; "
        "FITS uploads default to the header's",
    )
    mission: str | None = Field(
        None,
        max_length=20,
        description="Kepler, K2 or TESS (FITS: from the header; a "
        "FITS whose header names another mission is refused with 400 BAD_INPUT)",
    )
    period: float | None = Field(None, description="orbital period, days (required)")
    t0: float | None = Field(
        None, description="a mid-transit time, days: BKJD/BTJD, or BJD (> 2.4e6) (required)"
    )
    duration: float | None = Field(
        None, description="transit duration T14, days (estimated by BLS when missing)"
    )
    teff_k: float | None = Field(
        None,
        description="stellar effective temperature, K (else the shipped catalog by "
        "star id, else FITS header TEFF)",
    )
    logg_cgs: float | None = Field(
        None, description="stellar log g, cgs (else catalog, else FITS header LOGG)"
    )
    radius_rsun: float | None = Field(
        None, description="stellar radius, R_sun (else catalog, else FITS header RADIUS)"
    )
    mag: float | None = Field(
        None, description="Kepler / TESS magnitude (else catalog, else FITS header KEPMAG / TESSMAG)"
    )
    depth_ppm: float | None = Field(
        None, description="catalog transit depth, ppm (reported; not a model input)"
    )
    other_signals: list[tuple[float, float, float]] = Field(
        default_factory=list,
        max_length=20,
        description="(period, t0, duration) in days of the star's other known signals: masked out (the "
        "shipped catalog's other signals of the star are added by star id)",
    )


class PredictRequest(CurveMeta):
    """JSON form of a prediction request: the curve as arrays plus the `CurveMeta` fields."""

    time: list[float] = Field(max_length=MAX_CADENCES, description="cadence times, days, strictly increasing")
    flux: list[float | None] = Field(
        max_length=MAX_CADENCES, description="flux (any positive unit); null = missing"
    )
    flux_err: list[float | None] | None = Field(None, max_length=MAX_CADENCES, description="flux uncertainty")
    quality: list[int] | None = Field(
        None,
        max_length=MAX_CADENCES,
        description="mission quality flags (lightkurve's default bitmask is applied)",
    )
    options: PredictOptionsModel = Field(default_factory=PredictOptionsModel)


class MultipartPredict(BaseModel):
    """Multipart form of a prediction request (documentation model)."""

    curve: bytes = Field(
        json_schema_extra={"format": "binary"},
        description="CSV (time, flux[, flux_err] columns, case-insensitive) or Kepler/K2/TESS FITS",
    )
    meta: str | None = Field(None, description="JSON object with the CurveMeta fields")
    options: str | None = Field(None, description="JSON object with the PredictOptions fields")


class BatchRequest(BaseModel):
    """Up to `max_batch` (50) prediction requests; more is refused with 413."""

    model_config = ConfigDict(extra="forbid")

    items: list[PredictRequest] = Field(description="the curves, each with the PredictRequest fields")


class Probs(BaseModel):
    CP: float
    PC: float
    FP: float


class Confidence(BaseModel):
    entropy: float = Field(description="Shannon entropy of the final probabilities, nats")
    entropy_normalized: float = Field(description="entropy / ln(3), 0 (certain) .. 1 (uniform)")
    margin: float = Field(description="top probability minus the second")
    confidence_index: float = Field(description="1 - entropy_normalized")


class Decision(BaseModel):
    label: Literal[
        "high_confidence_planet", "candidate", "false_positive", "needs_follow_up", "insufficient_data"
    ]
    rule: str
    reason: str = Field("", description="insufficient_data: why the transit was not measured ('' otherwise)")
    score: float | None = Field(description="the probability the label rests on (None for insufficient_data)")
    confidence: Confidence | None


class InputSource(BaseModel):
    """One input of the prediction and where it came from."""

    value: float | None
    source: Literal["given", "header", "catalog", "measured", "missing"] = Field(
        description="given: in the request (API field, CLI flag, the user's catalog CSV); "
        "header: FITS keywords; catalog: the shipped NASA catalog by star id; "
        "measured: from the light curve (BLS); missing: unknown"
    )
    note: str | None = None


class ModelVersion(BaseModel):
    """The model that answered (and what /api/models/info lists per mission)."""

    model_config = ConfigDict(protected_namespaces=())

    mission: str
    model_hash: str
    trained_at: str
    run_id: str = Field(description="Dagster run id of the blend materialization")
    provenance: str = Field(description="training data: simulated, local or MAST")
    features: list[str]
    holdout_metrics: dict[str, float | int | None]
    decision_thresholds: dict[str, float]
    classes: list[str]


class PhysicsFit(BaseModel):
    model: str
    params: dict[str, float | None]
    derived: dict[str, float | None]
    goodness: dict[str, float | None]
    odd_even: float | None
    odd_even_depths_ppm: dict[str, float | None]
    secondary: dict[str, Any]
    v_shape: float | None
    status: Literal["estimated", "failed"]
    reason: str
    units: dict[str, str]


class Vetting(BaseModel):
    enabled: bool
    penalties: dict[str, float]
    flags: list[str]
    total_penalty: float
    post_penalty_probs: Probs
    negative_classes: list[str]


class ShapItem(BaseModel):
    feature: str
    shap: float
    value: float | None


class Explainability(BaseModel):
    method: str
    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class")
    units: str
    base_value: float
    top_shap: list[ShapItem]


class Stages(BaseModel):
    booster: Probs
    cnn: Probs | None
    blend: Probs
    alpha: float


class PredictionResponse(BaseModel):
    """One prediction. Results of models trained on simulated data say `"provenance": "simulated"`."""

    star_id: str
    mission: str
    provenance: str
    version: ModelVersion
    probs: Probs | None = Field(
        description="final probabilities; None when decision.label is insufficient_data"
    )
    prediction: Literal["CP", "PC", "FP"] | None
    decision: Decision
    stages: Stages | None
    physics_fit: PhysicsFit | None
    vetting: Vetting | None
    explainability: Explainability | None
    diagnostics: dict[str, float | None] | None
    flags: list[str] = Field(
        description="single_transit (one covered event: multi-event tests not measurable) "
        "and the vetting flags that fired"
    )
    inputs: dict[str, InputSource] = Field(
        description="period_days, t0, duration_days, teff_k, logg_cgs, "
        "radius_rsun, mag, depth_ppm: value and source"
    )
    input: dict[str, Any] = Field(
        description="cadences used, ephemeris used, cleaning counts, BJD conversions, "
        "other_signals_masked (the star's other known signals, masked before the dip "
        "tests), catalog_star_id"
    )
    plots: dict[str, str] | None = Field(description="kind -> URL path of a PNG under /media/plots")
    plot_data: dict[str, Any] | None
    warnings: list[str]
    timing_ms: float
    real_label_model: dict[str, Any] | None = Field(
        None,
        description="TESS curves: the model trained on real TESS labels (vetting set, PC / EB / J): "
        "status (ok / not_materialized / unavailable / failed), probs, prediction, trained_on, "
        "star-disjoint validation figures, note (input not a TESS 2-min / 30-min curve), "
        "the QLP-like inputs computed from the curve",
    )


class BatchItem(BaseModel):
    index: int
    ok: bool
    result: PredictionResponse | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    n_ok: int
    n_failed: int
    results: list[BatchItem]


class Health(BaseModel):
    status: Literal["ok", "no_models"]
    models_loaded: list[str]
    version: str


class ModelsInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    version: str = Field(description="token that changes whenever any served model changes")
    loaded_at: str
    missions: dict[str, dict[str, Any]] = Field(
        description="mission -> model details (ModelVersion fields, "
        "lineage, per-stage metrics, blend, vetting, view config)"
    )
    not_loaded: dict[str, str]
    decision_thresholds: dict[str, float]
    reloads: int
    last_reload_error: str
