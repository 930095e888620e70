"""The whole per-mission graph on a small simulated TESS partition: models stored natively, OOF rows
aligned across branches, do-no-harm and metrics labelled simulated."""

import io
import json

import dagster as dg
import numpy as np
import pytest
import torch

from exo_assets.definitions import MISSION_JOB, build_defs
from exo_assets.models.booster import BoosterModel
from exo_assets.models.cnn import CNNClassifier
from resources import ExoIOManager, LightCurveArchive
from resources.io_managers import read_bundle


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    defs = build_defs(
        archive=LightCurveArchive(cache_dir=str(root / "cache"), targets_per_mission=30, sim_seed=2),
        io_manager=ExoIOManager(base_dir=str(root / "store")),
    )
    job = defs.resolve_job_def(MISSION_JOB)
    result = job.execute_in_process(
        partition_key="TESS",
        instance=dg.DagsterInstance.ephemeral(),
        run_config={
            "ops": {
                "cnn_oof": {"config": {"epochs": 3, "patience": 2}},
                "holdout_split": {"config": {"n_splits": 3, "n_repeats": 2}},
            }
        },
    )
    return result, root / "store"


def test_all_assets_and_checks_succeed(run):
    result, _ = run
    assert result.success
    evaluations = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert len(evaluations) == 7 and all(
        ev.passed for ev in evaluations
    )  # 6 on data and models, 1 on final_report


def test_oof_rows_of_both_branches_align_by_signal_id(run):
    _, store = run
    booster = read_bundle(store / "calibrated_booster" / "TESS.bundle.json")
    cnn = read_bundle(store / "cnn_oof" / "TESS.bundle.json")
    assert booster["oof"]["signal_id"].tolist() == cnn["oof"]["signal_id"].tolist()
    assert not np.isnan(cnn["oof"][["p_CP", "p_PC", "p_FP"]].to_numpy()).any()
    split = json.loads((store / "holdout_split" / "TESS.json").read_text())
    assert not set(booster["oof"]["signal_id"]) & set(booster["holdout"]["signal_id"])
    assert len(split["folds"]) == 6


def test_models_are_native_files_that_reload(run):
    _, store = run
    booster = read_bundle(store / "calibrated_booster" / "TESS.bundle.json")
    model = BoosterModel.from_text(
        booster.files["model.lgb.txt"].decode(), json.loads(booster.files["model.json"])
    )
    assert model.classes == ["CP", "PC", "FP"] and model.temperature > 0
    assert model.meta["provenance"] == "simulated"
    cnn = read_bundle(store / "cnn_oof" / "TESS.bundle.json")
    state = torch.load(io.BytesIO(cnn.files["model.pt"]), weights_only=True)
    clf = CNNClassifier.from_dicts(json.loads(cnn.files["config.json"]), state)
    assert clf.classes == ["CP", "PC", "FP"]
    assert not list(store.rglob("*.pkl"))


def test_blend_metrics_per_stage_and_do_no_harm(run):
    result, store = run
    blend = read_bundle(store / "blend" / "TESS.bundle.json")
    metrics = blend.attrs["metrics"]
    assert metrics["provenance"] == "simulated"
    assert set(metrics["oof"]) == {"booster", "cnn", "blend", "blend_vetting"}
    b = blend.attrs["blend"]
    assert b["oof_logloss_blend"] <= b["oof_logloss_booster"] + 1e-12
    md = result.asset_materializations_for_node("blend")[0].metadata
    assert "simulated" in md["metrics"].value and md["provenance"].value == "simulated"
