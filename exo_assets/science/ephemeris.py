"""Ephemerides of a star's signals as the catalog gives them (K2 epochs are filled later by BLS,
see `diagnostics.estimate_epoch_bls` used in `prepare.prepare_star`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

EPHEMERIS_COLUMNS = ["signal_id", "star_id", "period_days", "epoch", "duration_days", "epoch_source"]


def star_ephemerides(signals: pd.DataFrame) -> pd.DataFrame:
    """The catalog ephemerides of one star's signals.

    Columns `EPHEMERIS_COLUMNS`; epoch_source is 'catalog' or 'none'.
    """
    eph = signals[["signal_id", "star_id", "period_days", "epoch", "duration_days"]].copy()
    eph["epoch_source"] = np.where(np.isfinite(eph["epoch"].to_numpy(float)), "catalog", "none")
    return eph.reset_index(drop=True)
