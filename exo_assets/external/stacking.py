"""The CNN's out-of-fold class probabilities as booster inputs, under cross-fitting (stacking).

The training rows are split into `k` star-grouped folds; fold i's CNN is trained on the other folds
(early stopping on the star-disjoint validation rows) and predicts fold i, so every training row gets
a CNN probability from a network that never saw it (or any signal of its star). Validation and test
rows get the mean of the k fold networks (none of which saw them): the same k networks are the CNN
ensemble of the blend. The booster then learns how far to trust the views' network per region of the
physical / view features, instead of one global blend weight.

Columns: `cnn_oof_logp_<CLASS>` = log of the CNN probability (clipped at 1e-6), one per class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exo_assets.models.splits import cv_folds

#: Floor of the probabilities before the log.
PROBA_FLOOR = 1e-6


def stack_columns(classes: list[str]) -> list[str]:
    """Names of the stacked CNN columns, one per class."""
    return [f"cnn_oof_logp_{c}" for c in classes]


def stack_frame(proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """(n, k) CNN probabilities -> the stacked columns (float64 log-probabilities).

    Raises:
        ValueError: the probabilities do not have one column per class.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise ValueError(f"need (n, {len(classes)}) probabilities, got {p.shape}")
    return pd.DataFrame(np.log(np.clip(p, PROBA_FLOOR, 1.0)), columns=stack_columns(classes))


def crossfit_cnns(fit_member, predict, n_train: int, y: np.ndarray, groups: np.ndarray, k: int, seed: int,
                  n_classes: int, log=print) -> tuple[np.ndarray, list]:
    """Train `k` fold CNNs; return (out-of-fold probabilities of the training rows, the k models).

    Args:
        fit_member: (train_row_indices, member_index) -> a fitted model.
        predict: (model, row_indices of the training set) -> (len(rows), n_classes) probabilities.
        y, groups: training labels and stars (folds are star-grouped and label-stratified).
    Raises:
        ValueError: k < 2, or too few stars per class for k grouped folds.
    """
    if k < 2:
        raise ValueError(f"cross-fitting needs k >= 2 folds, got {k}")
    folds = cv_folds(np.asarray(y), np.asarray(groups), n_splits=k, n_repeats=1, seed=seed)
    if not folds:
        raise ValueError("too few stars per class for grouped folds")
    oof = np.full((n_train, n_classes), np.nan)
    models = []
    for i, (tr_idx, held) in enumerate(folds):
        model = fit_member(tr_idx, i)
        oof[held] = predict(model, held)
        models.append(model)
        log(f"[benchmark] cnn fold {i + 1}/{len(folds)} done")
    if np.isnan(oof).any():
        raise ValueError("some training rows got no out-of-fold prediction")
    return oof, models
