"""LightGBM multiclass booster on the feature table, with star-grouped out-of-fold predictions.

`BoosterModel` is the one booster implementation: the `calibrated_booster` asset, the TFRecord
benchmark and the API all use it. It is stored as LightGBM's native text model plus a JSON of
metadata (classes, feature list, temperature, CV metrics, provenance); never pickled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from exo_assets.models.calibration import apply_temperature, fit_temperature
from exo_assets.models.missingness import MissingnessConfig, augment_missing
from exo_assets.science.catalogs import assert_no_leakage

#: Feature-table columns the booster is not trained on: values a user of the API cannot be expected to
#: have (the catalog's transit depth; the light curve's own measured depth_ppm / trap_depth_ppm stand in).
BOOSTER_EXCLUDED_FEATURES: tuple[str, ...] = ("catalog_depth_ppm",)


def booster_features(columns) -> list[str]:
    """`columns` without `BOOSTER_EXCLUDED_FEATURES` (order kept)."""
    return [c for c in columns if c not in BOOSTER_EXCLUDED_FEATURES]


@dataclass(frozen=True)
class BoosterConfig:
    """LightGBM knobs (multiclass softmax) and the inner early-stopping split.

    Attributes:
        num_boost_round: maximum trees per class.
        early_stopping_rounds: patience on the inner validation log-loss.
        inner_val_fraction: share of a fold's training stars used for early stopping (never the
            fold's own validation rows).
        extra_trees: LightGBM extremely randomised trees (one random threshold per feature and
            split); regularises on many correlated features (the external view-feature sets).
        num_threads: LightGBM threads (1 by default: on a 2-core machine shared with another worker,
            OpenMP threads contend and training runs several times slower).
        missing: missingness augmentation of the training rows (`models.missingness`; off by default,
            on in the `calibrated_booster` asset).
    """

    num_boost_round: int = 600
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 5
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    extra_trees: bool = False
    early_stopping_rounds: int = 40
    inner_val_fraction: float = 0.15
    seed: int = 0
    num_threads: int = 1
    missing: MissingnessConfig = field(default_factory=MissingnessConfig)

    def params(self, n_classes: int) -> dict:
        return {
            "objective": "multiclass",
            "num_class": n_classes,
            "metric": "multi_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "extra_trees": self.extra_trees,
            "seed": self.seed,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }


def _train(X: np.ndarray, y: np.ndarray, params: dict, rounds: int, valid=None, patience: int = 0):
    train_set = lgb.Dataset(X, label=y, free_raw_data=False)
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if valid is not None:
        valid_sets = [lgb.Dataset(valid[0], label=valid[1], reference=train_set)]
        callbacks = [lgb.early_stopping(patience, verbose=False)]
    return lgb.train(params, train_set, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)


@dataclass
class BoosterModel:
    """A trained booster with its calibration.

    Attributes:
        classes: class names in probability-column order.
        features: feature column names, in the model's order.
        booster: the LightGBM booster.
        temperature: temperature fit on out-of-fold log-loss (1.0 = uncalibrated).
        meta: JSON-serialisable facts (config, CV metrics, provenance, input hashes).
    """

    classes: list[str]
    features: list[str]
    booster: lgb.Booster
    temperature: float = 1.0
    meta: dict = field(default_factory=dict)

    def predict_proba(self, X: pd.DataFrame | np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(n, k) probabilities; temperature-scaled unless `calibrated=False`."""
        arr = (
            X[self.features].to_numpy(np.float64)
            if isinstance(X, pd.DataFrame)
            else np.asarray(X, np.float64)
        )
        proba = self.booster.predict(arr, num_iteration=self.booster.best_iteration or None)
        proba = np.asarray(proba, dtype=np.float64).reshape(len(arr), len(self.classes))
        return apply_temperature(proba, self.temperature) if calibrated else proba

    def to_text(self) -> str:
        """LightGBM's native text model."""
        return self.booster.model_to_string()

    def to_json(self) -> dict:
        return {
            "classes": self.classes,
            "features": self.features,
            "temperature": self.temperature,
            **self.meta,
        }

    @classmethod
    def from_text(cls, model_text: str, info: dict) -> BoosterModel:
        booster = lgb.Booster(model_str=model_text)
        meta = {k: v for k, v in info.items() if k not in ("classes", "features", "temperature")}
        return cls(
            list(info["classes"]), list(info["features"]), booster, float(info.get("temperature", 1.0)), meta
        )

    def feature_importance(self) -> pd.DataFrame:
        """Gain importance per feature, descending."""
        gain = self.booster.feature_importance(importance_type="gain")
        return pd.DataFrame({"feature": self.features, "gain": gain}).sort_values("gain", ascending=False)


def _inner_split(y: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    if len(np.unique(groups)) < 5:
        return np.arange(len(y)), None
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    tr, va = next(splitter.split(np.zeros(len(y)), y, groups))
    return tr, va


def fit_booster_cv(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    folds: list,
    classes: list[str],
    config: BoosterConfig = BoosterConfig(),
) -> tuple[np.ndarray, dict]:
    """Out-of-fold probabilities (uncalibrated), averaged over repeats, and per-fold info.

    Each fold trains on its training rows, early-stopping on an inner star-grouped split of them; with
    `config.missing` enabled the inner training rows get missingness-augmented copies (validation rows never).
    """
    assert_no_leakage(X.columns)
    arr = X.to_numpy(np.float64)
    params = config.params(len(classes))
    oof = np.zeros((len(arr), len(classes)))
    counts = np.zeros(len(arr))
    best_iters = []
    for i, (tr, va) in enumerate(folds):
        inner_tr, inner_va = _inner_split(y[tr], groups[tr], config.inner_val_fraction, config.seed + i)
        valid = None if inner_va is None else (arr[tr][inner_va], y[tr][inner_va])
        x_fit, y_fit = augment_missing(arr[tr][inner_tr], y[tr][inner_tr], list(X.columns), config.missing, i)
        model = _train(
            x_fit,
            y_fit,
            {**params, "seed": config.seed + i},
            config.num_boost_round,
            valid,
            config.early_stopping_rounds,
        )
        best = model.best_iteration or config.num_boost_round
        best_iters.append(int(best))
        oof[va] += np.asarray(model.predict(arr[va], num_iteration=best)).reshape(len(va), len(classes))
        counts[va] += 1
    if (counts == 0).any():
        raise ValueError(f"{int((counts == 0).sum())} rows are in no validation fold")
    oof /= counts[:, None]
    return oof, {"best_iterations": best_iters, "n_folds": len(folds)}


def fit_final_booster(
    X: pd.DataFrame,
    y: np.ndarray,
    classes: list[str],
    rounds: int,
    config: BoosterConfig = BoosterConfig(),
    temperature: float = 1.0,
    meta: dict | None = None,
) -> BoosterModel:
    """Train the final booster on all training rows for `rounds` trees (e.g. the median CV best iteration),
    plus their missingness-augmented copies when `config.missing` is enabled."""
    assert_no_leakage(X.columns)
    x_fit, y_fit = augment_missing(X.to_numpy(np.float64), y, list(X.columns), config.missing, 10_000)
    booster = _train(x_fit, y_fit, config.params(len(classes)), max(1, int(rounds)))
    return BoosterModel(
        list(classes),
        list(X.columns),
        booster,
        float(temperature),
        {"config": asdict(config), **(meta or {})},
    )


def train_calibrated_booster(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    folds: list,
    classes: list[str],
    config: BoosterConfig = BoosterConfig(),
    meta: dict | None = None,
) -> tuple[BoosterModel, np.ndarray, np.ndarray]:
    """CV -> temperature on OOF -> final model. Returns (model, raw OOF proba, calibrated OOF proba)."""
    oof, info = fit_booster_cv(X, y, groups, folds, classes, config)
    temperature = fit_temperature(oof, y)
    rounds = int(np.median(info["best_iterations"]))
    model = fit_final_booster(
        X, y, classes, rounds, config, temperature, {**(meta or {}), "cv": info, "final_rounds": rounds}
    )
    return model, oof, apply_temperature(oof, temperature)


def train_booster_with_validation(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    classes: list[str],
    config: BoosterConfig = BoosterConfig(),
    meta: dict | None = None,
) -> BoosterModel:
    """Train on one set with early stopping on a separate validation set, then temperature-scale on it.

    Used where a fixed train/validation split is given (external benchmark sets) instead of CV.
    """
    assert_no_leakage(X_train.columns)
    booster = _train(
        X_train.to_numpy(np.float64),
        y_train,
        config.params(len(classes)),
        config.num_boost_round,
        (X_val[list(X_train.columns)].to_numpy(np.float64), y_val),
        config.early_stopping_rounds,
    )
    model = BoosterModel(
        list(classes),
        list(X_train.columns),
        booster,
        1.0,
        {"config": asdict(config), "best_iteration": int(booster.best_iteration or 0), **(meta or {})},
    )
    model.temperature = fit_temperature(model.predict_proba(X_val, calibrated=False), y_val)
    return model
