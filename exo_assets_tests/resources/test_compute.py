"""The compute resource: ordered, failure-isolating maps on a local process pool and on Dask distributed.

The Dask tests run against a `dask.distributed.LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)` and check that the ingest + feature assets give the same results as on the local
backend for a small simulated partition.
"""

from __future__ import annotations

import os

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from exo_assets.assets import features, ingest
from exo_assets.models.datasets import frame_hash
from exo_assets.parallel import ItemFailure, parallel_map
from exo_assets.storage import read_npz
from resources import ComputeResource, ExoIOManager, LightCurveArchive
from exo_assets_tests.resources.compute_jobs import compile_numba as _compile_numba
from exo_assets_tests.resources.compute_jobs import pid as _pid
from exo_assets_tests.resources.compute_jobs import square_or_die as _square_or_die
from exo_assets_tests.resources.compute_jobs import square_or_fail as _square_or_fail
from resources.compute import ComputeUnavailable

FEATURE_ASSETS = [ingest.catalog, ingest.raw_fits, ingest.cleaned_curves, features.features]


def _failed(item, error) -> str:
    return f"failed {item}: {error}"


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.mark.slow
def test_local_map_keeps_order_and_records_one_failure(tmp_path):
    compute = ComputeResource(max_workers=2)
    out = compute.map(_square_or_fail, list(range(10)), on_error=_failed)
    assert out[:3] == [0, 1, 4] and out[4:] == [16, 25, 36, 49, 64, 81]
    assert out[3] == "failed 3: ValueError: bad item 3"
    assert len(set(compute.map(_pid, range(8)))) == 2  # really two worker processes
    with pytest.raises(ItemFailure) as err:
        compute.map(_square_or_fail, list(range(10)))
    assert [e.index for e in err.value.errors] == [3] and "bad item 3" in err.value.errors[0].detail


@pytest.mark.slow
def test_workers_compile_numba_single_threaded():
    """A first numba compile inside a worker (a fresh install has no numba cache) must not trip over the
    worker's one-thread setting; found when a clean clone failed every star this way."""
    out = parallel_map(_compile_numba, list(range(6)), 2, min_items=1)
    assert out == [(x * (x + 1) // 2, 1) for x in range(6)]


@pytest.mark.slow
def test_a_dying_worker_fails_only_its_item():
    out = parallel_map(_square_or_die, list(range(12)), max_workers=2, on_error=_failed)
    assert [v for i, v in enumerate(out) if i != 5] == [i * i for i in range(12) if i != 5]
    assert out[5].startswith("failed 5: worker process died")


def test_threads_for_io_bound_work_and_per_call_cap():
    compute = ComputeResource(max_workers=4)
    out = compute.map(_square_or_fail, [1, 2, 3], on_error=_failed, io_bound=True)
    assert out == [1, 4, "failed 3: ValueError: bad item 3"]
    assert set(compute.map(_pid, range(4), io_bound=True)) == {os.getpid()}  # threads of this process
    assert len(set(compute.map(_pid, range(8), max_workers=1))) == 1  # the step's cap wins
    assert ComputeResource().workers() == len(os.sched_getaffinity(0))  # default: every core


def test_dask_map_order_and_failures(dask_cluster):
    compute = ComputeResource(backend="dask", scheduler_address=dask_cluster.scheduler_address)
    try:
        out = compute.map(_square_or_fail, list(range(10)), on_error=_failed)
        assert out == [i * i if i != 3 else "failed 3: ValueError: bad item 3" for i in range(10)]
        assert len(set(compute.map(_pid, range(16)))) == 2 and os.getpid() not in compute.map(_pid, range(4))
        assert compute.map(_square_or_fail, [], on_error=_failed) == []
    finally:
        compute.close()


def test_a_dying_dask_worker_fails_only_its_item(dask_cluster):
    """A worker killed by an item (segfault, OOM) loses the scattered inputs of every item placed on it;
    those run again and only the killer fails (found by this test: first it failed half the items)."""
    compute = ComputeResource(backend="dask", scheduler_address=dask_cluster.scheduler_address)
    try:
        out = compute.map(_square_or_die, list(range(12)), on_error=_failed)
    finally:
        compute.close()
    assert [v for i, v in enumerate(out) if i != 5] == [i * i for i in range(12) if i != 5]
    assert out[5].startswith("failed 5: dask task failed (KilledWorker")


def test_unreachable_scheduler_is_a_clear_error():
    compute = ComputeResource(backend="dask", scheduler_address="tcp://127.0.0.1:9", connect_timeout_s=1)
    with pytest.raises(ComputeUnavailable, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        compute.map(_square_or_fail, [1, 2])


def _materialize(store, cache, compute, instance=None, raise_on_error=True, run_config=None):
    resources = {
        "archive": LightCurveArchive(cache_dir=str(cache), targets_per_mission=6, sim_seed=4, selection_seed=4),
        "io_manager": ExoIOManager(base_dir=str(store)),
        "compute": compute,
    }
    return dg.materialize(FEATURE_ASSETS, resources=resources, partition_key="TESS", raise_on_error=raise_on_error,
                          instance=instance or dg.DagsterInstance.ephemeral(), run_config=run_config or {})


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """(store, cache, instance, result) of catalog -> features for 6 simulated TESS stars on the local backend."""
    root = tmp_path_factory.mktemp("local_run")
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(root / "store", root / "cache", ComputeResource(max_workers=2), instance)
    assert result.success
    return root / "store", root / "cache", instance, result


def test_dask_backend_gives_the_local_backend_results(tmp_path, dask_cluster, local_run):
    store, _, _, local = local_run
    # Dask chosen in the run config, as a deployment would (resources.compute.config), fresh cache:
    # simulation, cleaning and features all run on the cluster's worker processes.
    dask_config = {"resources": {"compute": {"config": {"backend": "dask",
                                                        "scheduler_address": dask_cluster.scheduler_address}}}}
    on_dask = _materialize(tmp_path / "dask", tmp_path / "cache_dask", ComputeResource(max_workers=2),
                           run_config=dask_config)
    assert on_dask.success

    table_local = pd.read_parquet(store / "feature_table" / "TESS.parquet")
    table_dask = pd.read_parquet(tmp_path / "dask" / "feature_table" / "TESS.parquet")
    assert len(table_local) >= 6 and (table_local["status"] == "ok").sum() >= 4
    assert frame_hash(table_local) == frame_hash(table_dask)
    manifest_local = local.output_for_node("raw_fits")
    manifest_dask = on_dask.output_for_node("raw_fits")
    assert manifest_local["status"].tolist() == manifest_dask["status"].tolist() == ["found"] * len(manifest_local)
    assert all(str(tmp_path / "cache_dask") in f for f in manifest_dask["files"])
    views_local = read_npz(store / "cnn_tensors" / "TESS.npz")
    views_dask = read_npz(tmp_path / "dask" / "cnn_tensors" / "TESS.npz")
    for name in ("signal_id", "global", "local", "odd", "even", "secondary"):
        np.testing.assert_array_equal(views_local[name], views_dask[name])


def test_unreachable_scheduler_fails_the_step_and_keeps_stored_values(local_run):
    store, cache, instance, _ = local_run
    stored = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    broken = ComputeResource(backend="dask", scheduler_address="tcp://127.0.0.1:9", connect_timeout_s=1)
    again = _materialize(store, cache, broken, instance, raise_on_error=False)
    assert not again.success
    failure = next(e for e in again.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "raw_fits"
    assert "cannot reach the Dask scheduler" in str(failure.event_specific_data.error)
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == stored


def test_cli_materialize_flags_choose_the_compute_backend():
    from exo_assets.cli import _compute_from_args, build_parser

    args = build_parser().parse_args(["materialize", "--dask-scheduler", "tcp://dask:8786", "--workers", "3"])
    assert _compute_from_args(args) == ComputeResource(backend="dask", scheduler_address="tcp://dask:8786",
                                                       max_workers=3)
    assert _compute_from_args(build_parser().parse_args(["materialize"])) == ComputeResource()
