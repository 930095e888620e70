"""`ArrayBundle`: named numpy arrays stored as one NPZ file (no pickle: object arrays are refused)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exo_assets.storage.atomic import atomic_path


@dataclass
class ArrayBundle:
    """Named arrays of one asset value (e.g. CNN views with their signal ids and labels).

    Attributes:
        arrays: name -> numpy array (numeric, bool or fixed-width unicode; never object).
        attrs: small JSON-serialisable facts, stored as a 0-d unicode array `__attrs__`.
    """

    arrays: dict[str, np.ndarray]
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0


def write_npz(bundle: ArrayBundle, dest: Path) -> int:
    """Write an ArrayBundle atomically as compressed NPZ; returns bytes written."""
    import json

    for name, arr in bundle.arrays.items():
        if np.asarray(arr).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; NPZ values must not need pickle")
    # Any: numpy's stubs type **kwds of savez_compressed against its allow_pickle: bool keyword
    payload: dict[str, Any] = {k: np.asarray(v) for k, v in bundle.arrays.items()}
    payload["__attrs__"] = np.array(json.dumps(bundle.attrs, sort_keys=True, default=str))
    with atomic_path(dest, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)
    return Path(dest).stat().st_size


def read_npz(path: Path) -> ArrayBundle:
    """Read an NPZ written by `write_npz` (allow_pickle=False)."""
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__attrs__"}
        attrs = json.loads(str(data["__attrs__"])) if "__attrs__" in data.files else {}
    return ArrayBundle(arrays, attrs)
