"""The Dagster code location: `exo_assets.definitions:defs`.

Assets are partitioned by mission (Kepler, K2, TESS) and run with the in-process executor by
default (per-step subprocesses cost ~3.5 s each on a small machine).
"""

from __future__ import annotations

import warnings

import dagster as dg

# Asset checks are partitioned by mission like their assets (a preview feature in Dagster 1.13).
warnings.filterwarnings(
    "ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*"
)

from exo_assets.assets import external_views, features, ingest, models, report, sectors  # noqa: E402
from exo_assets.assets.external_views import EXTERNAL_JOB  # noqa: E402
from exo_assets.automation import build_automation  # noqa: E402
from resources import ComputeResource, ExoIOManager, ExternalViewsSource, LightCurveArchive  # noqa: E402

MISSION_JOB = "mission_pipeline"
SUMMARY_JOB = "report_summary_job"


def build_defs(
    archive: LightCurveArchive | None = None,
    io_manager: ExoIOManager | None = None,
    compute: ComputeResource | None = None,
    external: ExternalViewsSource | None = None,
) -> dg.Definitions:
    """Definitions with the given resources (defaults: simulated archive, instance-storage IO manager,
    local process pool on every core for the per-star work, no TFRecord folders configured)."""
    assets = dg.load_assets_from_modules([ingest, features, models, report])
    asset_checks = dg.load_asset_checks_from_modules([ingest, features, models, report])
    assets = [*assets, *dg.load_assets_from_modules([sectors])]  # TESS-only, partitioned by sector
    # Real TFRecord signals, partitioned by set (vetting / toi): their own group and job.
    assets = [*assets, *dg.load_assets_from_modules([external_views])]
    external_group = dg.AssetSelection.groups(external_views.EXTERNAL)
    mission_job = dg.define_asset_job(
        MISSION_JOB,
        selection=dg.AssetSelection.all()
        - dg.AssetSelection.assets(sectors.tess_sector_fits, report.report_summary)
        - external_group,
        description="Materialize every per-mission asset for one mission partition.",
    )
    # Unpartitioned, so it cannot join the mission job: run it after the missions
    # (exo-assets materialize does).
    summary_job = dg.define_asset_job(
        SUMMARY_JOB,
        selection=dg.AssetSelection.assets(report.report_summary),
        description="Cross-mission summary of whichever final_report partitions are materialized.",
    )
    external_job = dg.define_asset_job(
        EXTERNAL_JOB,
        selection=external_group,
        description="Read an AstroNet TFRecord set (partition vetting / toi) and benchmark the project's "
        "models on it.",
    )
    automation = build_automation(mission_job)  # sensors and schedule, STOPPED by default
    return dg.Definitions(
        assets=assets,
        asset_checks=asset_checks,
        jobs=[mission_job, summary_job, external_job, *automation.jobs],
        sensors=automation.sensors,
        schedules=automation.schedules,
        resources={
            "archive": archive or LightCurveArchive(),
            "io_manager": io_manager or ExoIOManager(),
            "compute": compute or ComputeResource(),
            "external_views": external or ExternalViewsSource(),
        },
        executor=dg.in_process_executor,
    )


defs = build_defs()
