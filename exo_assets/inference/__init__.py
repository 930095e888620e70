"""Inference engine (Dagster-free): the stored model assets applied to one uploaded light curve.

`MissionModel.from_bundles` rebuilds one mission's models from the stored bundles of the
`calibrated_booster`, `cnn_oof` and `blend` assets (however they were loaded: the API and the
`exo-predict` CLI load them through Dagster, see `serving.registry`); `predict_curve` runs the
training code path on a curve (`clean_with_ephemerides` -> `signal_features` -> `BoosterModel` +
`CNNClassifier` -> `apply_blend` -> `apply_vetting`) and returns the JSON-ready prediction of the
API contract. `readers` turns uploaded CSV / FITS bytes into arrays.
"""

from exo_assets.inference.engine import (
    DecisionConfig,
    FitError,
    FitTimeout,
    InferenceError,
    InputError,
    MissionModel,
    ModelError,
    ModelSet,
    PredictOptions,
    TargetInfo,
    predict_curve,
)
from exo_assets.inference.readers import CurveInput, read_curve_bytes, read_csv_curve, read_fits_curve

__all__ = [
    "CurveInput", "DecisionConfig", "FitError", "FitTimeout", "InferenceError", "InputError", "MissionModel",
    "ModelError", "ModelSet", "PredictOptions", "TargetInfo", "predict_curve", "read_curve_bytes",
    "read_csv_curve", "read_fits_curve",
]
