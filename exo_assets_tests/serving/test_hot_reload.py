"""Hot model reload: a newer materialization is swapped in while requests keep succeeding."""

from __future__ import annotations

import shutil
import threading
import time

import dagster as dg
import pytest

from exo_assets.inference import PredictionRequest, curve_of, predict_curve

MODEL_KEYS = ("holdout_split", "calibrated_booster", "cnn_oof", "blend")


def _rematerialize(home, keys, seed: int) -> str:
    """Materialize `keys` of the TESS partition again with other seeds; returns the run id."""
    from exo_assets.definitions import MISSION_JOB, build_defs
    from serving.registry import open_instance

    job = build_defs().resolve_job_def(MISSION_JOB)
    ops = {"holdout_split": {"config": {"n_splits": 3, "n_repeats": 1, "seed": seed}},
           "calibrated_booster": {"config": {"seed": seed}},
           "cnn_oof": {"config": {"epochs": 2, "patience": 1, "seed": seed}}}
    with open_instance(home) as instance:
        result = job.execute_in_process(partition_key="TESS", instance=instance,
                                        asset_selection=[dg.AssetKey(k) for k in keys],
                                        run_config={"ops": {k: v for k, v in ops.items() if k in keys}})
    assert result.success
    return result.run_id


def test_new_materialization_is_swapped_in_while_serving(materialized_home, tmp_path, curve_body):
    from exo_assets_tests.serving.conftest import make_client

    source, run_ids = materialized_home
    home = tmp_path / "home"
    # A private copy of the shared home (not the downloaded cache): this test re-materializes into it.
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("cache"))
    with make_client(home, tmp_path, missions=("TESS",), reload_interval_s=0.5) as client:
        registry = client.app.state.registry
        before = client.get("/api/models/info").json()
        assert before["missions"]["TESS"]["run_id"] == run_ids["TESS"]
        old_set = registry.current

        seen, failures = [], []
        stop = threading.Event()

        def request_loop():
            while not stop.is_set():
                r = client.post("/api/predict", json=curve_body)
                if r.status_code != 200:
                    failures.append((r.status_code, r.text[:300]))
                else:
                    seen.append(r.json()["version"]["run_id"])
                info = client.get("/api/models/info")
                if info.status_code != 200:
                    failures.append((info.status_code, info.text[:300]))

        loop = threading.Thread(target=request_loop, daemon=True)
        loop.start()
        try:
            new_run = _rematerialize(home, MODEL_KEYS, seed=7)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if seen and seen[-1] == new_run:
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            loop.join(timeout=120)
        assert not failures, failures[:3]
        assert run_ids["TESS"] in seen and seen[-1] == new_run  # requests ran on the old, then the new models
        after = client.get("/api/models/info").json()
        tess = after["missions"]["TESS"]
        assert tess["run_id"] == new_run and after["version"] != before["version"]
        assert tess["model_hash"] != before["missions"]["TESS"]["model_hash"]
        assert after["reloads"] >= 2

        # The set a request took before the swap is untouched and still predicts with the old models.
        assert registry.current is not old_set
        curve = curve_of(curve_body["time"], curve_body["flux"], curve_body["flux_err"], mission="TESS")
        old = predict_curve(old_set, PredictionRequest(curve, curve_body["period"], curve_body["t0"],
                                                       curve_body["duration"]))
        assert old["version"]["run_id"] == run_ids["TESS"]

        # A half-written set (booster newer than the blend, as during a run) is not loaded.
        current = registry.current
        _rematerialize(home, ("calibrated_booster",), seed=8)
        assert registry.refresh() is False and registry.current is current
        assert client.get("/api/models/info").json()["missions"]["TESS"]["run_id"] == new_run


@pytest.mark.parametrize("lineage, ok", [
    ({}, False),
    ({"calibrated_booster": {"storage_id": 1}, "cnn_oof": {"storage_id": 2}, "blend": {"storage_id": 3}}, True),
    ({"calibrated_booster": {"storage_id": 4}, "cnn_oof": {"storage_id": 2}, "blend": {"storage_id": 3}}, False),
    ({"calibrated_booster": {"storage_id": 1}, "blend": {"storage_id": 3}}, False),
])
def test_consistency_rule(lineage, ok):
    from serving.registry import consistent

    assert consistent(lineage) is ok
