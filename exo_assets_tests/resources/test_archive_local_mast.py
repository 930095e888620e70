"""Archive backends without the simulator: local folders and MAST with the network mocked."""

import json
import shutil
import types

import pandas as pd

from exo_assets.science.catalogs import load_catalog
from exo_assets_tests.conftest import KEPLER90_FILES, KIC10797460_FILE, PI_MEN_FILE
from resources.archive import FAILED, FOUND, MISSING, LightCurveArchive
from resources.archive.local import LocalFolderBackend
from resources.archive.mast import MastBackend


def _rows(mission, star_id):
    frame = load_catalog(mission)
    return frame[frame["star_id"] == star_id]


def test_local_backend_matches_by_header_in_flat_and_mast_layouts(tmp_path, bad_fits_dir):
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in KEPLER90_FILES:
        shutil.copy(f, flat / f"renamed_{f.name[-12:]}")  # names no longer carry the KIC
    nested = tmp_path / "mastDownload" / "TESS" / "tess2018206045859-s0001-0000000261136679-0120-s"
    nested.mkdir(parents=True)
    shutil.copy(PI_MEN_FILE, nested / PI_MEN_FILE.name)

    kep = LocalFolderBackend(flat).fetch_star("KIC 11442793", "Kepler", _rows("Kepler", "KIC 11442793"))
    assert kep.status == FOUND and len(kep.paths) == 3
    tess = LocalFolderBackend(tmp_path).fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert tess.status == FOUND and tess.paths[0].endswith(PI_MEN_FILE.name)


def test_local_backend_missing_star_and_bad_files_have_reasons(bad_fits_dir):
    backend = LocalFolderBackend(bad_fits_dir)
    res = backend.fetch_star("KIC 11442793", "Kepler", _rows("Kepler", "KIC 11442793"))
    assert res.status == MISSING and "no Kepler FITS file" in res.reason
    reasons = dict((p.split("/")[-1], r) for p, r in backend.unreadable)
    assert set(reasons) == {"corrupt.fits", "truncated.fits", "empty.fits", "image.fits"}
    assert backend.stars("Kepler") == {"KIC 10797460"}


def test_local_backend_empty_or_absent_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert LocalFolderBackend(empty).fetch_star("KIC 1", "Kepler", pd.DataFrame()).status == MISSING
    res = LocalFolderBackend(tmp_path / "nope").fetch_star("KIC 1", "Kepler", pd.DataFrame())
    assert res.status == MISSING and "does not exist" in res.reason


class _FakeSearch:
    """Stands in for lightkurve's SearchResult: download_all copies a real file into the cache."""

    def __init__(self, source, fail_times, calls):
        self.source, self.fail_times, self.calls = source, fail_times, calls

    def __len__(self):
        return 1

    def download_all(self, download_dir, quality_bitmask):
        self.calls["download"] += 1
        if self.calls["download"] <= self.fail_times:
            raise ConnectionError("HTTP 503 from MAST")
        dest = f"{download_dir}/mastDownload/TESS/x/{self.source.name}"
        import pathlib

        pathlib.Path(dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.source, dest)
        return [types.SimpleNamespace(meta={"FILENAME": dest})]


def _mast(tmp_path, monkeypatch, fail_times, empty=False):
    calls = {"search": 0, "download": 0}

    def fake_search(self, star_id, mission):
        calls["search"] += 1
        return [] if empty else _FakeSearch(PI_MEN_FILE, fail_times, calls)

    monkeypatch.setattr(MastBackend, "_search", fake_search)
    sleeps = []
    backend = MastBackend(tmp_path / "cache", max_retries=3, backoff_seconds=1.5, sleep=sleeps.append)
    return backend, calls, sleeps


def test_mast_retries_with_backoff_then_succeeds_and_caches(tmp_path, monkeypatch):
    backend, calls, sleeps = _mast(tmp_path, monkeypatch, fail_times=2)
    res = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert res.status == FOUND and res.attempts == 3
    assert sleeps == [1.5, 3.0]
    # second call is served from the cache index: no search at all
    again = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert again.status == FOUND and again.attempts == 0 and calls["search"] == 3


def test_mast_failure_recorded_after_retries(tmp_path, monkeypatch):
    backend, calls, sleeps = _mast(tmp_path, monkeypatch, fail_times=99)
    res = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert res.status == FAILED and "503" in res.reason and res.attempts == 3
    assert len(sleeps) == 2


def test_mast_no_products_is_missing(tmp_path, monkeypatch):
    backend, calls, _ = _mast(tmp_path, monkeypatch, fail_times=0, empty=True)
    res = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert res.status == MISSING and "SPOC" in res.reason and calls["download"] == 0


def test_mast_corrupted_cache_file_is_fetched_again(tmp_path, monkeypatch):
    backend, calls, _ = _mast(tmp_path, monkeypatch, fail_times=0)
    res = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    with open(res.paths[0], "r+b") as fh:
        fh.truncate(1000)
    again = backend.fetch_star("TIC 261136679", "TESS", _rows("TESS", "TIC 261136679"))
    assert again.attempts == 1 and calls["download"] == 2


def test_mast_search_uses_mission_author_and_cadence(monkeypatch, tmp_path):
    seen = {}

    def fake(target, **kw):
        seen.update(kw, target=target)
        return []

    import lightkurve

    monkeypatch.setattr(lightkurve, "search_lightcurve", fake)
    MastBackend(tmp_path).fetch_star("KIC 11442793", "Kepler", _rows("Kepler", "KIC 11442793"))
    assert seen == {"target": "KIC 11442793", "mission": "Kepler", "author": "Kepler", "exptime": 1800}


def test_resource_local_manifest_records_missing_and_skipped(tmp_path):
    folder = tmp_path / "fits"
    folder.mkdir()
    shutil.copy(KIC10797460_FILE, folder)
    catalog = load_catalog("Kepler")
    rows = catalog[catalog["star_id"].isin(["KIC 10797460"])].copy()
    rows.loc[rows.index[0], "period_days"] = float("nan")  # a catalog row with a NaN period
    archive = LightCurveArchive(backend="local", local_dir=str(folder), targets_per_mission=0)
    manifest, _ = archive.fetch(rows, "Kepler")
    by_id = manifest.set_index("signal_id")
    assert by_id.loc[rows["signal_id"].iloc[0], "status"] == "skipped"
    assert "period" in by_id.loc[rows["signal_id"].iloc[0], "reason"]
    assert by_id.loc[rows["signal_id"].iloc[1], "status"] == FOUND
    assert json.loads(by_id.loc[rows["signal_id"].iloc[1], "files"])[0].endswith(KIC10797460_FILE.name)
