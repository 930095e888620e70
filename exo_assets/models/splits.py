"""Star-grouped splits: the holdout set of stars and the cross-validation folds shared by both branches.

All signals of a star (multi-planet systems included) always fall on the same side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold


def star_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per star for stratification: its rarest-first label (FP over PC over CP)."""
    rank = {"FP": 0, "PC": 1, "CP": 2}
    r = frame.assign(_r=frame["label"].map(rank).fillna(3)).groupby("star_id")["_r"].min()
    inverse = {v: k for k, v in rank.items()}
    return r.map(lambda v: inverse.get(v, "other"))


def holdout_split(frame: pd.DataFrame, holdout_fraction: float = 0.15, seed: int = 0) -> dict:
    """Seeded, label-stratified split of stars into train and holdout.

    Args:
        frame: rows with `star_id` and `label`.
        holdout_fraction: share of stars held out (per stratum, at least one where a stratum has 2+ stars).
    Returns:
        {"train_stars": [...], "holdout_stars": [...], "holdout_fraction", "seed"} (sorted ids).
    """
    labels = star_labels(frame)
    rng = np.random.default_rng(seed)
    holdout: list[str] = []
    for _, stars in labels.groupby(labels):
        ids = np.sort(stars.index.to_numpy())
        n = int(round(holdout_fraction * len(ids)))
        if n == 0 and len(ids) >= 2 and holdout_fraction > 0:
            n = 1
        holdout.extend(rng.permutation(ids)[:n].tolist())
    holdout_set = set(holdout)
    train = sorted(s for s in labels.index if s not in holdout_set)
    return {"train_stars": train, "holdout_stars": sorted(holdout_set),
            "holdout_fraction": float(holdout_fraction), "seed": int(seed)}


def cv_folds(labels: np.ndarray, groups: np.ndarray, n_splits: int = 5, n_repeats: int = 3,
             seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated StratifiedGroupKFold: a list of (train_idx, val_idx), n_splits per repeat.

    Every row is in exactly one validation fold per repeat; a group (star) never straddles train and
    validation. `n_splits` is lowered to the number of groups of the rarest class when needed (min 2);
    an empty list when a class has fewer than two groups.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    per_class_groups = min(len(np.unique(groups[labels == c])) for c in np.unique(labels)) if len(labels) else 0
    if per_class_groups < 2:
        return []  # some class has fewer than two stars: no valid stratified, grouped folds
    k = max(2, min(n_splits, per_class_groups, len(np.unique(groups))))
    folds = []
    for r in range(n_repeats):
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + r)
        folds.extend((tr, va) for tr, va in splitter.split(np.zeros(len(labels)), labels, groups))
    return folds

