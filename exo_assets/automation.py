"""Automation of the code location: new TESS sectors and the daily TOI catalog refresh.

Three definitions, all STOPPED by default (turn them on in the UI under Automation, or with
`dagster sensor start` / `dagster schedule start`; the daemon that `exo-assets dev` starts runs them):

- `tess_new_sector_sensor` asks the `archive` resource which TESS sectors it holds
  (`LightCurveArchive.available_tess_sectors`), keeps the highest sector seen in its cursor, and for
  every newer sector adds a `tess_sectors` partition key and requests a `tess_sector_download` run of
  `tess_sector_fits` for it: only that sector's light curves are fetched into the archive cache. It
  waits (skips, cursor unchanged) until `catalog[TESS]` has been materialized once, since the
  sector download reads the selected targets from it.
- `tess_refresh_after_sector` requests the TESS partition of the mission job (`catalog -> ... ->
  blend -> final_report`, every mission-partitioned asset) after a sector download, once no sector
  download is queued or running, so several new sectors give one refresh. `raw_fits[TESS]` then
  includes every registered sector's files.
- `toi_catalog_daily` (cron `0 6 * * *` UTC by default) requests `toi_catalog_refresh`: the TESS
  partition of `catalog` (the NASA TOI table; the copy shipped in the package when the asset's
  `catalog_dir` is not set).

Two sensors rather than one backfill keep to Dagster's public API: a single request spanning the
sector asset and the mission assets would need an asset-graph backfill request, which Dagster keeps
private.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from exo_assets.partitions import TESS_SECTORS, tess_sector_partitions
from resources.archive import LightCurveArchive

NEW_SECTOR_SENSOR = "tess_new_sector_sensor"
REFRESH_SENSOR = "tess_refresh_after_sector"
CATALOG_SCHEDULE = "toi_catalog_daily"
SECTOR_JOB = "tess_sector_download"
CATALOG_JOB = "toi_catalog_refresh"
SECTOR_ASSET = dg.AssetKey("tess_sector_fits")
CATALOG_ASSET = dg.AssetKey("catalog")
TRIGGER_TAG = "exo-assets/trigger"

#: Run states during which a sector download may still add files.
IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _shipped_toi_catalog() -> pd.DataFrame:
    from exo_assets.science.catalogs import load_catalog

    return load_catalog("TESS")


def highest_sector(cursor: str | None) -> int:
    """The highest sector recorded in the new-sector sensor's cursor (0 when none yet).

    Raises:
        ValueError: the cursor is not a whole number (e.g. set by hand in the UI).
    """
    if cursor is None or cursor == "":
        return 0
    if not cursor.strip().isdigit():
        raise ValueError(
            f"the {NEW_SECTOR_SENSOR} cursor must be the highest TESS sector seen, e.g. '27'; "
            f"got {cursor!r} (clear it in the UI to start over)"
        )
    return int(cursor)


def catalog_materialized(instance: dg.DagsterInstance, partition: str = "TESS") -> bool:
    """Whether `catalog[partition]` has at least one materialization in the instance."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CATALOG_ASSET, asset_partitions=[partition]), limit=1
    )
    return bool(records.records)


@dataclass(frozen=True)
class Automation:
    """The jobs, sensors and schedules to add to the Definitions."""

    jobs: list
    sensors: list
    schedules: list


def build_automation(
    mission_job,
    *,
    catalog_cron: str = "0 6 * * *",
    timezone: str = "UTC",
    sector_check_interval_s: int = 3600,
    refresh_check_interval_s: int = 60,
    catalog_loader: Callable[[], pd.DataFrame] = _shipped_toi_catalog,
) -> Automation:
    """Sensors, schedule and their jobs for the code location.

    Args:
        mission_job: the mission-partitioned asset job (`MISSION_JOB`) the refresh runs for "TESS".
        catalog_cron: cron of the TOI catalog schedule (default daily at 06:00).
        timezone: time zone of `catalog_cron`.
        sector_check_interval_s: seconds between new-sector checks (MAST: one search per target star).
        refresh_check_interval_s: seconds between checks for finished sector downloads.
        catalog_loader: the TESS catalog whose selected stars the mast backend searches for sectors.
    """
    sector_job = dg.define_asset_job(
        SECTOR_JOB,
        selection=dg.AssetSelection.assets(SECTOR_ASSET),
        description="Fetch one TESS sector's light curves of the selected TESS stars (tess_sector_fits).",
    )
    catalog_job = dg.define_asset_job(
        CATALOG_JOB,
        selection=dg.AssetSelection.assets(CATALOG_ASSET),
        description="Re-read the NASA catalog of one mission (the schedule asks for TESS: the TOI table).",
    )

    @dg.sensor(
        name=NEW_SECTOR_SENSOR,
        job=sector_job,
        minimum_interval_seconds=sector_check_interval_s,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="New TESS sector in the archive -> add a tess_sectors partition and download that "
        "sector (cursor: highest sector seen).",
    )
    def tess_new_sector_sensor(context: dg.SensorEvaluationContext, archive: LightCurveArchive):
        highest = highest_sector(context.cursor)
        if not catalog_materialized(context.instance):
            return dg.SkipReason(
                "catalog[TESS] has never been materialized: materialize it (or turn on "
                f"{CATALOG_SCHEDULE}) so the sector downloads know their target stars"
            )
        available = archive.available_tess_sectors(catalog_loader() if archive.backend == "mast" else None)
        new = [s for s in available if s > highest]
        if not new:
            last = f"sector {available[-1]}" if available else "no sector"
            return dg.SkipReason(
                f"no TESS sector after {highest} (the {archive.backend} archive shows {last})"
            )
        keys = [str(s) for s in new]
        existing = set(context.instance.get_dynamic_partitions(TESS_SECTORS))
        to_add = [k for k in keys if k not in existing]
        context.log.info(f"new TESS sectors {keys} (previous highest {highest}); adding {to_add}")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    partition_key=k, run_key=f"tess-sector-{k}", tags={TRIGGER_TAG: NEW_SECTOR_SENSOR}
                )
                for k in keys
            ],
            dynamic_partitions_requests=[tess_sector_partitions.build_add_request(to_add)] if to_add else [],
            cursor=str(max(new)),
        )

    @dg.sensor(
        name=REFRESH_SENSOR,
        job=mission_job,
        minimum_interval_seconds=refresh_check_interval_s,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="After TESS sector downloads finish, refresh the TESS partition of the mission job "
        "(catalog -> ... -> blend). Cursor: the last sector materialization refreshed.",
    )
    def tess_refresh_after_sector(context: dg.SensorEvaluationContext):
        done = int(context.cursor) if context.cursor and context.cursor.isdigit() else 0
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SECTOR_ASSET, after_storage_id=done or None), limit=1
        ).records
        if not records:
            return dg.SkipReason("no new tess_sector_fits materialization")
        latest = records[0]
        running = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=SECTOR_JOB, statuses=IN_FLIGHT), limit=1
        )
        if running:
            return dg.SkipReason(f"waiting for sector download run {running[0].run_id} to finish")
        sector = latest.partition_key
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    partition_key="TESS",
                    run_key=f"tess-refresh-{latest.storage_id}",
                    tags={TRIGGER_TAG: REFRESH_SENSOR, "exo-assets/tess_sector": str(sector)},
                )
            ],
            cursor=str(latest.storage_id),
        )

    @dg.schedule(
        name=CATALOG_SCHEDULE,
        job=catalog_job,
        cron_schedule=catalog_cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Refresh the TOI catalog (catalog[TESS]) every day.",
    )
    def toi_catalog_daily(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time
        key = when.isoformat() if when is not None else None
        return dg.RunRequest(
            partition_key="TESS",
            run_key=f"toi-catalog-{key}" if key else None,
            tags={TRIGGER_TAG: CATALOG_SCHEDULE},
        )

    return Automation(
        jobs=[sector_job, catalog_job],
        sensors=[tess_new_sector_sensor, tess_refresh_after_sector],
        schedules=[toi_catalog_daily],
    )


__all__ = ["Automation", "build_automation", "catalog_materialized", "highest_sector"]
