"""Faults: MAST timeouts and HTTP errors, corrupted cache files, crashes in the middle of a
materialization, idempotent reruns, and bit-for-bit reproducibility of features and models.

The network is mocked (lightkurve's search is replaced); retries use backoff 0. Pipeline tests
materialize catalog -> raw_fits -> cleaned_curves -> features for 5 simulated TESS stars into
temporary stores; the model test reuses the session's `materialized_home`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import types
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import requests

from exo_assets.assets import features, ingest, models
from exo_assets.science.catalogs import load_catalog
from exo_assets.assets.ingest import star_curve_paths
from exo_assets.storage import read_npz
from exo_assets.storage.curves import read_star_curve
from exo_assets_tests.conftest import PI_MEN_FILE
from resources import ComputeResource, ExoIOManager, LightCurveArchive
from resources.archive import FAILED, FOUND
from resources.archive.base import index_path
from resources.archive.mast import MastBackend
from resources.io_managers import read_bundle

FEATURE_ASSETS = [ingest.catalog, ingest.raw_fits, ingest.cleaned_curves, features.features]
TIMEOUT_STAR, FLAKY_STAR, GONE_STAR = "TIC 410153553", "TIC 261136679", "TIC 50365310"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _flip_byte(path: Path) -> None:
    """Corrupt a file without changing its size (a size check alone cannot see this)."""
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


# --- MAST: timeouts and HTTP errors ---------------------------------------------------------------

class _Search:
    """lightkurve SearchResult stand-in; download_all copies a real TESS file, or raises."""

    def __init__(self, star, log, fail):
        self.star, self.log, self.fail = star, log, fail

    def __len__(self):
        return 1

    def download_all(self, download_dir, quality_bitmask):
        with self.log["lock"]:
            self.log["downloads"][self.star] = self.log["downloads"].get(self.star, 0) + 1
            n = self.log["downloads"][self.star]
        if self.fail(n):
            response = requests.Response()
            response.status_code = 503 if self.star == FLAKY_STAR else 404
            raise requests.HTTPError(f"{response.status_code} Server Error for url: https://mast.stsci.edu/...",
                                     response=response)
        dest = Path(download_dir) / "mastDownload" / "TESS" / self.star.replace(" ", "_") / PI_MEN_FILE.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PI_MEN_FILE, dest)
        return [types.SimpleNamespace(meta={"FILENAME": str(dest)})]


@pytest.fixture
def fake_mast(monkeypatch):
    """MAST mocked per star: one always times out, one answers HTTP 503 twice then works, one 404s."""
    import lightkurve

    log = {"lock": threading.Lock(), "downloads": {}, "searches": {}}

    def search(target, **kw):
        with log["lock"]:
            log["searches"][target] = log["searches"].get(target, 0) + 1
        if target == TIMEOUT_STAR:
            raise requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='mast.stsci.edu'): Read timed out.")
        fail = {FLAKY_STAR: lambda n: n <= 2, GONE_STAR: lambda n: True}.get(target, lambda n: False)
        return _Search(target, log, fail)

    monkeypatch.setattr(lightkurve, "search_lightcurve", search)
    return log


def _rows(*stars):
    catalog = load_catalog("TESS")
    return catalog[catalog["star_id"].isin(stars)]


def test_mast_timeouts_and_http_errors_are_retried_then_recorded(tmp_path, fake_mast):
    archive = LightCurveArchive(backend="mast", cache_dir=str(tmp_path), targets_per_mission=0, max_retries=3,
                                backoff_seconds=0, max_workers=3)
    manifest, _ = archive.fetch(_rows(TIMEOUT_STAR, FLAKY_STAR, GONE_STAR), "TESS")
    by_star = manifest.drop_duplicates("star_id").set_index("star_id")
    assert by_star.loc[TIMEOUT_STAR, "status"] == FAILED and by_star.loc[TIMEOUT_STAR, "attempts"] == 3
    assert "after 3 tries" in by_star.loc[TIMEOUT_STAR, "reason"]
    assert "ReadTimeout" in by_star.loc[TIMEOUT_STAR, "reason"]
    assert by_star.loc[GONE_STAR, "status"] == FAILED and "HTTPError: 404" in by_star.loc[GONE_STAR, "reason"]
    assert by_star.loc[FLAKY_STAR, "status"] == FOUND and by_star.loc[FLAKY_STAR, "attempts"] == 3
    assert fake_mast["searches"] == {TIMEOUT_STAR: 3, FLAKY_STAR: 3, GONE_STAR: 3}
    # the next run uses the cache for the star that made it and retries only the others
    again, _ = archive.fetch(_rows(TIMEOUT_STAR, FLAKY_STAR, GONE_STAR), "TESS")
    assert again.drop_duplicates("star_id").set_index("star_id").loc[FLAKY_STAR, "attempts"] == 0
    assert fake_mast["searches"] == {TIMEOUT_STAR: 6, FLAKY_STAR: 3, GONE_STAR: 6}


def test_mast_timeout_backoff_doubles(tmp_path, fake_mast):
    sleeps = []
    backend = MastBackend(tmp_path, max_retries=4, backoff_seconds=0.25, sleep=sleeps.append)
    result = backend.fetch_star(TIMEOUT_STAR, "TESS", _rows(TIMEOUT_STAR))
    assert result.status == FAILED and sleeps == [0.25, 0.5, 1.0]


# --- corrupted cache files --------------------------------------------------------------------------

def test_corrupted_mast_cache_file_same_size_is_detected_and_fetched_again(tmp_path, fake_mast):
    backend = MastBackend(tmp_path, max_retries=3, backoff_seconds=0, sleep=lambda s: None)
    first = backend.fetch_star(FLAKY_STAR, "TESS", _rows(FLAKY_STAR))
    assert first.status == FOUND and fake_mast["downloads"][FLAKY_STAR] == 3
    entry = json.loads(index_path(tmp_path, "TESS", FLAKY_STAR).read_text())["files"][0]
    assert entry["sha256"] == _sha(first.paths[0]) == _sha(PI_MEN_FILE)
    assert backend.fetch_star(FLAKY_STAR, "TESS", _rows(FLAKY_STAR)).attempts == 0  # intact: cache hit
    _flip_byte(Path(first.paths[0]))
    again = backend.fetch_star(FLAKY_STAR, "TESS", _rows(FLAKY_STAR))
    assert again.status == FOUND and again.attempts == 1 and fake_mast["downloads"][FLAKY_STAR] == 4
    assert _sha(again.paths[0]) == _sha(PI_MEN_FILE)


def test_corrupted_simulated_file_is_regenerated_identically(tmp_path):
    archive = LightCurveArchive(cache_dir=str(tmp_path), targets_per_mission=0, kepler_quarters=1, max_workers=1)
    catalog = load_catalog("Kepler")
    rows = catalog[catalog["star_id"] == catalog["star_id"].iloc[0]]
    manifest, _ = archive.fetch(rows, "Kepler")
    path = Path(json.loads(manifest["files"].iloc[0])[0])
    original = _sha(path)
    _flip_byte(path)
    again, _ = archive.fetch(rows, "Kepler")
    assert again["status"].iloc[0] == FOUND and again["attempts"].iloc[0] == 1  # simulated again, not served
    assert _sha(path) == original


# --- crashes, reruns, reproducibility ---------------------------------------------------------------

def _resources(store: Path, cache: Path) -> dict:
    return {"archive": LightCurveArchive(cache_dir=str(cache), targets_per_mission=5, sim_seed=7, selection_seed=7),
            "io_manager": ExoIOManager(base_dir=str(store)), "compute": ComputeResource(max_workers=2)}


def _run(store, cache, instance=None, selection=None, run_config=None, raise_on_error=True):
    return dg.materialize(FEATURE_ASSETS, resources=_resources(store, cache), partition_key="TESS",
                          instance=instance or dg.DagsterInstance.ephemeral(), selection=selection,
                          run_config=run_config or {}, raise_on_error=raise_on_error)


def _stored_files(store: Path) -> dict[str, bytes]:
    """Every stored file (bundle version folders named by their table, not their version)."""
    out = {}
    for path in sorted(store.rglob("*")):
        if path.is_file() and not path.name.endswith(".bundle.json"):
            rel = path.relative_to(store).parts
            rel = [p for p in rel if not (len(p) > 16 and p[8] == "T" and "-" in p)]  # drop the version folder
            out["/".join(rel)] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    instance = dg.DagsterInstance.ephemeral()
    result = _run(root / "store", root / "cache", instance)
    assert result.success
    return root, instance, result


def test_rerun_is_idempotent(first_run):
    root, instance, first = first_run
    store, cache = root / "store", root / "cache"
    before = _stored_files(store)
    cache_files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (cache / "simulated").rglob("*.fits")}
    again = _run(store, cache, instance)
    assert again.success
    after = _stored_files(store)
    # byte for byte: catalog, cleaned-curve tables, feature table, CNN views; the raw_fits manifest
    # differs only in `attempts` (tries made by this run: 0 = served from the cache)
    manifest = "raw_fits/TESS.parquet"
    assert {k: v for k, v in after.items() if k != manifest} == {k: v for k, v in before.items() if k != manifest}
    assert len(list((store / "cleaned_curves" / "TESS.bundle").iterdir())) == 1  # old version pruned
    assert not [p for p in store.rglob(".*")]  # no temporary files left
    # the cache is reused as is, nothing simulated again
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (cache / "simulated").rglob("*.fits")} == cache_files
    m1, m2 = first.output_for_node("raw_fits"), again.output_for_node("raw_fits")
    assert (m2["attempts"] == 0).all()
    pd.testing.assert_frame_equal(m1.drop(columns="attempts"), m2.drop(columns="attempts"))


def test_same_inputs_and_seed_give_byte_identical_features(first_run, tmp_path):
    root, _, _ = first_run
    fresh = _run(tmp_path / "store", tmp_path / "cache")  # a new cache: every star simulated again
    assert fresh.success
    for rel in ("feature_table/TESS.parquet", "cnn_tensors/TESS.npz", "catalog/TESS.parquet"):
        assert (tmp_path / "store" / rel).read_bytes() == (root / "store" / rel).read_bytes(), rel


def test_crash_while_writing_leaves_previous_values_readable(first_run, tmp_path, monkeypatch):
    root, _, _ = first_run
    store = tmp_path / "store"
    shutil.copytree(root / "store", store)
    before = _stored_files(store)
    old_views = read_npz(store / "cnn_tensors" / "TESS.npz")
    instance = dg.DagsterInstance.ephemeral()
    real_to_parquet = pd.DataFrame.to_parquet

    def half_written_parquet(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1" + b"\0" * 100)  # the first bytes made it to disk, then the crash
        raise OSError("No space left on device")

    # 1. the cleaned-curves bundle crashes on its first table: the previous bundle stays current
    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_written_parquet)
    result = _run(store, root / "cache", instance, selection=["cleaned_curves"], raise_on_error=False,
                  run_config={"ops": {"cleaned_curves": {"config": {"sigma_upper": 3.0}}}})
    assert not result.success
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real_to_parquet)
    assert _stored_files(store) == before
    kept = star_curve_paths(read_bundle(store / "cleaned_curves" / "TESS.bundle.json"))
    assert kept and all(len(read_star_curve(path)) > 2000 for path in kept.values())

    # 2. the features step writes feature_table, then crashes writing cnn_tensors: the old NPZ stays
    def half_written_npz(file, *args, **kwargs):
        file.write(b"PK\x03\x04")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", half_written_npz)
    result = _run(store, root / "cache", instance, selection=["feature_table", "cnn_tensors"], raise_on_error=False,
                  run_config={"ops": {"features": {"config": {"local_bins": 101}}}})
    assert not result.success
    monkeypatch.undo()
    views = read_npz(store / "cnn_tensors" / "TESS.npz")
    assert views["local"].shape[1] == 201
    np.testing.assert_array_equal(views["local"], old_views["local"])
    assert not [p for p in store.rglob(".*")]  # temporary files removed
    # Dagster records what is stored: a new feature_table materialization, none for cnn_tensors
    assert instance.get_latest_materialization_event(dg.AssetKey("feature_table")) is not None
    assert instance.get_latest_materialization_event(dg.AssetKey("cnn_tensors")) is None


def test_same_inputs_and_seed_give_the_same_model_hash(materialized_home, tmp_path):
    home, _ = materialized_home
    store = tmp_path / "store"
    for rel in ("feature_table/TESS.parquet", "holdout_split/TESS.json"):
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(home / "storage" / rel, store / rel)
    assets = dg.load_assets_from_modules([ingest, features, models])
    result = dg.materialize(assets, selection=["calibrated_booster"], partition_key="TESS",
                            resources={"archive": LightCurveArchive(), "io_manager": ExoIOManager(base_dir=str(store)),
                                       "compute": ComputeResource(max_workers=1)},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    stored = read_bundle(home / "storage" / "calibrated_booster" / "TESS.bundle.json")
    retrained = read_bundle(store / "calibrated_booster" / "TESS.bundle.json")
    assert hashlib.sha256(retrained.files["model.lgb.txt"]).hexdigest() == \
        hashlib.sha256(stored.files["model.lgb.txt"]).hexdigest()
    assert retrained.attrs["input_hashes"] == stored.attrs["input_hashes"]
    pd.testing.assert_frame_equal(retrained["oof"], stored["oof"])
