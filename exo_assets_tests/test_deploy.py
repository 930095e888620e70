"""The production instance config under deploy/ is loaded and validated the way Dagster loads it.

`InstanceRef.from_dir` reads deploy/dagster.yaml through Dagster's instance schema; each configurable
class it names (PostgreSQL storage, K8sRunLauncher, queued run coordinator) is imported and its
config processed against the class's own schema with the environment variables resolved — all of
`DagsterInstance` start-up except opening connections (no Postgres or Kubernetes here).
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
import yaml

# deploy/dagster.yaml names the classes of the [deploy] extra: without it there is nothing to validate.
pytest.importorskip("dagster_postgres", reason="needs the [deploy] extra (pip install -e '.[deploy]')")
pytest.importorskip("dagster_k8s", reason="needs the [deploy] extra (pip install -e '.[deploy]')")

from dagster._config import process_config, resolve_to_config_type  # noqa: E402
from dagster._core.instance.config import ConcurrencyConfig  # noqa: E402
from dagster._core.instance.ref import InstanceRef  # noqa: E402
from dagster._core.workspace.config_schema import process_workspace_config  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ENV = {
    "DAGSTER_PG_USERNAME": "exo",
    "DAGSTER_PG_PASSWORD": "s3cret/with:odd@chars",
    "DAGSTER_PG_HOST": "postgres.dagster.svc",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "6432",
    "DAGSTER_K8S_NAMESPACE": "exo-runs",
    "DAGSTER_RUN_IMAGE": "registry.example/exo-assets:1.0",
}


@pytest.fixture
def deploy_home(tmp_path, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    return tmp_path


def _process(data):
    """(class, processed config) of a ConfigurableClassData, as `rehydrate` does before instantiating."""
    klass = getattr(importlib.import_module(data.module_name), data.class_name)
    result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
    assert result.success, [e.message for e in result.errors]
    return klass, result.value


def test_instance_config_uses_postgres_from_env(deploy_home):
    ref = InstanceRef.from_dir(str(deploy_home))
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config

    klass, value = _process(ref.storage_data)
    assert klass is DagsterPostgresStorage
    assert value["postgres_db"]["port"] == 6432 and value["postgres_db"]["hostname"] == "postgres.dagster.svc"
    url = make_url(pg_url_from_config(value))  # the URL the storage hands to SQLAlchemy
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "exo", "s3cret/with:odd@chars", "postgres.dagster.svc", 6432, "dagster")
    assert url.query["sslmode"] == "require"
    # run, event-log and schedule storage all live in the same database
    for data in (ref.run_storage_data, ref.event_storage_data, ref.schedule_storage_data):
        assert data.module_name == "dagster_postgres"
        _process(data)
    assert "s3cret" not in (DEPLOY / "dagster.yaml").read_text()  # credentials only from the environment


def test_k8s_run_launcher_and_queued_coordinator(deploy_home):
    ref = InstanceRef.from_dir(str(deploy_home))
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_k8s import K8sRunLauncher

    klass, value = _process(ref.run_launcher_data)
    assert klass is K8sRunLauncher
    assert value["job_namespace"] == "exo-runs" and value["job_image"] == "registry.example/exo-assets:1.0"
    assert value["load_incluster_config"] is True
    raw = value["run_k8s_config"]
    assert raw["container_config"]["resources"]["requests"]["cpu"] == "8"
    # the raw Kubernetes config builds the client's models (field names checked by the k8s client)
    import kubernetes.client as k8s
    from dagster_k8s.models import k8s_model_from_dict

    container = k8s_model_from_dict(k8s.V1Container, {"name": "run", **raw["container_config"]})
    pod = k8s_model_from_dict(k8s.V1PodSpec, {"containers": [{"name": "run"}], **raw["pod_spec_config"]})
    job = k8s_model_from_dict(k8s.V1JobSpec, {"template": {}, **raw["job_spec_config"]})
    assert container.volume_mounts[0].mount_path == "/cache"
    assert pod.volumes[0].persistent_volume_claim.claim_name == "exo-assets-archive-cache"
    assert job.backoff_limit == 0
    klass, value = _process(ref.run_coordinator_data)
    assert klass is QueuedRunCoordinator
    coordinator = klass.from_config_value(ref.run_coordinator_data, value)
    # the instance merges the `concurrency:` block into the coordinator's queue like this
    concurrency = ConcurrencyConfig.from_concurrency_settings(ref.settings["concurrency"],
                                                              coordinator.get_run_queue_config())
    assert concurrency.run_queue_config.max_concurrent_runs == 6
    assert concurrency.run_queue_config.tag_concurrency_limits[0]["key"] == "dagster/partition"
    assert concurrency.pool_config.default_pool_limit == 2
    assert ref.settings["run_monitoring"]["enabled"] is True
    assert ref.settings["telemetry"]["enabled"] is False


def test_missing_credentials_are_a_clear_error(deploy_home, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    ref = InstanceRef.from_dir(str(deploy_home))
    klass = getattr(importlib.import_module(ref.storage_data.module_name), ref.storage_data.class_name)
    result = process_config(resolve_to_config_type(klass.config_type()), ref.storage_data.config_dict)
    assert not result.success
    assert any("DAGSTER_PG_PASSWORD" in e.message for e in result.errors)


def test_workspace_points_at_the_code_server():
    config = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    result = process_workspace_config(config)
    assert result.success, [e.message for e in result.errors]
    server = result.value["load_from"][0]["grpc_server"]
    assert server["port"] == 3030 and server["location_name"] == "exo_assets"
    readme = (DEPLOY / "README.md").read_text()
    assert "exo_assets.definitions" in readme and "DAGSTER_PG_PASSWORD" in readme
