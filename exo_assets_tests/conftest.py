"""Shared fixtures: paths to the real NASA FITS files shipped with the tests, and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

FIXTURES = Path(__file__).parent / "fixtures"
KEPLER90_FILES = sorted((FIXTURES / "fits" / "kepler").glob("kplr011442793-*_llc.fits"))
PI_MEN_FILE = next((FIXTURES / "fits" / "tess").glob("*261136679*"))
LHS3844_FILE = next((FIXTURES / "fits" / "tess").glob("*410153553*"))
KIC10797460_FILE = FIXTURES / "fits" / "kepler" / "kic010797460_lightkurve.fits"


#: Fixtures whose users are slow tests (each costs 10 s to minutes per pytest worker): the shared Dagster
#: home, the UI end-to-end server, the Dask cluster, and the pipeline / report / benchmark / injection runs
#: of single modules (test_faults first_run, test_compute local_run, test_models_pipeline run,
#: test_external_views materialized, test_benchmark bench, test_report_build built, test_injection_recovery
#: injected). Other slow tests carry `@pytest.mark.slow` themselves.
SLOW_FIXTURES = frozenset({"materialized_home", "dagster_dev", "dask_cluster", "first_run", "local_run", "run",
                           "materialized", "bench", "built", "injected"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a fixture of `SLOW_FIXTURES` (directly or through another fixture) as
    `slow`: `pytest -m "not slow"` is the fast tier, plain `pytest` still runs everything."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def kepler90_files() -> list[Path]:
    return KEPLER90_FILES


@pytest.fixture
def bad_fits_dir(tmp_path) -> Path:
    """A folder with one good file and four bad ones: corrupt, truncated, empty, not a light curve."""
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(KIC10797460_FILE, folder / "good.fits")
    (folder / "corrupt.fits").write_bytes(np.random.default_rng(0).bytes(5760))
    data = PI_MEN_FILE.read_bytes()
    (folder / "truncated.fits").write_bytes(data[: len(data) // 3])
    (folder / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32)).writeto(folder / "image.fits")
    return folder


def materialize_home(home: Path, missions: tuple[str, ...] = ("TESS",), targets: int = 30, seed: int = 2,
                     cnn_epochs: int = 3) -> dict[str, str]:
    """Materialize the mission job into a persistent Dagster instance at `home` (small, simulated).

    Returns {mission: run_id}. Uses the default IO manager (instance storage), like `exo-assets materialize`.
    """
    from exo_assets.definitions import MISSION_JOB, build_defs
    from resources import LightCurveArchive

    home.mkdir(parents=True, exist_ok=True)
    defs = build_defs(archive=LightCurveArchive(cache_dir=str(home / "cache"), targets_per_mission=targets,
                                                sim_seed=seed))
    job = defs.resolve_job_def(MISSION_JOB)
    run_ids = {}
    from exo_assets.instance import open_instance

    with open_instance(home, create=True) as instance:
        for mission in missions:
            result = job.execute_in_process(partition_key=mission, instance=instance, run_config={
                "ops": {"cnn_oof": {"config": {"epochs": cnn_epochs, "patience": 2}},
                        "holdout_split": {"config": {"n_splits": 3, "n_repeats": 1}}}})
            assert result.success
            run_ids[mission] = result.run_id
    return run_ids


@pytest.fixture(scope="session")
def materialized_home(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A Dagster home with the Kepler and TESS partitions materialized (30 simulated stars each), shared
    by every test of one pytest worker that needs stored models. Returns (home, {mission: run_id})."""
    home = tmp_path_factory.mktemp("dagster_home")
    return home, materialize_home(home, ("Kepler", "TESS"))
