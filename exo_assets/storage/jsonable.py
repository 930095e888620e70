"""JSON encoding of the numpy values that stored metadata and metrics carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def json_default(obj):
    """`json.dumps(..., default=json_default)`: numpy scalars and arrays as Python values, paths as text."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
