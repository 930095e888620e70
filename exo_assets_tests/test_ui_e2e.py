"""The UI end to end: `dagster dev` (webserver + daemon) from the repository root, driven over GraphQL
and looked at with headless Chromium.

Starts `dagster dev -w workspace.yaml` on 127.0.0.1 and a free port with a temporary DAGSTER_HOME (the
repository's dagster.yaml copied in), checks through GraphQL that every asset of the code location is
listed with its group and partitions and that the sensors and schedule are there (stopped), launches
the mission job for the K2 partition with run config that shrinks it (12 simulated stars, 2 CNN
epochs), waits for the daemon to run it to success, then loads the asset lineage page in headless
Chromium: the PNG screenshot is saved (`<tmp_path>/asset_graph.png`, path printed) and the same page's
rendered DOM (`--dump-dom`) must name every asset. Every process is killed by process group at the end,
also on failure. Skipped only where Debian's `chromium` is not installed (`.ci/run` installs it).
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from exo_assets.automation import CATALOG_SCHEDULE, NEW_SECTOR_SENSOR, REFRESH_SENSOR
from exo_assets.definitions import MISSION_JOB, defs
from exo_assets.partitions import TESS_SECTORS

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PARTITION = "K2"
STARS = 12

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package `chromium`, "
    "installed by .ci/run): the UI end-to-end test needs a headless browser",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(proc: subprocess.Popen, grace_s: float = 8.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it (dagster dev, webserver, daemon,
    code servers, run workers and their pools share the group)."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children outliving the leader
    except ProcessLookupError:
        pass


class DagsterDev:
    def __init__(self, port: int, home: Path, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.home, self.log = home, log

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        assert "errors" not in out, out["errors"]
        return out["data"]


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


@pytest.fixture
def dagster_dev(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    log = tmp_path / "dagster_dev.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    dev = DagsterDev(port, home, log)
    try:
        deadline = time.monotonic() + 150
        location = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"dagster dev exited with {proc.returncode}:\n{dev.log_tail()}"
            try:
                entries = dev.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
                location = entries[0] if entries else None
                if location and location["loadStatus"] == "LOADED":
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1.0)
        assert location and location["loadStatus"] == "LOADED", f"UI not up in time:\n{dev.log_tail()}"
        error = location["locationOrLoadError"]
        assert error["__typename"] == "RepositoryLocation", f"code location failed to load: {error}"
        dev.location = location["name"]
        yield dev
    finally:
        _kill_group(proc)


ASSET_NODES = """{ assetNodes { assetKey { path } groupName isPartitioned partitionKeys
  partitionDefinition { type name } description kinds } }"""

AUTOMATION = """query($sel: RepositorySelector!) { repositoryOrError(repositorySelector: $sel) {
  __typename ... on Repository { sensors { name sensorState { status } }
  schedules { name cronSchedule scheduleState { status } } } } }"""

LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PythonError { message } ... on InvalidSubsetError { message } } }"""

RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"""

FAILURES = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on ExecutionStepFailureEvent { stepKey error { message } } ... on RunFailureEvent { message } } } } }"""

MATERIALIZED = """query($key: AssetKeyInput!, $p: [String!]) { assetOrError(assetKey: $key) {
  ... on Asset { assetMaterializations(partitions: $p, limit: 1) { runId partition } } } }"""


def _expected_assets() -> dict[str, dg.PartitionsDefinition | None]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).partitions_def for key in graph.materializable_asset_keys}


def _check_asset_listing(dev: DagsterDev) -> None:
    nodes = {"/".join(n["assetKey"]["path"]): n for n in dev.graphql(ASSET_NODES)["assetNodes"]}
    expected = _expected_assets()
    assert set(expected) <= set(nodes), f"assets missing from the UI: {set(expected) - set(nodes)}"
    groups = {spec.key.to_user_string(): spec.group_name for spec in defs.resolve_all_asset_specs()}
    for name, partitions_def in expected.items():
        node = nodes[name]
        assert node["groupName"] == groups[name] and node["description"], name
        if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
            assert node["partitionDefinition"] == {"type": "DYNAMIC", "name": TESS_SECTORS}, name
        elif partitions_def is not None:
            assert node["isPartitioned"] and node["partitionKeys"] == partitions_def.get_partition_keys(), (
                name
            )
        else:
            assert not node["isPartitioned"], name
    assert nodes["raw_fits"]["kinds"] and set(nodes["tess_sector_fits"]["kinds"]) == {"fits", "parquet"}


def _check_automation_listed_and_stopped(dev: DagsterDev) -> None:
    repo = dev.graphql(
        AUTOMATION, {"sel": {"repositoryLocationName": dev.location, "repositoryName": "__repository__"}}
    )["repositoryOrError"]
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    schedules = {s["name"]: (s["cronSchedule"], s["scheduleState"]["status"]) for s in repo["schedules"]}
    assert sensors == {
        NEW_SECTOR_SENSOR: "STOPPED",
        REFRESH_SENSOR: "STOPPED",
        "default_automation_condition_sensor": "STOPPED",
    }
    assert schedules[CATALOG_SCHEDULE] == ("0 6 * * *", "STOPPED")


def _launch_and_wait(dev: DagsterDev, cache_dir: Path, timeout_s: float = 420.0) -> str:
    run_config = {
        "resources": {"archive": {"config": {"targets_per_mission": STARS, "cache_dir": str(cache_dir)}}},
        "ops": {
            "cnn_oof": {"config": {"epochs": 2, "patience": 1}},
            "holdout_split": {"config": {"n_splits": 3, "n_repeats": 1}},
        },
    }
    params = {
        "selector": {
            "repositoryLocationName": dev.location,
            "repositoryName": "__repository__",
            "jobName": MISSION_JOB,
        },
        "runConfigData": run_config,
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
    }
    launched = dev.graphql(LAUNCH, {"p": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = dev.graphql(RUN, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2.0)
    if status != "SUCCESS":
        events = dev.graphql(FAILURES, {"id": run_id})["logsForRun"].get("events", [])
        errors = [e for e in events if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")]
        pytest.fail(f"run {run_id} ended {status}: {errors}\n{dev.log_tail()}")
    return run_id


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def _chromium(url: str, png: Path, profile: Path, budget_ms: int = 20000, timeout_s: float = 120.0) -> str:
    """Screenshot `url` to `png` and return its JS-rendered DOM (one headless Chromium run)."""
    cmd = [
        CHROMIUM,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={png}",
        "--dump-dom",
        url,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        _kill_group(proc, grace_s=2.0)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


def test_dagster_dev_lists_assets_runs_a_partition_and_renders_the_asset_graph(dagster_dev, tmp_path):
    dev = dagster_dev
    _check_asset_listing(dev)
    _check_automation_listed_and_stopped(dev)

    run_id = _launch_and_wait(dev, tmp_path / "archive_cache")
    for asset in ("raw_fits", "blend"):
        mats = dev.graphql(MATERIALIZED, {"key": {"path": [asset]}, "p": [PARTITION]})["assetOrError"]
        assert mats["assetMaterializations"] == [{"runId": run_id, "partition": PARTITION}], asset
    assert (
        dev.home / "storage" / "raw_fits" / f"{PARTITION}.parquet"
    ).exists()  # the instance's IO manager root

    png = tmp_path / "asset_graph.png"
    dom = _chromium(
        f"{dev.url}/assets/catalog?view=lineage&lineageScope=downstream&lineageDepth=50",
        png,
        tmp_path / "chromium_profile",
    )
    print(f"asset graph screenshot: {png}")
    assert png.exists() and png.stat().st_size > 20_000 and _png_size(png) == (1600, 1000)
    shown = {name for name in _expected_assets() if re.search(rf">\s*{re.escape(name)}\s*<", dom)}
    # The external-views group is not connected to the mission graph: its own lineage page, where the
    # zoomed-out graph shortens labels in the middle ("external_fe…_table").
    ext = _chromium(
        f"{dev.url}/assets/external_benchmark?view=lineage&lineageScope=upstream&lineageDepth=5",
        tmp_path / "external_graph.png",
        tmp_path / "chromium_profile",
    )
    labels = re.findall(r">\s*([^<>]+?)\s*<", ext)
    shown |= {
        name
        for name in _expected_assets()
        if name.startswith("external_")
        and any(
            lab == name
            or (
                "…" in lab
                and name.startswith(lab.split("…")[0])
                and name.endswith(lab.split("…")[-1])
                and len(lab.split("…")[0]) >= 8
            )
            for lab in labels
        )
    }
    assert shown == set(_expected_assets()), f"not on the asset graph page: {set(_expected_assets()) - shown}"
    for group in {spec.group_name for spec in defs.resolve_all_asset_specs()} - {"external_views"}:
        assert re.search(rf">\s*{re.escape(group)}\s*<", dom), f"group {group} not shown"
