"""Feature assets (per mission): `feature_table` (booster) and `cnn_tensors` (CNN views).

Thin wiring of exo_assets.science.features over the cleaned curves; per-signal failures stay in
the feature table with `status` and `reason`.
"""

import json

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from exo_assets.assets.metadata import markdown_table, reason_counts
from exo_assets.assets.settings import dataclass_kwargs, default
from exo_assets.reporting.png import example_views_png, markdown_image
from exo_assets.partitions import mission_partitions
from exo_assets.science.diagnostics import StellarParams
from exo_assets.science.features import (
    FEATURE_SCHEMA,
    VIEW_NAMES,
    SignalResult,
    feature_rows,
    stack_views,
    star_signal_features,
    validate_feature_table,
)
from exo_assets.science.views import ViewConfig
from exo_assets.assets.ingest import star_curve_paths
from exo_assets.storage import ArrayBundle, TableBundle
from exo_assets.storage.curves import read_star_curve
from resources.archive import LightCurveArchive
from resources.compute import ComputeResource

FEATURES = "features"
KEY_FEATURES = ["depth_ppm", "transit_snr", "odd_even_sigma", "secondary_sigma", "v_shape", "density_ratio",
                "duration_ratio", "ma_delta_bic", "bls_sde"]


class FeatureSettings(dg.Config):
    """View sizes (AstroNet defaults) of the feature build; `max_workers` caps the local process pool of
    the compute resource for this step (0 = no cap)."""

    global_bins: int = Field(default=default(ViewConfig, "global_bins"), ge=11)
    local_bins: int = Field(default=default(ViewConfig, "local_bins"), ge=11)
    local_half_width_durations: float = default(ViewConfig, "local_half_width_durations")
    local_bin_width_factor: float = default(ViewConfig, "local_bin_width_factor")
    max_workers: int = Field(default=0, ge=0)

    def view_config(self) -> ViewConfig:
        return ViewConfig(**dataclass_kwargs(self, ViewConfig))


def _star_job(args) -> list[SignalResult]:
    """Views and diagnostics of one star's signals, reading its stored curve (one star in memory)."""
    path, eph, star, mission, view_config = args
    c = read_star_curve(path)
    return star_signal_features(c.time, c.flux.astype(np.float64), c.flux_err.astype(np.float64), eph, star,
                                mission, view_config)


def _star_failed(job, error) -> list[SignalResult]:
    """Failure records for every signal of a star whose feature worker died (crash, out of memory)."""
    return [SignalResult(sid, "failed", f"feature build failed: {error}") for sid in job[1]["signal_id"]]


def _jobs(cleaned: TableBundle, catalog: pd.DataFrame, mission: str, view_config: ViewConfig) -> list[tuple]:
    """One job per cleaned star: (curve file, its ephemerides, stellar parameters, mission, view config).

    Jobs carry file references, not arrays: the parent never holds the curves, and Dask tasks stay small.
    """
    eph = cleaned["ephemerides"]
    by_star = dict(tuple(eph.groupby("star_id", sort=False))) if len(eph) else {}
    cat = catalog.drop_duplicates("star_id").set_index("star_id")
    jobs = []
    for star, path in sorted(star_curve_paths(cleaned).items()):
        c = cat.loc[star]
        params = StellarParams(float(c["teff_k"]), float(c["logg_cgs"]), float(c["radius_rsun"]))
        star_eph = by_star.get(star, eph.iloc[:0]).reset_index(drop=True)
        jobs.append((str(path), star_eph, params, mission, view_config))
    return jobs


@dg.multi_asset(
    partitions_def=mission_partitions,
    group_name=FEATURES,
    outs={
        "feature_table": dg.AssetOut(
            kinds={"pandas", "parquet"}, owners=["team:exo-assets"],
            description="One row per signal: catalog physics, vetting diagnostics (depth, SNR, MES, odd/even, "
            "secondary, trapezoid V-shape, Mandel-Agol fit, stellar density and duration ratios, BLS refinement, "
            "per-transit consistency) and view scale; status and reason; NaN + reason where not measurable."),
        "cnn_tensors": dg.AssetOut(
            kinds={"numpy"}, owners=["team:exo-assets"],
            description="float32 AstroNet-style views (global 2001, local/odd/even/secondary 201 bins) of the "
            "signals with status ok, with signal ids and labels aligned to feature_table. NPZ."),
    },
    ins={"catalog": dg.AssetIn(), "cleaned_curves": dg.AssetIn()},
)
def features(context: dg.AssetExecutionContext, config: FeatureSettings, catalog: pd.DataFrame,
             cleaned_curves: TableBundle, archive: LightCurveArchive, compute: ComputeResource):
    mission = context.partition_key
    view_config = config.view_config()
    batches = compute.map(_star_job, _jobs(cleaned_curves, catalog, mission, view_config),
                          on_error=_star_failed, max_workers=config.max_workers)
    results: list[SignalResult] = [r for batch in batches for r in batch]
    done = {r.signal_id for r in results}
    # Signals that never got a cleaned curve keep their upstream reason.
    stars = cleaned_curves["stars"].set_index("star_id") if len(cleaned_curves["stars"]) else pd.DataFrame()
    eph = cleaned_curves["ephemerides"]
    selected = catalog[catalog["star_id"].isin(stars.index)] if len(stars) else catalog.iloc[:0]
    for _, row in selected[~selected["signal_id"].isin(done)].iterrows():
        why = stars.loc[row["star_id"], "reason"] if row["star_id"] in stars.index else "not selected"
        results.append(SignalResult(row["signal_id"], "failed", f"no cleaned light curve: {why}"))
    table = feature_rows(results, catalog, eph, archive.provenance)
    problems = validate_feature_table(table)
    if problems:
        raise dg.Failure(f"feature table does not match its schema: {problems}")

    arrays = stack_views(results, view_config)
    labels = table.set_index("signal_id").loc[arrays["signal_id"], "label"].to_numpy(dtype=str) if len(
        arrays["signal_id"]) else np.array([], dtype=str)
    tensors = ArrayBundle({**arrays, "label": labels,
                           "star_id": table.set_index("signal_id").loc[arrays["signal_id"], "star_id"].to_numpy(dtype=str)
                           if len(arrays["signal_id"]) else np.array([], dtype=str)},
                          attrs={"mission": mission, "provenance": archive.provenance,
                                 "view_config": json.loads(json.dumps(view_config.__dict__))})

    ok = table[table["status"] == "ok"]
    medians = ok.groupby("label")[KEY_FEATURES].median().T.round(3).reset_index(names="feature")
    schema = pd.DataFrame([(c, u, m) for c, (u, m) in FEATURE_SCHEMA.items()], columns=["column", "unit", "meaning"])
    figures = {}
    for label in ["CP", "PC", "FP"]:
        idx = np.flatnonzero(labels == label)[:3]
        if idx.size:
            png = example_views_png(f"{mission} {label} ({archive.provenance}): example views",
                                    arrays["global"][idx], arrays["local"][idx], list(arrays["signal_id"][idx]))
            figures[f"examples_{label}"] = dg.MetadataValue.md(markdown_image(png, f"{label} views"))
    yield dg.Output(table, output_name="feature_table", metadata={
        "provenance": archive.provenance,
        "signals": len(table),
        "signals_ok": len(ok),
        "signals_failed": int((table["status"] == "failed").sum()),
        "failure_reasons": markdown_table(reason_counts(table)),
        "per_label_medians": markdown_table(medians, 40),
        "schema": markdown_table(schema, 80),
    })
    yield dg.Output(tensors, output_name="cnn_tensors", metadata={
        "provenance": archive.provenance,
        "signals": len(tensors),
        "shapes": json.dumps({name: list(arrays[name].shape) for name in VIEW_NAMES}),
        **figures,
    })


@dg.asset_check(asset="feature_table", partitions_def=mission_partitions, description="Columns, dtypes, unique ids, CP/PC/FP labels, no leakage.")
def feature_table_schema(feature_table: pd.DataFrame) -> dg.AssetCheckResult:
    problems = validate_feature_table(feature_table)
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": "; ".join(problems) or "none",
                                                              "rows": len(feature_table)})


@dg.asset_check(asset="cnn_tensors", partitions_def=mission_partitions, additional_ins={"feature_table": dg.AssetIn()},
                description="One finite view row per ok signal of feature_table, same ids and labels, float32.")
def cnn_tensors_match_features(cnn_tensors: ArrayBundle, feature_table: pd.DataFrame) -> dg.AssetCheckResult:
    ok = feature_table[feature_table["status"] == "ok"].set_index("signal_id")
    ids = cnn_tensors["signal_id"]
    problems = []
    if set(ids) != set(ok.index):
        problems.append(f"{len(set(ids) ^ set(ok.index))} signal ids differ from feature_table's ok rows")
    elif not (ok.loc[ids, "label"].to_numpy() == cnn_tensors["label"]).all():
        problems.append("labels differ from feature_table")
    for name in VIEW_NAMES:
        arr = cnn_tensors[name]
        if arr.dtype != np.float32 or arr.shape[0] != len(ids) or not np.isfinite(arr).all():
            problems.append(f"{name}: dtype {arr.dtype}, shape {arr.shape}, finite={np.isfinite(arr).all()}")
    return dg.AssetCheckResult(passed=not problems, metadata={"problems": "; ".join(problems) or "none",
                                                              "rows": len(ids)})
