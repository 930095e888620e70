"""JSON encoding of the numpy values that stored metadata, metrics and API responses carry."""

from __future__ import annotations

import math
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


def finite_or_none(value) -> float | None:
    """`float(value)` when that is finite; None for NaN, inf, None and anything not convertible."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def json_safe(value):
    """A copy of `value` in plain JSON types (dicts, lists, bool, int, float, str, None), recursively;
    NaN / inf become None (strict JSON, e.g. API responses), other objects their text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
