"""The embedded default: simulated backend through the resource, and the K2 BLS epochs it implies."""

import json

import numpy as np
import pytest

from exo_assets.science.catalogs import load_catalog
from exo_assets.science.lightcurves import read_star
from exo_assets.science.prepare import prepare_star
from exo_assets.science.simulator import read_truth
from resources.archive import FOUND, LightCurveArchive


@pytest.fixture(scope="module")
def k2_run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    archive = LightCurveArchive(cache_dir=str(cache), targets_per_mission=6, max_workers=1)
    catalog = load_catalog("K2")
    manifest, backend = archive.fetch(catalog, "K2")
    return archive, catalog, manifest, backend


def test_simulated_manifest_files_are_lightkurve_readable(k2_run):
    archive, catalog, manifest, backend = k2_run
    assert archive.provenance == "simulated"
    assert manifest["star_id"].nunique() == 6
    assert (manifest["status"] == FOUND).all()
    for star, rows in manifest.groupby("star_id"):
        lc, bad = read_star(json.loads(rows["files"].iloc[0]))
        assert bad == [] and lc.star_id == star and lc.mission == "K2"
        assert lc.header.get("SIMULATD") in (True, "T", 1)


def test_simulated_files_are_reused_from_cache(k2_run):
    archive, catalog, manifest, _ = k2_run
    again, _ = archive.fetch(catalog, "K2")
    assert (again["attempts"] == 0).all()
    assert again["files"].tolist() == manifest["files"].tolist()


@pytest.mark.slow
def test_k2_missing_epochs_are_recovered_by_bls(k2_run):
    """K2 has no catalog epoch: the BLS epoch at the catalog period matches the injected one."""
    archive, catalog, manifest, backend = k2_run
    checked = 0
    for star, rows in manifest.groupby("star_id"):
        signals = catalog[catalog["star_id"] == star]
        truth = read_truth(star, "K2", backend.cache_dir)["signals"]
        result = prepare_star(json.loads(rows["files"].iloc[0]), signals)
        assert result.status == "ok", result.reason
        for _, eph in result.ephemerides.iterrows():
            t = truth[eph["signal_id"]]
            if t["mechanism"] != "planet" or t.get("expected_snr", 0) < 15:
                continue
            offset = (eph["epoch"] - t["t0"] + 0.5 * t["period"]) % t["period"] - 0.5 * t["period"]
            assert eph["epoch_source"] == "bls"
            assert abs(offset) < 0.5 * t["duration_days"]
            checked += 1
    assert checked >= 1
