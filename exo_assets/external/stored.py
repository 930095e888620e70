"""External sets <-> the stored forms of the `external_feature_table` / `external_cnn_tensors` assets.

One feature table (Parquet) holds every role's rows with a `split` column (train / val / test);
one ArrayBundle (NPZ) holds the views, rows aligned with the table, plus the classes and the
reader's per-role notes. `from_stored` gives back the `ExternalSet`s the benchmark trains on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exo_assets.external.tfrecord_reader import ExternalSet
from exo_assets.storage import ArrayBundle

ROLES = ("train", "val", "test")


def to_stored(sets: dict[str, ExternalSet]) -> tuple[pd.DataFrame, ArrayBundle]:
    """(feature table with `split` = role, views bundle) of {role: ExternalSet}; roles in `ROLES` order.

    Raises:
        ValueError: an unknown role, sets of different datasets or channels, or no sets.
    """
    if not sets or set(sets) - set(ROLES):
        raise ValueError(f"roles must be a non-empty subset of {ROLES}, got {sorted(sets)}")
    roles = [r for r in ROLES if r in sets]
    first = sets[roles[0]]
    for r in roles:
        if sets[r].meta.get("dataset") != first.meta.get("dataset") or list(sets[r].views) != list(
            first.views
        ):
            raise ValueError("every role must come from the same dataset with the same view channels")
    frames = []
    for r in roles:
        f = sets[r].features.copy()
        f["split"] = r
        frames.append(f)
    table = pd.concat(frames, ignore_index=True)
    arrays = {ch: np.concatenate([sets[r].views[ch] for r in roles]).astype(np.float32) for ch in first.views}
    arrays["signal_id"] = table["signal_id"].to_numpy(dtype=str)
    attrs = {
        "dataset": first.meta.get("dataset"),
        "classes": list(first.classes),
        "channels": list(first.views),
        "reader": {r: sets[r].meta for r in roles},
    }
    return table, ArrayBundle(arrays, attrs)


def from_stored(table: pd.DataFrame, tensors: ArrayBundle) -> dict[str, ExternalSet]:
    """{role: ExternalSet} back from `to_stored`'s output.

    Raises:
        ValueError: the table and the views bundle do not hold the same signals in the same order.
    """
    ids = np.asarray(tensors["signal_id"]).astype(str)
    if len(ids) != len(table) or not np.array_equal(ids, table["signal_id"].to_numpy(dtype=str)):
        raise ValueError(
            "external_feature_table and external_cnn_tensors hold different signals; "
            "re-materialize both (they are written by one step)"
        )
    out = {}
    for role in ROLES:
        rows = (table["split"] == role).to_numpy()
        if not rows.any():
            continue
        views = {ch: np.asarray(tensors[ch])[rows] for ch in tensors.attrs["channels"]}
        meta = dict(tensors.attrs["reader"].get(role, {}))
        meta.setdefault("dataset", tensors.attrs["dataset"])
        out[role] = ExternalSet(
            table.loc[rows].reset_index(drop=True), views, list(tensors.attrs["classes"]), meta
        )
    return out
