"""Booster explanations for the report: gain importance and SHAP values (Dagster-free).

SHAP values come from LightGBM's own TreeSHAP (`Booster.predict(..., pred_contrib=True)`), the
same exact tree algorithm as `shap.TreeExplainer` without its extra dependency chain: per row and
class, one contribution per feature plus a bias term, in raw-margin units (the class's log-odds
before softmax and before temperature scaling), summing to the raw score. A seeded, bounded sample
of rows keeps the cost small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SHAP_METHOD = (
    "LightGBM TreeSHAP (Booster.predict pred_contrib=True): exact tree SHAP values of the raw "
    "class margins (log-odds, before temperature scaling)"
)


@dataclass
class ShapSummary:
    """SHAP values of a booster on a sample of rows.

    Attributes:
        features: feature names (model order).
        classes: class names (model order).
        values: (n, k, f) contributions to each class's raw margin.
        bias: (k,) expected raw margin per class (the contributions' offset).
        data: (n, f) the explained feature values (NaN allowed).
        n_total: rows available before sampling.
        method: how the values were computed.
    """

    features: list[str]
    classes: list[str]
    values: np.ndarray
    bias: np.ndarray
    data: np.ndarray
    n_total: int
    method: str = SHAP_METHOD

    def mean_abs(self) -> pd.DataFrame:
        """Mean |SHAP| per feature and class, plus `total` (sum over classes), descending by total."""
        mean = (
            np.abs(self.values).mean(axis=0)
            if len(self.values)
            else np.zeros((len(self.classes), len(self.features)))
        )
        frame = pd.DataFrame(mean.T, columns=self.classes)
        frame.insert(0, "feature", self.features)
        frame["total"] = frame[self.classes].sum(axis=1)
        return frame.sort_values(["total", "feature"], ascending=[False, True]).reset_index(drop=True)


def booster_shap(model, X: pd.DataFrame, max_rows: int = 300, seed: int = 0) -> ShapSummary:
    """SHAP values of a `BoosterModel` on at most `max_rows` rows of X (seeded sample).

    Args:
        model: exo_assets.models.booster.BoosterModel (its LightGBM booster and feature list are used).
        X: frame holding the model's feature columns (e.g. the training rows of feature_table).
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    missing = [f for f in model.features if f not in X.columns]
    if missing:
        raise ValueError(f"feature columns missing for SHAP: {missing}")
    n_total = len(X)
    if n_total > max_rows:
        X = X.sample(n=max_rows, random_state=seed)
    arr = X[model.features].to_numpy(np.float64)
    k, f = len(model.classes), len(model.features)
    if len(arr) == 0:
        return ShapSummary(
            list(model.features), list(model.classes), np.zeros((0, k, f)), np.zeros(k), arr, n_total
        )
    contrib = np.asarray(
        model.booster.predict(arr, num_iteration=model.booster.best_iteration or None, pred_contrib=True),
        dtype=np.float64,
    )
    contrib = contrib.reshape(len(arr), k, f + 1)
    return ShapSummary(
        list(model.features), list(model.classes), contrib[:, :, :f], contrib[0, :, f].copy(), arr, n_total
    )


def gain_share(importance: pd.DataFrame) -> pd.DataFrame:
    """feature, gain and `share` (gain / total gain) sorted by gain, descending."""
    out = importance[["feature", "gain"]].copy()
    total = float(out["gain"].sum())
    out["share"] = out["gain"] / total if total > 0 else 0.0
    return out.sort_values(["gain", "feature"], ascending=[False, True]).reset_index(drop=True)
