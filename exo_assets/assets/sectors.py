"""TESS per-sector downloads: `tess_sector_fits`, partitioned by the dynamic `tess_sectors` partitions.

TESS observes a new ~27-day sector about once a month. Sectors are modelled as a TESS-only dynamic
partitioning (not a mission x sector multi-partition, which would give Kepler and K2 sector keys):
the new-sector sensor (`exo_assets.automation`) adds a key when the archive shows a new sector, and
`tess_sector_fits[n]` fetches only sector n's light curves of the selected TESS targets into the
archive cache. `raw_fits[TESS]` then builds its manifest from the cached files of every registered
sector (see `exo_assets.assets.ingest.raw_fits`); with no sector registered it fetches the
archive's whole light curves directly, as before.
"""

import dagster as dg
import pandas as pd

from exo_assets.assets.ingest import INGEST
from exo_assets.assets.metadata import markdown_table, reason_counts
from exo_assets.partitions import sector_from_key, tess_sector_partitions
from resources.archive import FOUND, LightCurveArchive
from resources.compute import ComputeResource


@dg.asset(
    partitions_def=tess_sector_partitions,
    group_name=INGEST,
    kinds={"fits", "parquet"},
    owners=["team:exo-assets"],
    pool="archive",
    ins={"catalog": dg.AssetIn(partition_mapping=dg.SpecificPartitionsPartitionMapping(["TESS"]))},
    description="TESS light curves of ONE sector (partition key = sector number) for the selected TESS "
    "catalog stars, fetched into the archive cache (simulated / local folder by SECTOR keyword / MAST search "
    "by sector). Value: a manifest with one row per signal: status (found / missing = not observed in that "
    "sector), files.",
)
def tess_sector_fits(
    context: dg.AssetExecutionContext,
    catalog: pd.DataFrame,
    archive: LightCurveArchive,
    compute: ComputeResource,
) -> dg.Output[pd.DataFrame]:
    try:
        sector = sector_from_key(context.partition_key)
    except ValueError as err:
        raise dg.Failure(str(err)) from None
    if len(catalog) and not (catalog["mission"] == "TESS").all():
        raise dg.Failure("tess_sector_fits needs the TESS partition of the catalog")
    manifest, _ = archive.fetch_sector(catalog, sector, compute)
    stars = manifest.drop_duplicates("star_id")
    found = stars[stars["status"] == FOUND]
    context.log.info(
        f"TESS sector {sector}: {len(found)}/{len(stars)} selected stars have light curves "
        f"({archive.backend})"
    )
    return dg.Output(
        manifest,
        metadata={
            "sector": sector,
            "backend": archive.backend,
            "provenance": archive.provenance,
            "stars": len(stars),
            "stars_found": len(found),
            "stars_missing": int((stars["status"] == "missing").sum()),
            "stars_failed": int((stars["status"] == "failed").sum()),
            "files": int(found["n_files"].sum()),
            "bytes": int(found["n_bytes"].sum()),
            "failure_reasons": markdown_table(reason_counts(manifest)),
        },
    )
