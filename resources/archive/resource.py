"""`LightCurveArchive`: the Dagster resource that turns catalog rows into light-curve files.

One interface, three backends chosen by `backend`:
- "simulated" (default): the catalog-seeded physical simulator (no network); results are simulated.
- "local": a folder of FITS files (`local_dir`), matched by the star id in the FITS header.
- "mast": lightkurve downloads from MAST, cached in MAST's layout, with retries.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from exo_assets.defaults import TARGETS_PER_MISSION
from exo_assets.science.catalogs import load_generation_hints, select_targets, validate_catalog_rows
from exo_assets.science.simulator import SimulatorConfig
from resources.archive.base import (
    FAILED,
    SKIPPED,
    FetchResult,
    combine_sector_manifests,
    manifest_frame,
    manifest_rows,
)
from resources.archive.local import LocalFolderBackend
from resources.archive.mast import MastBackend
from resources.archive.simulated import SimulatedBackend
from resources.compute import ComputeResource

PROVENANCE = {"simulated": "simulated", "local": "local", "mast": "MAST"}


def _guarded(star_id: str, call, *args) -> FetchResult:
    try:
        return call(*args)
    except Exception as exc:  # a backend bug for one star is still only that star's failure
        return FetchResult(star_id, FAILED, f"{type(exc).__name__}: {exc}")


def _fetch_one(args) -> FetchResult:
    backend, star_id, signals, mission = args
    return _guarded(star_id, backend.fetch_star, star_id, mission, signals)


def _fetch_sector_one(args) -> FetchResult:
    backend, star_id, signals, sector = args
    return _guarded(star_id, backend.fetch_star_sector, star_id, signals, sector)


def _fetch_failed(job, error) -> FetchResult:
    """The failure record of a fetch job whose worker died (jobs are (backend, star_id, ...))."""
    return FetchResult(job[1], FAILED, f"fetch failed: {error}")


class LightCurveArchive(dg.ConfigurableResource):
    """Where light curves come from, and how many targets per mission partition.

    Attributes:
        backend: "simulated", "local" or "mast".
        cache_dir: folder for downloads and simulated files; empty = `<instance storage>/archive_cache`.
        local_dir: folder of FITS files for the "local" backend.
        targets_per_mission: stars per mission partition (label-balanced seeded sample); 0 = all.
        selection_seed: seed of the target sample.
        sim_seed: seed of the simulator (noise and drawn parameters).
        kepler_quarters: simulated Kepler quarters per star (~90 d each, 29.4-min cadence).
        k2_campaign_days: simulated K2 campaign length, days.
        tess_sectors: simulated TESS sectors (1..n, 2-min cadence); the simulated archive "holds" these
            sectors, so raising n makes sector n appear to the new-sector sensor.
        max_retries: MAST tries per star.
        backoff_seconds: first MAST retry delay, seconds (doubles per retry).
        max_workers: at most this many stars fetched at once (0 = the compute resource's workers);
            simulation runs in worker processes (or on Dask), MAST downloads in threads (or on Dask).
    """

    backend: Literal["simulated", "local", "mast"] = "simulated"
    cache_dir: str = ""
    local_dir: str = ""
    targets_per_mission: int = Field(default=TARGETS_PER_MISSION, ge=0)
    selection_seed: int = 0
    sim_seed: int = 0
    kepler_quarters: int = Field(default=4, ge=1, le=17)
    k2_campaign_days: float = Field(default=80.0, gt=0)
    tess_sectors: int = Field(default=1, ge=1)
    max_retries: int = Field(default=3, ge=1)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_workers: int = Field(default=0, ge=0)

    _storage_root: str = PrivateAttr(default="")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.instance is not None:
            self._storage_root = context.instance.storage_directory()

    @property
    def provenance(self) -> str:
        """"simulated", "local" or "MAST": the label every downstream result carries."""
        return PROVENANCE[self.backend]

    def resolved_cache_dir(self) -> Path:
        """The cache folder (configured, else under the instance storage, else ./.exo_data)."""
        if self.cache_dir:
            return Path(self.cache_dir)
        root = self._storage_root or os.path.join(os.getcwd(), ".exo_data")
        return Path(root) / "archive_cache"

    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(seed=self.sim_seed, kepler_quarters=self.kepler_quarters,
                               k2_campaign_days=self.k2_campaign_days, tess_sectors=self.tess_sectors)

    def make_backend(self, mission: str):
        """The backend object for this configuration."""
        if self.backend == "simulated":
            return SimulatedBackend(self.resolved_cache_dir() / "simulated", self.simulator_config(),
                                    load_generation_hints(mission))
        if self.backend == "local":
            if not self.local_dir:
                raise dg.DagsterInvalidConfigError("backend 'local' needs local_dir", [], None)
            return LocalFolderBackend(self.local_dir)
        return MastBackend(self.resolved_cache_dir() / "mast", self.max_retries, self.backoff_seconds)

    def select(self, catalog: pd.DataFrame, backend=None) -> pd.DataFrame:
        """Catalog rows this run processes: for "local", only stars with files; then the sample."""
        mission = catalog["mission"].iloc[0] if len(catalog) else ""
        if self.backend == "local" and backend is not None:
            catalog = catalog[catalog["star_id"].isin(backend.stars(mission))]
        return select_targets(catalog, self.targets_per_mission, self.selection_seed)

    def map_jobs(self, fn, jobs: list, compute: ComputeResource | None = None) -> list:
        """`[fn(job) for job in jobs]` through the compute resource (default: local processes), in order.

        Jobs are tuples `(backend, star_id, ...)`; a job whose worker dies becomes a "failed"
        `FetchResult`. Local-folder lookups run in this process; MAST downloads in threads locally.
        """
        if self.backend == "local":
            return [fn(job) for job in jobs]
        compute = compute or ComputeResource(max_workers=self.max_workers)
        return compute.map(fn, jobs, on_error=_fetch_failed, max_workers=self.max_workers,
                           io_bound=self.backend == "mast")

    def _plan(self, catalog: pd.DataFrame, backend) -> tuple[list[dict], list[tuple[str, pd.DataFrame]]]:
        """(manifest rows of the "skipped" signals, [(star_id, usable catalog rows)]) of the selected stars."""
        selected = self.select(catalog, backend)
        reasons = validate_catalog_rows(selected)
        rows: list[dict] = []
        for _, bad in selected[reasons != ""].iterrows():
            rows.extend(manifest_rows(FetchResult(bad["star_id"], SKIPPED, reasons[_], attempts=0),
                                      bad.to_frame().T, backend.name))
        usable = selected[reasons == ""]
        return rows, [(star, frame) for star, frame in usable.groupby("star_id", sort=True)]

    def fetch(self, catalog: pd.DataFrame, mission: str,
              compute: ComputeResource | None = None) -> tuple[pd.DataFrame, object]:
        """Fetch the selected stars; returns (manifest with one row per selected signal, backend).

        Rows whose catalog values cannot be processed (NaN period, ...) are "skipped" with the reason;
        a star is fetched if at least one of its signals is usable. Stars are fetched through
        `compute` (see `map_jobs`).
        """
        backend = self.make_backend(mission)
        return self._fetch_planned(backend, catalog, _fetch_one, mission, compute), backend

    def _fetch_planned(self, backend, catalog: pd.DataFrame, job_fn, extra, compute) -> pd.DataFrame:
        """Plan (select, skip unusable rows with a reason), run `job_fn((backend, star, signals, extra))`
        per star through `map_jobs`, and return the manifest (one row per selected signal)."""
        rows, groups = self._plan(catalog, backend)
        results = self.map_jobs(job_fn, [(backend, star, frame, extra) for star, frame in groups], compute)
        for result, (_, frame) in zip(results, groups):
            rows.extend(manifest_rows(result, frame, backend.name))
        return manifest_frame(rows)

    # --- TESS sectors (the `tess_sector_fits` asset and the new-sector sensor) -------------------

    def available_tess_sectors(self, catalog: pd.DataFrame | None = None) -> list[int]:
        """Sorted TESS sector numbers the configured archive holds.

        simulated: 1..`tess_sectors`; local: the SECTOR keywords of the folder's TESS files; mast:
        the sectors in lightkurve's search results for the selected TESS targets of `catalog`
        (required for mast; one search per star, so call it rarely).
        """
        backend = self.make_backend("TESS")
        if self.backend != "mast":
            return backend.tess_sectors(None)
        if catalog is None:
            raise ValueError("the mast backend needs the TESS catalog to know which stars to search")
        return backend.tess_sectors(sorted(self.select(catalog, backend)["star_id"].unique()))

    def fetch_sector(self, catalog: pd.DataFrame, sector: int,
                     compute: ComputeResource | None = None) -> tuple[pd.DataFrame, object]:
        """Fetch ONE TESS sector of the selected TESS stars into the cache.

        Returns (manifest with one row per selected signal and a `sector` column, backend): "found"
        with that sector's files, "missing" where the star was not observed in the sector.
        """
        backend = self.make_backend("TESS")
        return self._fetch_sector(backend, catalog, sector, compute), backend

    def _fetch_sector(self, backend, catalog: pd.DataFrame, sector: int,
                      compute: ComputeResource | None) -> pd.DataFrame:
        sector = int(sector)
        if sector < 1:
            raise ValueError(f"TESS sectors start at 1, got {sector}")
        return self._fetch_planned(backend, catalog, _fetch_sector_one, sector, compute).assign(sector=sector)

    def fetch_sectors(self, catalog: pd.DataFrame, sectors: list[int],
                      compute: ComputeResource | None = None) -> tuple[pd.DataFrame, object]:
        """The TESS manifest built from per-sector files (cached by `fetch_sector`): per signal, the
        files of every sector in `sectors` that has them (see `combine_sector_manifests`)."""
        backend = self.make_backend("TESS")  # one backend: a local folder is indexed once
        per_sector = {n: self._fetch_sector(backend, catalog, n, compute) for n in sorted({int(s) for s in sectors})}
        return combine_sector_manifests(per_sector), backend
