"""New-TESS-sector sensor, the refresh after sector downloads, the TOI catalog schedule, and the per-sector
archive code they drive (simulated, local folder, MAST with the network mocked)."""

import datetime as dt
import json
import shutil
import types

import dagster as dg
import pandas as pd
import pytest
from astropy.io import fits

from exo_assets.assets import ingest
from exo_assets.automation import (
    CATALOG_JOB,
    CATALOG_SCHEDULE,
    NEW_SECTOR_SENSOR,
    REFRESH_SENSOR,
    SECTOR_JOB,
    highest_sector,
)
from exo_assets.definitions import MISSION_JOB, build_defs
from exo_assets.partitions import TESS_SECTORS, sector_from_key
from exo_assets.science.catalogs import load_catalog
from exo_assets_tests.conftest import LHS3844_FILE, PI_MEN_FILE
from resources import ComputeResource, ExoIOManager, LightCurveArchive
from resources.archive import FAILED, FOUND, MISSING, SKIPPED
from resources.archive.base import combine_sector_manifests, manifest_frame
from resources.archive.local import LocalFolderBackend
from resources.archive.mast import MastBackend

ONE_WORKER = ComputeResource(max_workers=1)


class FakeArchive(LightCurveArchive):
    """An archive whose TESS sector list a test sets directly (counts the calls)."""

    sectors: list[int] = []

    def available_tess_sectors(self, catalog=None):
        return list(self.sectors)


def _defs(archive, tmp_path):
    return build_defs(archive=archive, compute=ONE_WORKER)


def _with_tess_catalog(instance):
    instance.report_runless_asset_event(dg.AssetMaterialization("catalog", partition="TESS"))


def _evaluate_sector_sensor(defs, instance, archive, cursor):
    sensor = defs.resolve_sensor_def(NEW_SECTOR_SENSOR)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"archive": archive})
    return sensor(context)


def _apply(instance, result):
    """What the sensor daemon does with a SensorResult's partition requests."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


# --- the new-sector sensor ----------------------------------------------------------------------


def test_sensor_new_sector_adds_partition_requests_download_and_cursor_persists(tmp_path):
    with dg.instance_for_test() as instance:
        _with_tess_catalog(instance)
        archive = LightCurveArchive(cache_dir=str(tmp_path / "cache"), tess_sectors=1)
        defs = _defs(archive, tmp_path)

        first = _evaluate_sector_sensor(defs, instance, archive, None)
        assert isinstance(first, dg.SensorResult)
        assert [r.partition_key for r in first.run_requests] == ["1"]
        assert [(r.partitions_def_name, list(r.partition_keys)) for r in first.dynamic_partitions_requests] == \
            [(TESS_SECTORS, ["1"])]
        assert first.cursor == "1"
        _apply(instance, first)

        # same archive, cursor from the previous tick: nothing to do
        again = _evaluate_sector_sensor(defs, instance, archive, first.cursor)
        assert isinstance(again, dg.SkipReason) and "no TESS sector after 1" in again.skip_message

        # the simulated archive gains two sectors: both are added and downloaded, the cursor moves to 3
        grown = LightCurveArchive(cache_dir=str(tmp_path / "cache"), tess_sectors=3)
        third = _evaluate_sector_sensor(defs, instance, grown, first.cursor)
        assert [r.partition_key for r in third.run_requests] == ["2", "3"]
        assert list(third.dynamic_partitions_requests[0].partition_keys) == ["2", "3"]
        assert third.cursor == "3"
        assert {r.run_key for r in third.run_requests} == {"tess-sector-2", "tess-sector-3"}
        _apply(instance, third)
        assert instance.get_dynamic_partitions(TESS_SECTORS) == ["1", "2", "3"]
        assert isinstance(_evaluate_sector_sensor(defs, instance, grown, third.cursor), dg.SkipReason)


def test_sensor_keeps_highest_sector_and_does_not_re_add_existing_keys(tmp_path):
    with dg.instance_for_test() as instance:
        _with_tess_catalog(instance)
        instance.add_dynamic_partitions(TESS_SECTORS, ["5"])  # added by hand in the UI
        archive = FakeArchive(sectors=[3, 4, 5, 6])
        defs = _defs(archive, tmp_path)
        result = _evaluate_sector_sensor(defs, instance, archive, "4")
        assert [r.partition_key for r in result.run_requests] == ["5", "6"]  # 3 and 4 were already seen
        assert list(result.dynamic_partitions_requests[0].partition_keys) == ["6"]
        assert result.cursor == "6"
        # an archive that now shows fewer sectors (outage, reprocessing) never lowers the cursor
        shrunk = _evaluate_sector_sensor(defs, instance, FakeArchive(sectors=[1, 2]), "6")
        assert isinstance(shrunk, dg.SkipReason) and "after 6" in shrunk.skip_message


def test_sensor_waits_for_the_tess_catalog_and_rejects_a_bad_cursor(tmp_path):
    with dg.instance_for_test() as instance:
        archive = FakeArchive(sectors=[1, 2])
        defs = _defs(archive, tmp_path)
        waiting = _evaluate_sector_sensor(defs, instance, archive, None)
        assert isinstance(waiting, dg.SkipReason) and "catalog[TESS]" in waiting.skip_message
        assert instance.get_dynamic_partitions(TESS_SECTORS) == []
        with pytest.raises(ValueError, match="highest TESS sector seen"):
            _evaluate_sector_sensor(defs, instance, archive, "sector-7")
    assert highest_sector(None) == 0 and highest_sector("12") == 12


def test_sector_partition_keys_must_be_sector_numbers():
    assert sector_from_key("27") == 27
    for bad in ("0", "abc", "-3", "2.5", "²"):
        with pytest.raises(ValueError, match="TESS sector number"):
            sector_from_key(bad)


# --- the refresh after sector downloads ---------------------------------------------------------


@pytest.mark.slow
def test_refresh_sensor_requests_the_tess_mission_run_once_downloads_are_done(tmp_path):
    with dg.instance_for_test() as instance:
        defs = _defs(FakeArchive(sectors=[1]), tmp_path)
        sensor = defs.resolve_sensor_def(REFRESH_SENSOR)
        nothing = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(nothing, dg.SkipReason)

        instance.add_dynamic_partitions(TESS_SECTORS, ["1", "2"])
        for key in ("1", "2"):
            instance.report_runless_asset_event(dg.AssetMaterialization("tess_sector_fits", partition=key))
        # a sector download still queued: wait, cursor unchanged
        queued = instance.create_run_for_job(defs.resolve_job_def(SECTOR_JOB), tags={"dagster/partition": "3"})
        assert queued.job_name == SECTOR_JOB
        waiting = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(waiting, dg.SkipReason) and queued.run_id in waiting.skip_message
        instance.report_run_canceled(queued)

        result = sensor(dg.build_sensor_context(instance=instance))
        assert len(result.run_requests) == 1  # two sector materializations -> one refresh
        request = result.run_requests[0]
        assert request.partition_key == "TESS"
        assert request.tags["exo-assets/tess_sector"] == "2"
        assert sensor.job_name == MISSION_JOB
        # cursor persists: the same materializations do not trigger again, a new one does
        assert isinstance(sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor)), dg.SkipReason)
        instance.report_runless_asset_event(dg.AssetMaterialization("tess_sector_fits", partition="2"))
        assert sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor)).run_requests


# --- the TOI catalog schedule and the code location ---------------------------------------------


def test_catalog_schedule_requests_the_tess_catalog_partition_daily(tmp_path):
    defs = _defs(FakeArchive(), tmp_path)
    schedule = defs.resolve_schedule_def(CATALOG_SCHEDULE)
    assert schedule.cron_schedule == "0 6 * * *" and schedule.job_name == CATALOG_JOB
    when = dt.datetime(2026, 1, 2, 6, 0, tzinfo=dt.timezone.utc)
    with dg.instance_for_test() as instance:
        request = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert request.partition_key == "TESS" and "2026-01-02T06:00" in request.run_key
    job = defs.resolve_job_def(CATALOG_JOB)
    assert {n.name for n in job.graph.nodes} == {"catalog"}


def test_automation_is_stopped_by_default_and_the_mission_job_has_no_sector_asset(tmp_path):
    defs = _defs(FakeArchive(), tmp_path)
    for sensor in defs.get_repository_def().sensor_defs:  # incl. default_automation_condition_sensor
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resolve_schedule_def(CATALOG_SCHEDULE).default_status == dg.DefaultScheduleStatus.STOPPED
    mission_nodes = {n.name for n in defs.resolve_job_def(MISSION_JOB).graph.nodes}
    assert "tess_sector_fits" not in mission_nodes and {"catalog", "raw_fits", "blend"} <= mission_nodes
    graph = defs.get_repository_def().asset_graph
    sector_node = graph.get(dg.AssetKey("tess_sector_fits"))
    assert isinstance(sector_node.partitions_def, dg.DynamicPartitionsDefinition)
    assert dg.AssetKey("raw_fits") in sector_node.child_keys


def test_report_summary_is_requested_once_after_any_final_report_partition_updates(tmp_path):
    """Declarative automation: a new final_report[TESS] (e.g. the sector refresh) requests report_summary,
    even though Kepler and K2 were never materialized; nothing else is requested and it fires once."""
    defs = _defs(FakeArchive(), tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert result.total_requested == 0
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="final_report", partition="TESS"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.total_requested == 1 and result.get_num_requested(dg.AssetKey("report_summary")) == 1
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.total_requested == 0


# --- the per-sector asset and raw_fits[TESS] through Dagster ------------------------------------


@pytest.mark.slow
def test_sector_download_then_raw_fits_includes_every_registered_sector(tmp_path):
    archive = LightCurveArchive(cache_dir=str(tmp_path / "cache"), targets_per_mission=4, tess_sectors=2,
                                max_workers=1)
    defs = _defs(archive, tmp_path)
    with dg.instance_for_test() as instance:
        resources = {"archive": archive, "compute": ONE_WORKER, "io_manager": ExoIOManager()}
        assert dg.materialize([ingest.catalog], partition_key="TESS", instance=instance, resources=resources).success
        instance.add_dynamic_partitions(TESS_SECTORS, ["2"])
        result = defs.resolve_job_def(SECTOR_JOB).execute_in_process(partition_key="2", instance=instance)
        assert result.success
        sector2 = result.output_for_node("tess_sector_fits")
        found = sector2[sector2["status"] == FOUND]
        usable = sector2[sector2["status"] != SKIPPED]  # a catalog row with no period is skipped
        assert (sector2["sector"] == 2).all() and len(found) == len(usable) > 0
        n_stars = found["star_id"].nunique()
        files = [f for fs in found["files"] for f in json.loads(fs)]
        assert files and all("tess-s0002-" in f for f in files)  # only sector 2 was fetched
        mat = instance.get_latest_materialization_event(dg.AssetKey("tess_sector_fits")).asset_materialization
        assert mat.partition == "2" and mat.metadata["provenance"].value == "simulated"

        instance.add_dynamic_partitions(TESS_SECTORS, ["1"])
        raw = dg.materialize([ingest.catalog, ingest.raw_fits], partition_key="TESS", instance=instance,
                             resources=resources)
        manifest = raw.output_for_node("raw_fits")
        ok = manifest[manifest["status"] == FOUND].drop_duplicates("star_id")
        assert len(ok) == n_stars and (ok["n_files"] == 2).all()
        names = sorted(f.split("/")[-1][:10] for fs in ok["files"] for f in json.loads(fs))
        assert names.count("tess-s0001") == n_stars and names.count("tess-s0002") == n_stars
        assert set(files) <= {f for fs in ok["files"] for f in json.loads(fs)}  # the downloaded sector-2 files
        raw_mat = instance.get_latest_materialization_event(dg.AssetKey("raw_fits")).asset_materialization
        assert raw_mat.metadata["tess_sectors"].value == "1, 2"


@pytest.mark.slow
def test_sector_asset_with_a_key_that_is_not_a_sector_fails_clearly_and_stores_nothing(tmp_path):
    archive = LightCurveArchive(cache_dir=str(tmp_path / "cache"), targets_per_mission=2)
    defs = _defs(archive, tmp_path)
    with dg.instance_for_test() as instance:
        assert dg.materialize([ingest.catalog], partition_key="TESS", instance=instance,
                              resources={"archive": archive, "compute": ONE_WORKER,
                                         "io_manager": ExoIOManager()}).success
        instance.add_dynamic_partitions(TESS_SECTORS, ["latest"])
        result = defs.resolve_job_def(SECTOR_JOB).execute_in_process(partition_key="latest", instance=instance,
                                                                     raise_on_error=False)
        assert not result.success
        failure = result.failure_data_for_node("tess_sector_fits")
        assert "TESS sector number" in failure.error.message
        assert instance.get_latest_materialization_event(dg.AssetKey("tess_sector_fits")) is None
        assert not (tmp_path / "cache").exists()


# --- the archive's per-sector code --------------------------------------------------------------


def test_simulated_sector_is_added_without_touching_cached_sectors(tmp_path):
    catalog = load_catalog("TESS")
    one = LightCurveArchive(cache_dir=str(tmp_path), targets_per_mission=3, tess_sectors=1, max_workers=1)
    assert one.available_tess_sectors() == [1]
    first, _ = one.fetch_sector(catalog, 1, ONE_WORKER)
    beyond, _ = one.fetch_sector(catalog, 2, ONE_WORKER)
    usable = beyond[beyond["status"] != SKIPPED]
    assert (usable["status"] == MISSING).all() and usable["reason"].str.contains("sectors 1..1").all()

    two = LightCurveArchive(cache_dir=str(tmp_path), targets_per_mission=3, tess_sectors=2, max_workers=1)
    assert two.available_tess_sectors() == [1, 2]
    again, _ = two.fetch_sector(catalog, 1, ONE_WORKER)
    found = again[again["status"] == FOUND]
    assert len(found) and (found["attempts"] == 0).all()  # sector 1 served from the cache, not re-simulated
    assert list(found["files"]) == list(first.loc[first["status"] == FOUND, "files"])
    second, _ = two.fetch_sector(catalog, 2, ONE_WORKER)
    path = json.loads(second.loc[second["status"] == FOUND, "files"].iloc[0])[0]
    with fits.open(path) as hdul:
        assert hdul[0].header["SECTOR"] == 2
        t = hdul[1].data["TIME"]
    assert 1352.0 < t[0] < 1353.5  # sector 2 starts 27.4 d after sector 1 (BTJD 1325.3)


def test_combine_sector_manifests_statuses():
    def rows(status, reason="", files=(), attempts=1):
        return {"signal_id": "s1", "star_id": "TIC 1", "status": status, "reason": reason, "files": json.dumps(files),
                "n_files": len(files), "n_bytes": 10 * len(files), "attempts": attempts, "backend": "mast"}

    def combine(*parts):
        return combine_sector_manifests({i + 1: manifest_frame([p]) for i, p in enumerate(parts)}).iloc[0]

    found = combine(rows(FOUND, files=["a.fits"]), rows(MISSING, "not observed"), rows(FOUND, files=["c.fits"]))
    assert found["status"] == FOUND and json.loads(found["files"]) == ["a.fits", "c.fits"]
    assert found["n_bytes"] == 20 and found["attempts"] == 3
    failed = combine(rows(MISSING, "x"), rows(FAILED, "HTTP 503"))
    assert failed["status"] == FAILED and "[2]" in failed["reason"] and "HTTP 503" in failed["reason"]
    missing = combine(rows(MISSING, "x"), rows(MISSING, "y"))
    assert missing["status"] == MISSING and "[1, 2]" in missing["reason"]
    skipped = combine(rows(SKIPPED, "catalog period is missing", attempts=0))
    assert skipped["status"] == SKIPPED and "period" in skipped["reason"]
    with pytest.raises(ValueError):
        combine_sector_manifests({})


def test_local_folder_sectors_come_from_the_fits_headers(tmp_path):
    folder = tmp_path / "fits"
    folder.mkdir()
    shutil.copy(PI_MEN_FILE, folder / "pimen_s1.fits")
    shutil.copy(LHS3844_FILE, folder / "lhs_s1.fits")
    shutil.copy(PI_MEN_FILE, folder / "pimen_s4.fits")
    fits.setval(folder / "pimen_s4.fits", "SECTOR", value=4, ext=0)
    backend = LocalFolderBackend(folder)
    assert backend.tess_sectors() == [1, 4]
    assert backend.tess_sectors(["TIC 410153553"]) == [1]
    res = backend.fetch_star_sector("TIC 261136679", pd.DataFrame(), 4)
    assert res.status == FOUND and [p.split("/")[-1] for p in res.paths] == ["pimen_s4.fits"]
    none = backend.fetch_star_sector("TIC 410153553", pd.DataFrame(), 4)
    assert none.status == MISSING and "sector 4" in none.reason
    archive = LightCurveArchive(backend="local", local_dir=str(folder), targets_per_mission=0)
    assert archive.available_tess_sectors() == [1, 4]
    manifest, _ = archive.fetch_sectors(load_catalog("TESS"), [1, 4])  # what raw_fits[TESS] does
    stars = manifest[manifest["status"] == FOUND].drop_duplicates("star_id").set_index("star_id")
    assert stars.loc["TIC 261136679", "n_files"] == 2 and stars.loc["TIC 410153553", "n_files"] == 1
    assert LocalFolderBackend(tmp_path / "absent").tess_sectors() == []


class _Result:
    """Stands in for lightkurve's SearchResult: `mission` names like "TESS Sector 05"."""

    def __init__(self, names):
        self.mission = list(names)

    def __len__(self):
        return len(self.mission)


def test_mast_sectors_from_search_results_with_network_mocked(tmp_path, monkeypatch):
    by_star = {"TIC 1": ["TESS Sector 01", "TESS Sector 27"], "TIC 2": ["TESS Sector 68"], "TIC 3": []}
    calls = []

    def fake_search(self, star_id, mission):
        calls.append(star_id)
        if star_id == "TIC 4":
            raise ConnectionError("HTTP 503 from MAST")
        return _Result(by_star[star_id])

    monkeypatch.setattr(MastBackend, "_search", fake_search)
    backend = MastBackend(tmp_path, max_retries=2, backoff_seconds=0.0, sleep=lambda s: None)
    assert backend.tess_sectors(["TIC 1", "TIC 2", "TIC 3", "TIC 4"]) == [1, 27, 68]  # one star down: the rest count
    assert calls.count("TIC 4") == 2  # retried
    with pytest.raises(ConnectionError, match="every MAST search failed"):
        backend.tess_sectors(["TIC 4"])

    catalog = load_catalog("TESS")
    archive = LightCurveArchive(backend="mast", cache_dir=str(tmp_path / "c"), targets_per_mission=2)
    monkeypatch.setattr(MastBackend, "_search", lambda self, star_id, mission: _Result(["TESS Sector 05"]))
    assert archive.available_tess_sectors(catalog) == [5]
    with pytest.raises(ValueError, match="needs the TESS catalog"):
        archive.available_tess_sectors()


def test_mast_fetches_one_sector_and_caches_it_per_sector(tmp_path, monkeypatch):
    import lightkurve

    seen = []

    class _Download(_Result):
        def download_all(self, download_dir, quality_bitmask):
            dest = tmp_path / "dl" / PI_MEN_FILE.name
            dest.parent.mkdir(exist_ok=True)
            shutil.copy(PI_MEN_FILE, dest)
            return [types.SimpleNamespace(meta={"FILENAME": str(dest)})]

    def fake(target, **kw):
        seen.append(kw)
        return _Download(["TESS Sector 01"]) if kw.get("sector") == 1 else _Result([])

    monkeypatch.setattr(lightkurve, "search_lightcurve", fake)
    backend = MastBackend(tmp_path / "cache")
    res = backend.fetch_star_sector("TIC 261136679", pd.DataFrame(), 1)
    assert res.status == FOUND and seen[-1] == {"mission": "TESS", "author": "SPOC", "exptime": 120, "sector": 1}
    again = backend.fetch_star_sector("TIC 261136679", pd.DataFrame(), 1)
    assert again.attempts == 0 and len(seen) == 1  # per-sector cache index: no second search
    other = backend.fetch_star_sector("TIC 261136679", pd.DataFrame(), 2)
    assert other.status == MISSING and "in sector 2" in other.reason
