"""Memory of the per-star steps must not grow with the catalog.

`cleaned_curves` and `features` run in-process (one worker, so the per-star work is inside the traced
process too) on 3 and then 9 simulated TESS stars whose FITS files are already in the archive cache.
tracemalloc's peak over the two steps (numpy buffers included) is the figure: with per-star streaming it
is one star's working set plus small per-star records, so tripling the catalog barely moves it; a step
that gathers every star's curve (the old concatenated points table) makes it grow ~3x.
"""

from __future__ import annotations

import gc
import tracemalloc

import dagster as dg
import pytest

from exo_assets.assets import features, ingest
from resources import ComputeResource, ExoIOManager, LightCurveArchive

ASSETS = [ingest.catalog, ingest.raw_fits, ingest.cleaned_curves, features.features]
ONE_WORKER = {"ops": {"cleaned_curves": {"config": {"max_workers": 1}}, "features": {"config": {"max_workers": 1}}}}


def _resources(root, stars: int) -> dict:
    return {"archive": LightCurveArchive(cache_dir=str(root / "cache"), targets_per_mission=stars, sim_seed=3,
                                         selection_seed=3),
            "io_manager": ExoIOManager(base_dir=str(root / f"store{stars}")), "compute": ComputeResource(max_workers=1)}


def traced_peak_bytes(root, stars: int) -> int:
    """tracemalloc peak of cleaned_curves + features for `stars` simulated TESS stars.

    A first, untraced run simulates the files and pays every one-time cost (imports, numba compiles,
    caches); the traced run repeats the two per-star steps.
    """
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources(root, stars)
    dg.materialize(ASSETS, resources=resources, partition_key="TESS", instance=instance, run_config=ONE_WORKER)
    gc.collect()
    tracemalloc.start()
    try:
        result = dg.materialize(ASSETS, resources=resources, partition_key="TESS", instance=instance,
                                selection=["cleaned_curves", "feature_table", "cnn_tensors"], run_config=ONE_WORKER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.success
    assert len(result.output_for_node("features", "feature_table")) >= stars
    return peak


@pytest.mark.slow
def test_peak_memory_of_per_star_steps_does_not_grow_with_the_catalog(tmp_path):
    small = traced_peak_bytes(tmp_path, 3)
    large = traced_peak_bytes(tmp_path, 9)
    print(f"traced peak: 3 stars {small / 2**20:.1f} MiB, 9 stars {large / 2**20:.1f} MiB")
    assert large < 1.5 * small, f"peak grew from {small / 2**20:.1f} to {large / 2**20:.1f} MiB for 3x the stars"
