"""The code location loads, and `exo-assets materialize` records runs in DAGSTER_HOME."""

import os

import dagster as dg
import pandas as pd
import pytest
import yaml

from exo_assets import cli
from exo_assets.definitions import MISSION_JOB, SUMMARY_JOB, defs


def test_definitions_load_with_mission_partitions_and_in_process_executor():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"catalog", "raw_fits", "cleaned_curves"} <= keys
    for key in ("catalog", "raw_fits", "cleaned_curves"):
        node = repo.asset_graph.get(dg.AssetKey(key))
        assert node.partitions_def.get_partition_keys() == ["Kepler", "K2", "TESS"]
    job = defs.resolve_job_def(MISSION_JOB)
    assert job.executor_def.name == "in_process"


def test_external_views_group_has_its_own_job_outside_the_mission_job():
    from exo_assets.definitions import EXTERNAL_JOB

    external = {"external_feature_table", "external_cnn_tensors", "external_benchmark"}
    mission_assets = {
        k.to_user_string() for k in defs.resolve_job_def(MISSION_JOB).asset_layer.executable_asset_keys
    }
    external_assets = {
        k.to_user_string() for k in defs.resolve_job_def(EXTERNAL_JOB).asset_layer.executable_asset_keys
    }
    assert not external & mission_assets and "blend" in mission_assets
    assert external_assets == external
    node = defs.resolve_asset_graph().get(dg.AssetKey("external_benchmark"))
    assert node.partitions_def.get_partition_keys() == ["vetting", "toi", "dr24"]
    assert node.group_name == "external_views"


def test_dagster_yaml_is_a_valid_instance_config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    cli.ensure_dagster_home(str(home))
    cfg = yaml.safe_load((home / "dagster.yaml").read_text())
    assert cfg["telemetry"]["enabled"] is False
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
    assert str(home) in instance.storage_directory()


@pytest.mark.slow
def test_cli_materialize_records_runs_in_dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    code = cli.main(
        ["materialize", "--mission", "TESS", "--targets", "15", "--seed", "5", "--cnn-epochs", "2"]
    )
    assert code == 0
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs()  # newest first: the cross-mission summary after the TESS partition
    assert [r.job_name for r in runs] == [SUMMARY_JOB, MISSION_JOB] and runs[1].tags.get(
        "dagster/partition"
    ) == "TESS"
    manifest = pd.read_parquet(home / "storage" / "raw_fits" / "TESS.parquet")
    assert manifest["star_id"].nunique() == 15
    assert (home / "storage" / "cleaned_curves" / "TESS.bundle.json").exists()
    event = instance.get_latest_materialization_event(dg.AssetKey("raw_fits"))
    assert event.asset_materialization.metadata["provenance"].value == "simulated"
    blend = instance.get_latest_materialization_event(dg.AssetKey("blend")).asset_materialization
    assert "simulated" in blend.metadata["metrics"].value
    summary = instance.get_latest_materialization_event(dg.AssetKey("report_summary")).asset_materialization
    assert summary.metadata["missions"].value == "TESS" and summary.metadata["missing"].value == "Kepler, K2"


@pytest.mark.slow
def test_cli_too_few_targets_fails_with_a_clear_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    assert cli.main(["materialize", "--mission", "K2", "--targets", "2"]) == 1
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert instance.get_latest_materialization_event(dg.AssetKey("feature_table")) is not None
    failure = [
        e
        for e in instance.all_logs(instance.get_runs()[0].run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    assert "raise --targets" in str(failure[0].dagster_event.event_specific_data.error)


def test_cli_local_backend_requires_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "h"))
    assert cli.main(["materialize", "--backend", "local"]) == 2
