"""Per-signal features: the booster's row (physical diagnostics) and the CNN's views, from one cleaned curve.

`signal_features` is the single implementation used by the `feature_table` / `cnn_tensors` assets,
the benchmarks and the API. It never raises for bad data: the result carries a status and a reason,
and each diagnostic that cannot be measured is NaN with its own reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from exo_assets.science.catalogs import CATALOG_SCHEMA, assert_no_leakage
from exo_assets.science.diagnostics import (
    DIAGNOSTIC_SCHEMA,
    STRING_COLUMNS,
    DiagnosticsConfig,
    StellarParams,
    compute_diagnostics,
)
from exo_assets.science.views import ViewConfig, Views, make_views

#: Identification columns of a feature row (never model inputs).
KEY_SCHEMA: dict[str, tuple[str, str]] = {
    "signal_id": ("", "signal identifier"),
    "star_id": ("", "host star identifier"),
    "mission": ("", "Kepler, K2 or TESS"),
    "label": ("", "CP / PC / FP (the target, never a feature)"),
    "status": ("", "ok, or failed (no features; see reason)"),
    "reason": ("", "why the signal failed, '' when ok"),
    "epoch_source": ("", "catalog, or bls where the catalog had no epoch"),
    "provenance": ("", "simulated, local or MAST"),
    "nan_reasons": ("JSON", "diagnostic -> why it is NaN"),
}
#: Catalog columns that are physics (measured by the mission pipelines, not by the vetting).
CATALOG_FEATURES: dict[str, tuple[str, str]] = {
    "period_days": CATALOG_SCHEMA["period_days"],
    "duration_days": CATALOG_SCHEMA["duration_days"],
    "catalog_depth_ppm": ("ppm", "transit depth given by the catalog"),
    "teff_k": CATALOG_SCHEMA["teff_k"],
    "logg_cgs": CATALOG_SCHEMA["logg_cgs"],
    "radius_rsun": CATALOG_SCHEMA["radius_rsun"],
    "mag": CATALOG_SCHEMA["mag"],
}
VIEW_FEATURES: dict[str, tuple[str, str]] = {
    "view_depth_ppm": ("ppm", "scale the views were divided by (local-view depth, or 3 sigma noise floor)"),
    "view_scale_is_noise": ("0/1", "1 when the local view's depth was below its 3-sigma noise floor"),
}
#: The whole feature-table schema: column -> (unit, meaning).
FEATURE_SCHEMA: dict[str, tuple[str, str]] = {
    **KEY_SCHEMA,
    **CATALOG_FEATURES,
    **DIAGNOSTIC_SCHEMA,
    **VIEW_FEATURES,
}
#: Columns a model may use (numbers only).
MODEL_FEATURES: list[str] = [
    c for c in [*CATALOG_FEATURES, *DIAGNOSTIC_SCHEMA, *VIEW_FEATURES] if c not in STRING_COLUMNS
]
VIEW_NAMES: tuple[str, ...] = ("global", "local", "odd", "even", "secondary")

assert_no_leakage(MODEL_FEATURES)


@dataclass
class SignalResult:
    """Features of one signal.

    Attributes:
        signal_id: catalog signal id.
        status: "ok" or "failed".
        reason: why it failed ('' when ok).
        features: diagnostic and view-scale values (NaN where not measurable).
        nan_reasons: diagnostic -> reason it is NaN.
        views: the five normalised views (None when failed).
    """

    signal_id: str
    status: str
    reason: str = ""
    features: dict = field(default_factory=dict)
    nan_reasons: dict = field(default_factory=dict)
    views: Views | None = None


def band_for(mission: str) -> str:
    """Limb-darkening band of a mission's detector."""
    return "TESS" if mission == "TESS" else "Kepler"


def signal_features(
    time: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray | None,
    period: float,
    epoch: float,
    duration: float,
    star: StellarParams,
    signal_id: str = "",
    other_signals=(),
    mission: str = "Kepler",
    view_config: ViewConfig = ViewConfig(),
    diagnostics_config: DiagnosticsConfig | None = None,
    details: dict | None = None,
) -> SignalResult:
    """Views and diagnostics of one signal on a cleaned, detrended curve.

    Args:
        time: days (BKJD/BTJD); flux: relative flux (~1.0 out of transit); flux_err: its sigma.
        period, epoch, duration: ephemeris, days.
        star: catalog stellar parameters.
        other_signals: (period, epoch, duration) of the star's other signals (masked out).
        mission: picks the limb-darkening band.
        details: optional dict filled with what the fits saw (see `compute_diagnostics`), for plots.
    """
    if not all(np.isfinite(v) for v in (period, epoch, duration)) or period <= 0 or duration <= 0:
        return SignalResult(signal_id, "failed", "no usable ephemeris (period, epoch or duration missing)")
    config = diagnostics_config or DiagnosticsConfig(band=band_for(mission))
    try:
        views = make_views(time, flux, period, epoch, duration, view_config, other_signals)
    except ValueError as err:
        return SignalResult(signal_id, "failed", f"views: {err}")
    try:
        diag = compute_diagnostics(
            time, flux, flux_err, period, epoch, duration, star, config, other_signals, details
        )
    except Exception as exc:  # a numerical failure must not lose the signal's other results
        return SignalResult(signal_id, "failed", f"diagnostics: {type(exc).__name__}: {exc}")
    reasons = diag.pop("reasons", {})
    diag["view_depth_ppm"] = float(views.depth_scale * 1e6)
    diag["view_scale_is_noise"] = float(views.scale_kind != "depth")
    return SignalResult(signal_id, "ok", "", diag, reasons, views)


def star_signal_features(
    time,
    flux,
    flux_err,
    ephemerides: pd.DataFrame,
    star: StellarParams,
    mission: str,
    view_config: ViewConfig = ViewConfig(),
) -> list[SignalResult]:
    """`signal_features` for every signal of one star, each with the star's other signals masked."""
    rows = ephemerides.to_dict("records")
    results = []
    for i, row in enumerate(rows):
        others = [
            (r["period_days"], r["epoch"], r["duration_days"])
            for j, r in enumerate(rows)
            if j != i and np.isfinite(r["epoch"])
        ]
        results.append(
            signal_features(
                time,
                flux,
                flux_err,
                row["period_days"],
                row["epoch"],
                row["duration_days"],
                star,
                row["signal_id"],
                others,
                mission,
                view_config,
            )
        )
    return results


def feature_rows(
    results: list[SignalResult], catalog: pd.DataFrame, ephemerides: pd.DataFrame, provenance: str
) -> pd.DataFrame:
    """Assemble feature-table rows (all `FEATURE_SCHEMA` columns) from per-signal results."""
    cat = catalog.set_index("signal_id")
    eph = ephemerides.set_index("signal_id") if len(ephemerides) else pd.DataFrame()
    rows = []
    for res in results:
        c = cat.loc[res.signal_id]
        row = {
            "signal_id": res.signal_id,
            "star_id": c["star_id"],
            "mission": c["mission"],
            "label": c["label"],
            "status": res.status,
            "reason": res.reason,
            "epoch_source": eph.loc[res.signal_id, "epoch_source"] if res.signal_id in eph.index else "none",
            "provenance": provenance,
            "nan_reasons": json.dumps(res.nan_reasons, sort_keys=True),
            "period_days": c["period_days"],
            "duration_days": c["duration_days"],
            "catalog_depth_ppm": c["depth_ppm"],
            "teff_k": c["teff_k"],
            "logg_cgs": c["logg_cgs"],
            "radius_rsun": c["radius_rsun"],
            "mag": c["mag"],
        }
        for col in [*DIAGNOSTIC_SCHEMA, *VIEW_FEATURES]:
            row[col] = res.features.get(col, "" if col in STRING_COLUMNS else np.nan)
        rows.append(row)
    return conform(pd.DataFrame(rows, columns=list(FEATURE_SCHEMA)))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a feature table to the schema's dtypes (strings for key/string columns, float64 otherwise)."""
    frame = frame.reindex(columns=list(FEATURE_SCHEMA))
    for col in FEATURE_SCHEMA:
        if col in KEY_SCHEMA or col in STRING_COLUMNS:
            frame[col] = frame[col].fillna("").astype(str)
        elif frame[col].dtype != np.float64:  # already float64: nothing to convert (saves ~1 ms a column)
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def validate_feature_table(frame: pd.DataFrame) -> list[str]:
    """Problems with a feature table ('' list when valid): columns, dtypes, ids, labels, leakage."""
    problems = []
    missing = [c for c in FEATURE_SCHEMA if c not in frame.columns]
    extra = [c for c in frame.columns if c not in FEATURE_SCHEMA]
    if missing:
        problems.append(f"missing columns: {missing}")
    if extra:
        problems.append(f"unexpected columns: {extra}")
    if "signal_id" in frame and not frame["signal_id"].is_unique:
        problems.append("signal_id is not unique")
    if "label" in frame and not frame["label"].isin(["CP", "PC", "FP"]).all():
        problems.append("labels outside CP/PC/FP")
    for col in MODEL_FEATURES:
        if col in frame and not pd.api.types.is_float_dtype(frame[col]):
            problems.append(f"{col} is {frame[col].dtype}, expected float64")
    try:
        assert_no_leakage([c for c in frame.columns if c not in KEY_SCHEMA])
    except ValueError as err:
        problems.append(str(err))
    return problems


def stack_views(results: list[SignalResult], view_config: ViewConfig = ViewConfig()) -> dict[str, np.ndarray]:
    """float32 arrays (n, bins) per view name for the ok results, plus `signal_id` (str array)."""
    ok = [r for r in results if r.status == "ok" and r.views is not None]
    sizes = {"global": view_config.global_bins, **{k: view_config.local_bins for k in VIEW_NAMES[1:]}}
    arrays = {name: np.zeros((len(ok), sizes[name]), dtype=np.float32) for name in VIEW_NAMES}
    for i, res in enumerate(ok):
        assert res.views is not None  # filtered above
        for name, view in res.views.as_dict().items():
            arrays[name][i] = view
    arrays["signal_id"] = np.array([r.signal_id for r in ok], dtype=str)
    return arrays
