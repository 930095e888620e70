"""Training/holdout frames and the shared star-grouped folds, as stored in the `holdout_split` asset.

Both branches (booster and CNN) take their folds from the same JSON, so their out-of-fold rows
align by signal id.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from exo_assets.models.artifacts import CLASSES, proba_of, probability_frame
from exo_assets.models.splits import cv_folds, holdout_split

__all__ = ["CLASSES", "encode_labels", "frame_hash", "index_folds", "make_split", "proba_of", "probability_frame",
           "train_holdout", "usable"]


def usable(feature_table: pd.DataFrame) -> pd.DataFrame:
    """Rows a model can learn from: status ok and a known label."""
    return feature_table[(feature_table["status"] == "ok") & feature_table["label"].isin(CLASSES)]


def make_split(feature_table: pd.DataFrame, holdout_fraction: float = 0.15, seed: int = 0,
               n_splits: int = 5, n_repeats: int = 3) -> dict:
    """Holdout stars plus the CV folds of the training signals (lists of validation signal ids)."""
    rows = usable(feature_table)
    split = holdout_split(rows, holdout_fraction, seed)
    train = rows[rows["star_id"].isin(split["train_stars"])].sort_values("signal_id").reset_index(drop=True)
    folds = cv_folds(train["label"].to_numpy(), train["star_id"].to_numpy(), n_splits, n_repeats, seed) if len(
        train["label"].unique()) > 1 else []
    per_repeat = len(folds) // n_repeats if folds else 0
    split["cv"] = {"n_splits": per_repeat, "n_repeats": n_repeats if folds else 0, "seed": seed}
    split["folds"] = [{"repeat": i // per_repeat, "fold": i % per_repeat,
                       "val_signals": train.loc[va, "signal_id"].tolist()} for i, (_, va) in enumerate(folds)]
    return split


def train_holdout(feature_table: pd.DataFrame, split: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows), each sorted by signal_id."""
    rows = usable(feature_table)
    train = rows[rows["star_id"].isin(split["train_stars"])].sort_values("signal_id").reset_index(drop=True)
    hold = rows[rows["star_id"].isin(split["holdout_stars"])].sort_values("signal_id").reset_index(drop=True)
    return train, hold


def index_folds(train: pd.DataFrame, split: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The split's folds as (train_idx, val_idx) into `train` (rows sorted by signal_id)."""
    pos = pd.Series(np.arange(len(train)), index=train["signal_id"])
    folds = []
    for fold in split["folds"]:
        va = pos.reindex(fold["val_signals"]).dropna().to_numpy(int)
        tr = np.setdiff1d(np.arange(len(train)), va)
        folds.append((tr, va))
    return folds


def encode_labels(labels, classes: list[str] = CLASSES) -> np.ndarray:
    """Integer class indices."""
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in labels], dtype=int)


def frame_hash(frame: pd.DataFrame) -> str:
    """Stable short hash of a DataFrame's content (input provenance for model metadata)."""
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:16]
