"""Per-star preparation: read a star's FITS files, fill missing epochs, clean and detrend.

`prepare_star` is what the `cleaned_curves` asset runs for every star; it never raises for bad
input: the returned `StarResult` carries a status and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from exo_assets.science.cleaning import CleanedCurve, CleaningConfig, clean_light_curve
from exo_assets.science.diagnostics import estimate_epoch_bls
from exo_assets.science.ephemeris import star_ephemerides
from exo_assets.science.lightcurves import LightCurveError, read_star


@dataclass
class StarResult:
    """Outcome of preparing one star.

    Attributes:
        star_id: catalog star id.
        status: "ok" or "failed".
        reason: why it failed ('' if ok); notes on skipped files otherwise.
        curve: the cleaned curve (None when failed).
        ephemerides: one row per signal (`ephemeris.EPHEMERIS_COLUMNS`).
        stats: cleaning counts.
    """

    star_id: str
    status: str
    reason: str = ""
    curve: CleanedCurve | None = None
    ephemerides: pd.DataFrame | None = None
    stats: dict = field(default_factory=dict)


def prepare_star(paths: list[str], signals: pd.DataFrame, config: CleaningConfig = CleaningConfig()) -> StarResult:
    """Read, stitch, clean and detrend one star's files with all its known transits masked.

    Signals without a catalog epoch get one from a BLS search at the catalog period on a first,
    unmasked detrending (epoch_source "bls"), then the star is detrended again with that transit masked.
    """
    star_id = str(signals["star_id"].iloc[0])
    eph = star_ephemerides(signals)
    try:
        lc, bad_files = read_star(paths)
        if lc is None:
            detail = "; ".join(f"{name}: {why}" for name, why in bad_files) or "no files"
            raise LightCurveError(f"no readable light-curve file ({detail})")
        known = eph[eph["epoch_source"] == "catalog"]
        curve = clean_light_curve(lc, known[["period_days", "epoch", "duration_days"]].to_numpy(), config)
        missing = eph["epoch_source"] == "none"
        if missing.any():
            for idx in eph.index[missing]:
                try:
                    epoch, _, _ = estimate_epoch_bls(curve.time, curve.flux, eph.at[idx, "period_days"],
                                                     eph.at[idx, "duration_days"])
                except ValueError:
                    continue
                if np.isfinite(epoch):
                    eph.at[idx, "epoch"] = epoch
                    eph.at[idx, "epoch_source"] = "bls"
            usable = eph[np.isfinite(eph["epoch"].to_numpy(float))]
            curve = clean_light_curve(lc, usable[["period_days", "epoch", "duration_days"]].to_numpy(), config)
        notes = "; ".join(f"skipped {name}: {why}" for name, why in bad_files)
        return StarResult(star_id, "ok", notes, curve, eph, dict(curve.stats))
    except LightCurveError as err:
        return StarResult(star_id, "failed", str(err), None, eph, {})
    except Exception as exc:  # numerical failures of one star must not stop the run
        return StarResult(star_id, "failed", f"{type(exc).__name__}: {exc}", None, eph, {})
