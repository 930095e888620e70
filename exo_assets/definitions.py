"""The Dagster code location: `exo_assets.definitions:defs`.

Assets are partitioned by mission (Kepler, K2, TESS) and run with the in-process executor by
default (per-step subprocesses cost ~3.5 s each on a small machine).
"""

from __future__ import annotations

import warnings

import dagster as dg

# Asset checks are partitioned by mission like their assets (a preview feature in Dagster 1.13).
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")

from exo_assets.assets import features, ingest, models  # noqa: E402
from resources import ExoIOManager, LightCurveArchive  # noqa: E402

MISSION_JOB = "mission_pipeline"


def build_defs(archive: LightCurveArchive | None = None, io_manager: ExoIOManager | None = None) -> dg.Definitions:
    """Definitions with the given resources (defaults: simulated archive, instance-storage IO manager)."""
    assets = dg.load_assets_from_modules([ingest, features, models])
    asset_checks = dg.load_asset_checks_from_modules([ingest, features, models])
    mission_job = dg.define_asset_job(
        MISSION_JOB,
        selection=dg.AssetSelection.all(),
        description="Materialize every per-mission asset for one mission partition.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=asset_checks,
        jobs=[mission_job],
        resources={
            "archive": archive or LightCurveArchive(),
            "io_manager": io_manager or ExoIOManager(),
        },
        executor=dg.in_process_executor,
    )


defs = build_defs()
