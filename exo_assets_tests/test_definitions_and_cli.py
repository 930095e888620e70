"""The code location loads, and `exo-assets materialize` records runs in DAGSTER_HOME."""

import os

import dagster as dg
import pandas as pd
import yaml

from exo_assets import cli
from exo_assets.definitions import MISSION_JOB, defs


def test_definitions_load_with_mission_partitions_and_in_process_executor():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"catalog", "raw_fits", "cleaned_curves"} <= keys
    for key in ("catalog", "raw_fits", "cleaned_curves"):
        node = repo.asset_graph.get(dg.AssetKey(key))
        assert node.partitions_def.get_partition_keys() == ["Kepler", "K2", "TESS"]
    job = defs.resolve_job_def(MISSION_JOB)
    assert job.executor_def.name == "in_process"


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


def test_cli_materialize_records_runs_in_dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    code = cli.main(["materialize", "--mission", "TESS", "--targets", "3", "--seed", "5"])
    assert code == 0
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs()
    assert len(runs) == 1 and runs[0].tags.get("dagster/partition") == "TESS"
    manifest = pd.read_parquet(home / "storage" / "raw_fits" / "TESS.parquet")
    assert manifest["star_id"].nunique() == 3
    assert (home / "storage" / "cleaned_curves" / "TESS.bundle.json").exists()
    event = instance.get_latest_materialization_event(dg.AssetKey("raw_fits"))
    assert event.asset_materialization.metadata["provenance"].value == "simulated"


def test_cli_local_backend_requires_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "h"))
    assert cli.main(["materialize", "--backend", "local"]) == 2
