"""catalog -> raw_fits -> cleaned_curves materialized through Dagster on real FITS files (local backend)."""

import shutil

import dagster as dg
import numpy as np
import pytest

from exo_assets.assets import ingest
from exo_assets.storage.curves import read_star_curve
from exo_assets_tests.conftest import KEPLER90_FILES, KIC10797460_FILE
from resources import ComputeResource, ExoIOManager, LightCurveArchive

ASSETS = [ingest.catalog, ingest.raw_fits, ingest.cleaned_curves]


@pytest.fixture
def local_folder(tmp_path, bad_fits_dir):
    folder = tmp_path / "fits"
    shutil.copytree(bad_fits_dir, folder)  # good.fits (KIC 10797460) + corrupt/truncated/empty/image
    for f in KEPLER90_FILES:
        shutil.copy(f, folder)
    return folder


def _materialize(tmp_path, folder, **archive_kw):
    resources = {
        "archive": LightCurveArchive(backend="local", local_dir=str(folder), targets_per_mission=0, **archive_kw),
        "io_manager": ExoIOManager(base_dir=str(tmp_path / "store")),
        "compute": ComputeResource(max_workers=1),
    }
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ASSETS, resources=resources, partition_key="Kepler", instance=instance,
                            run_config={"ops": {"cleaned_curves": {"config": {"max_workers": 1}}}})
    return result, instance


@pytest.mark.slow
def test_pipeline_on_real_kepler_files_with_bad_files_in_folder(tmp_path, local_folder):
    result, _ = _materialize(tmp_path, local_folder)
    assert result.success
    manifest = result.output_for_node("raw_fits")
    # the two stars that have readable files; every one of their signals appears once
    assert set(manifest["star_id"]) == {"KIC 11442793", "KIC 10797460"}
    assert (manifest["status"] == "found").all()
    assert manifest.loc[manifest["star_id"] == "KIC 11442793", "n_files"].iloc[0] == 3

    bundle = result.output_for_node("cleaned_curves")
    stars = bundle["stars"].set_index("star_id")
    assert (stars["status"] == "ok").all()
    paths = ingest.star_curve_paths(bundle)
    assert set(paths) == {"KIC 11442793", "KIC 10797460"}
    k90 = read_star_curve(paths["KIC 11442793"])
    assert len(k90) > 9000 and np.all(np.diff(k90.time) > 0)
    assert abs(np.median(k90.flux) - 1) < 1e-3
    assert k90.flux.dtype == np.float32 and set(np.unique(k90.segment)) == {3, 4, 5}
    assert stars.loc["KIC 11442793", "n_points"] == len(k90)
    assert set(bundle["ephemerides"]["epoch_source"]) == {"catalog"}

    mats = result.asset_materializations_for_node("raw_fits")
    md = mats[0].metadata
    assert md["provenance"].value == "local"
    assert all(name in md["unreadable_files"].value for name in ("corrupt.fits", "truncated.fits", "empty.fits", "image.fits"))


@pytest.mark.slow
def test_star_with_only_a_bad_file_is_recorded_not_fatal(tmp_path, local_folder):
    # KIC 10797460's only file is replaced by a corrupt copy with a valid header block
    good = local_folder / "good.fits"
    data = good.read_bytes()
    good.write_bytes(data[:2880 * 2] + b"\0" * (len(data) - 2880 * 2))
    result, _ = _materialize(tmp_path, local_folder)
    assert result.success
    stars = result.output_for_node("cleaned_curves")["stars"].set_index("star_id")
    assert stars.loc["KIC 11442793", "status"] == "ok"
    assert stars.loc["KIC 10797460", "status"] == "failed"
    assert stars.loc["KIC 10797460", "reason"] != ""


def test_empty_folder_gives_empty_but_valid_tables(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result, _ = _materialize(tmp_path, empty)
    assert result.success
    assert len(result.output_for_node("raw_fits")) == 0
    bundle = result.output_for_node("cleaned_curves")
    assert ingest.star_curve_paths(bundle) == {} and len(bundle["stars"]) == 0


@pytest.mark.slow
def test_failed_rematerialization_keeps_previous_value(tmp_path, local_folder, monkeypatch):
    result, instance = _materialize(tmp_path, local_folder)
    assert result.success
    pointer = tmp_path / "store" / "cleaned_curves" / "Kepler.bundle.json"
    before = pointer.read_text()

    def boom(*a, **k):
        raise RuntimeError("crash in the middle of cleaning")

    monkeypatch.setattr(ingest, "TableBundle", boom)
    resources = {
        "archive": LightCurveArchive(backend="local", local_dir=str(local_folder), targets_per_mission=0),
        "io_manager": ExoIOManager(base_dir=str(tmp_path / "store")),
        "compute": ComputeResource(max_workers=1),
    }
    again = dg.materialize(ASSETS, resources=resources, partition_key="Kepler", instance=instance,
                           raise_on_error=False, run_config={"ops": {"cleaned_curves": {"config": {"max_workers": 1}}}})
    assert not again.success
    assert pointer.read_text() == before
    from resources.io_managers import read_bundle

    kept = ingest.star_curve_paths(read_bundle(pointer))
    assert len(read_star_curve(kept["KIC 11442793"])) > 9000
