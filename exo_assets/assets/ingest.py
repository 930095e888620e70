"""Ingest assets (per mission): `catalog` -> `raw_fits` -> `cleaned_curves`.

Thin wiring of the science library: catalogs.load_catalog, the LightCurveArchive resource and
prepare.prepare_star. Per-target failures are kept in the stored tables with their reasons and
summarised in the materialization metadata.
"""


from dataclasses import asdict
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from exo_assets.assets.metadata import markdown_table, reason_counts
from exo_assets.assets.settings import dataclass_kwargs, default
from exo_assets.partitions import mission_partitions, registered_tess_sectors
from exo_assets.science.catalogs import CATALOG_SCHEMA, assert_no_leakage, catalog_version, load_catalog
from exo_assets.science.cleaning import CleaningConfig
from exo_assets.science.ephemeris import EPHEMERIS_COLUMNS
from exo_assets.science.prepare import StarResult, prepare_star
from exo_assets.storage import TableBundle
from exo_assets.storage.curves import discard, staging_folder, write_star_curve
from resources.archive import FOUND, LightCurveArchive, manifest_files
from resources.compute import ComputeResource

INGEST = "ingest"


class CatalogConfig(dg.Config):
    """Where the NASA Exoplanet Archive tables come from (empty: the copies shipped in the package)."""

    catalog_dir: str = ""


@dg.asset(
    partitions_def=mission_partitions,
    group_name=INGEST,
    kinds={"pandas", "parquet"},
    owners=["team:exo-assets"],
    description="Per-signal catalog (KOI / TOI / K2 planets and candidates) with CP/PC/FP labels, "
    "ephemerides in the mission's time system and stellar parameters. No disposition-derived columns.",
)
def catalog(context: dg.AssetExecutionContext, config: CatalogConfig) -> dg.Output[pd.DataFrame]:
    mission = context.partition_key
    catalog_dir = Path(config.catalog_dir) if config.catalog_dir else None
    frame = load_catalog(mission, catalog_dir)
    assert_no_leakage(frame.columns)
    counts = frame["label"].value_counts().reindex(["CP", "PC", "FP"], fill_value=0)
    schema = pd.DataFrame([(c, u, m) for c, (u, m) in CATALOG_SCHEMA.items()], columns=["column", "unit", "meaning"])
    return dg.Output(
        frame,
        metadata={
            "rows": len(frame),
            "stars": int(frame["star_id"].nunique()),
            "n_CP": int(counts["CP"]),
            "n_PC": int(counts["PC"]),
            "n_FP": int(counts["FP"]),
            "catalog_export": catalog_version(mission, catalog_dir),
            "schema": markdown_table(schema, 50),
        },
    )


@dg.asset(
    partitions_def=mission_partitions,
    group_name=INGEST,
    kinds={"fits", "parquet"},
    owners=["team:exo-assets"],
    pool="archive",
    # TESS per-sector downloads feed the TESS partition (Dagster has no built-in mapping from one static key
    # to all dynamic keys, so Kepler and K2 formally depend on every sector too and ignore them).
    deps=[dg.AssetDep("tess_sector_fits", partition_mapping=dg.AllPartitionMapping())],
    description="Light-curve FITS files of the selected catalog stars from the configured archive "
    "(simulated / local folder / MAST). Value: a manifest with one row per signal: status, reason, files. "
    "TESS: the files of every registered sector (tess_sector_fits); with none registered, fetched directly.",
)
def raw_fits(context: dg.AssetExecutionContext, catalog: pd.DataFrame,
             archive: LightCurveArchive, compute: ComputeResource) -> dg.Output[pd.DataFrame]:
    mission = context.partition_key
    sectors, bad_keys = registered_tess_sectors(context.instance) if mission == "TESS" else ([], [])
    if bad_keys:
        context.log.warning(f"ignoring tess_sectors partition keys that are not sector numbers: {bad_keys}")
    if sectors:
        manifest, backend = archive.fetch_sectors(catalog, sectors, compute)
    else:
        manifest, backend = archive.fetch(catalog, mission, compute)
    found = manifest[manifest["status"] == FOUND]
    stars = manifest.drop_duplicates("star_id")
    metadata = {
        "backend": archive.backend,
        "provenance": archive.provenance,
        "signals": len(manifest),
        "stars": int(stars.shape[0]),
        "found_signals": len(found),
        "missing_signals": int((manifest["status"] == "missing").sum()),
        "failed_signals": int((manifest["status"] == "failed").sum()),
        "skipped_signals": int((manifest["status"] == "skipped").sum()),
        "bytes": int(stars.loc[stars["status"] == FOUND, "n_bytes"].sum()),
        "failure_reasons": markdown_table(reason_counts(manifest)),
    }
    if mission == "TESS":
        metadata["tess_sectors"] = ", ".join(map(str, sectors)) if sectors else "all (no sector partitions)"
    unreadable = getattr(backend, "unreadable", [])
    if unreadable:
        metadata["unreadable_files"] = markdown_table(pd.DataFrame(unreadable, columns=["file", "reason"]))
    context.log.info(f"{mission}: {len(found)}/{len(manifest)} signals have light curves ({archive.backend})")
    return dg.Output(manifest, metadata=metadata)


class CleaningSettings(dg.Config):
    """Cleaning knobs (see exo_assets.science.cleaning.CleaningConfig); `max_workers` caps the local
    process pool of the compute resource for this step (0 = no cap)."""

    window_factor: float = default(CleaningConfig, "window_factor")
    min_window_days: float = default(CleaningConfig, "min_window_days")
    max_window_days: float = default(CleaningConfig, "max_window_days")
    mask_factor: float = default(CleaningConfig, "mask_factor")
    sigma_upper: float = default(CleaningConfig, "sigma_upper")
    min_points: int = default(CleaningConfig, "min_points")
    max_workers: int = Field(default=0, ge=0)

    def cleaning_config(self) -> CleaningConfig:
        return CleaningConfig(**dataclass_kwargs(self, CleaningConfig))


def _prepare(args) -> StarResult:
    """Clean one star and write its curve into the staging folder; the result sent back holds no arrays."""
    paths, signals, config, folder = args
    res = prepare_star(paths, signals, config)
    if res.curve is not None:
        c = res.curve
        res.stats = {**res.stats, "n_points": int(c.time.size),
                     "curve_file": write_star_curve(folder, res.star_id, c.time, c.flux, c.flux_err, c.segment)}
        res.curve = None
    return res


def _prepare_failed(job, error) -> StarResult:
    """The record of a star whose cleaning worker died (crash, out of memory)."""
    return StarResult(str(job[1]["star_id"].iloc[0]), "failed", f"cleaning failed: {error}")


def star_curve_paths(cleaned: TableBundle) -> dict[str, Path]:
    """{star_id: stored curve file} of the stars that `cleaned_curves` cleaned (status ok)."""
    stars = cleaned["stars"]
    if "curve_file" not in stars or "curves" not in cleaned.dirs:
        return {}
    ok = stars[(stars["status"] == "ok") & stars["curve_file"].notna()]
    return {str(star): cleaned.dirs["curves"] / str(name) for star, name in zip(ok["star_id"], ok["curve_file"])}


def _summarise(results: list[StarResult], raw_fits: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(stars table, ephemerides table, materialization metadata) from the per-star records."""
    stars, ephs = [], []
    for res in results:
        stars.append({"star_id": res.star_id, "status": res.status, "reason": res.reason, **res.stats})
        if res.ephemerides is not None:
            ephs.append(res.ephemerides.assign(status=res.status))
    # Signals whose light curve was not found upstream keep their reason from raw_fits.
    not_found = raw_fits[raw_fits["status"] != FOUND].drop_duplicates("star_id")
    for _, row in not_found.iterrows():
        stars.append({"star_id": row["star_id"], "status": row["status"], "reason": row["reason"]})
    star_table = pd.DataFrame(stars)
    if star_table.empty:
        star_table = pd.DataFrame(columns=["star_id", "status", "reason"])
    for column in ("curve_file", "n_points"):
        if column not in star_table:
            star_table[column] = None
    eph_table = pd.concat(ephs, ignore_index=True) if ephs else pd.DataFrame(columns=[*EPHEMERIS_COLUMNS, "status"])
    ok = star_table[star_table["status"] == "ok"]
    metadata = {
        "stars_ok": len(ok),
        "stars_failed": int((star_table["status"] == "failed").sum()),
        "stars_without_data": len(not_found),
        "cadences": int(pd.to_numeric(star_table["n_points"], errors="coerce").fillna(0).sum()),
        "median_rms_ppm": float(ok["rms_ppm"].median()) if "rms_ppm" in ok and len(ok) else float("nan"),
        "epochs_from_bls": int((eph_table.get("epoch_source", pd.Series(dtype=str)) == "bls").sum()),
        "failure_reasons": markdown_table(reason_counts(star_table)),
    }
    return star_table, eph_table, metadata


@dg.asset(
    partitions_def=mission_partitions,
    group_name=INGEST,
    kinds={"parquet"},
    owners=["team:exo-assets"],
    description="Cleaned light curves: quality mask, NaN removal, per-segment normalisation, transit-masked "
    "wotan biweight detrending and upper-only clipping. Streamed: each worker writes its star's curve to its "
    "own Parquet file (curves/: time [BKJD/BTJD d], relative flux, flux_err, segment); tables stars (status, "
    "reason, counts, curve_file) and ephemerides (catalog or BLS epoch).",
)
def cleaned_curves(context: dg.AssetExecutionContext, config: CleaningSettings, catalog: pd.DataFrame,
                   raw_fits: pd.DataFrame, compute: ComputeResource) -> dg.Output[TableBundle]:
    cfg = config.cleaning_config()
    found = raw_fits[raw_fits["status"] == FOUND]
    signals = catalog[catalog["signal_id"].isin(found["signal_id"])]
    # Workers write straight to storage; only per-star records (no arrays) come back to this process.
    staging = staging_folder(context.instance.storage_directory(), "cleaned_curves", context.partition_key)
    try:
        jobs = [(manifest_files(raw_fits, star), frame, cfg, str(staging))
                for star, frame in signals.groupby("star_id", sort=True)]
        results = compute.map(_prepare, jobs, on_error=_prepare_failed, max_workers=config.max_workers)
        star_table, eph_table, metadata = _summarise(results, raw_fits)
    except BaseException:  # nothing half-made is left behind; the stored version is untouched
        discard(staging)
        raise
    bundle = TableBundle(
        tables={"stars": star_table, "ephemerides": eph_table},
        attrs={"mission": context.partition_key, "cleaning": asdict(cfg)},
        dirs={"curves": staging},
    )
    return dg.Output(bundle, metadata=metadata)
