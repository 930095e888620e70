"""Inference engine (Dagster-free): the stored model assets applied to one uploaded light curve.

| module | holds |
|---|---|
| `errors` | `InferenceError` and its subclasses, each with its API code and HTTP status |
| `request` | `PredictionRequest` (curve + ephemeris + `TargetInfo` + `PredictOptions` + `DecisionConfig`) |
| `readers` | uploaded CSV / FITS bytes -> `LightCurveData` |
| `validation` | `validate_curve`: lengths, finite points, sorted times, ephemeris, BJD conversion |
| `loading` | `MissionModel.from_bundles` (stored bundles -> models) and the hot-swappable `ModelSet` |
| `star` | the shipped catalog by star id: stellar inputs (given > catalog > header), other signals |
| `measurability` | was the transit measured (else `insufficient_data`)? single transits |
| `engine` | `predict_curve`: validate -> look up -> clean -> measure -> classify -> respond (as training) |
| `response` | the prediction's JSON: decision rule, confidence, SHAP, physics fit, plot data |
| `plots` | the PNG plots of a prediction |

The bundles come from whoever loaded them: the API and the `exo-predict` CLI load them through
Dagster (`serving.registry`).
"""

from exo_assets.inference.engine import predict_curve
from exo_assets.inference.errors import FitError, FitTimeout, InferenceError, InputError, ModelError
from exo_assets.inference.loading import MissionModel, ModelSet
from exo_assets.inference.readers import read_csv_curve, read_curve_bytes, read_fits_curve
from exo_assets.inference.request import (
    DecisionConfig,
    PredictionRequest,
    PredictOptions,
    TargetInfo,
    curve_of,
)
from exo_assets.inference.validation import ValidatedInput, validate_curve

__all__ = [
    "DecisionConfig",
    "FitError",
    "FitTimeout",
    "InferenceError",
    "InputError",
    "MissionModel",
    "ModelError",
    "ModelSet",
    "PredictOptions",
    "PredictionRequest",
    "TargetInfo",
    "ValidatedInput",
    "curve_of",
    "predict_curve",
    "read_csv_curve",
    "read_curve_bytes",
    "read_fits_curve",
    "validate_curve",
]
