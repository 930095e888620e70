"""final_report and report_summary in Dagster, on the shared materialized home (Kepler + TESS, 30 simulated
stars): the stored PDF, PNGs and metrics.json, the UI metadata of the model and report assets, the
cross-mission summary over whichever missions are stored, and bad input that fails clearly."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import dagster as dg
import pytest
from PIL import Image

from exo_assets.definitions import SUMMARY_JOB, build_defs
from exo_assets.instance import open_instance
from exo_assets.reporting import SECTIONS
from exo_assets.reporting.pdf import PAGE_SIZE
from exo_assets_tests.reporting.pdf_text import expected_rows, metric_rows, page_texts
from exo_assets_tests.reporting.test_report_build import EXPECTED_FIGURES as FIGURES
from resources import ExoIOManager, LightCurveArchive
from resources.io_managers import read_bundle

MISSION_UPSTREAM = (
    "catalog",
    "raw_fits",
    "feature_table",
    "cnn_tensors",
    "calibrated_booster",
    "cnn_oof",
    "blend",
)


def bundle(storage, asset: str, partition: str):
    return read_bundle(storage / asset / f"{partition}.bundle.json")


def latest(instance, asset: str, partition: str | None = "TESS"):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    return records[0].asset_materialization


def copy_partition(src, dst, asset: str, partition: str) -> None:
    (dst / asset).mkdir(parents=True, exist_ok=True)
    for path in (src / asset).glob(f"{partition}.*"):
        if path.is_dir():
            shutil.copytree(path, dst / asset / path.name)
        else:
            shutil.copy(path, dst / asset / path.name)


@pytest.mark.parametrize("mission", ["Kepler", "TESS"])
def test_final_report_pdf_figures_and_numbers(materialized_home, mission):
    home, _ = materialized_home
    report = bundle(home / "storage", "final_report", mission)
    blend = bundle(home / "storage", "blend", mission)
    assert set(report.files) == {"report.pdf", "metrics.json", *FIGURES}
    doc = json.loads(report.files["metrics.json"])
    assert (
        doc["metrics"] == blend.attrs["metrics"]
        and doc["provenance"] == "simulated"
        and doc["mission"] == mission
    )

    pages = page_texts(report.files["report.pdf"])
    assert len(pages) == report.attrs["pages"] == 10
    for section in SECTIONS:
        assert section in "\n".join(pages)
    assert all("simulated" in text for text in pages)
    rows = metric_rows(pages[2])
    assert rows == expected_rows(doc["metrics"]) and len(rows) == 8
    with open_instance(home) as instance:
        export = latest(instance, "catalog", mission).metadata["catalog_export"].value
    assert f"NASA Exoplanet Archive export {export}" in pages[0]

    for name in FIGURES:
        with Image.open(io.BytesIO(report.files[name])) as img:
            assert img.format == "PNG" and img.size == (round(PAGE_SIZE[0] * 100), round(PAGE_SIZE[1] * 100))
    assert report["metrics"]["split"].tolist()[:4] == ["OOF"] * 4


def test_report_check_passed_in_the_mission_run(materialized_home):
    home, run_ids = materialized_home
    with open_instance(home) as instance:
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(run_ids["TESS"])
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
    ours = [ev for ev in evaluations if ev.check_name == "final_report_matches_blend"]
    assert len(ours) == 1 and ours[0].passed


@pytest.mark.parametrize("asset", ["calibrated_booster", "cnn_oof", "blend", "final_report"])
def test_materializations_show_metrics_and_small_inline_figures(materialized_home, asset):
    home, _ = materialized_home
    with open_instance(home) as instance:
        metadata = latest(instance, asset).metadata
    figures = metadata["figures"].value
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", figures)
    assert 2 <= len(images) <= 3
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            assert img.width <= 600 and img.height <= 600
    assert len(figures) < 250_000  # the event log stays light
    table = metadata["metrics_table"].value if "metrics_table" in metadata else metadata["metrics"].value
    assert "macro" in table
    if asset in ("blend", "final_report"):
        assert "simulated" in metadata["metrics"].value


def run_summary(storage):
    defs = build_defs(
        archive=LightCurveArchive(cache_dir=str(storage.parent / "cache")),
        io_manager=ExoIOManager(base_dir=str(storage)),
    )
    return defs.resolve_job_def(SUMMARY_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def test_summary_of_the_stored_missions_then_of_none(materialized_home, tmp_path):
    home, _ = materialized_home
    storage = tmp_path / "storage"
    for mission in ("Kepler", "TESS"):
        copy_partition(home / "storage", storage, "final_report", mission)
    result = run_summary(storage)
    assert result.success
    summary = bundle(storage, "report_summary", "__all__")
    assert summary.attrs["missions"] == ["Kepler", "TESS"] and summary.attrs["missing"] == ["K2"]
    doc = json.loads(summary.files["summary.json"])
    for mission in ("Kepler", "TESS"):
        stored = json.loads(bundle(home / "storage", "final_report", mission).files["metrics.json"])
        assert doc["metrics"][mission] == stored["metrics"]
    pages = page_texts(summary.files["summary.pdf"])
    assert len(pages) == 2 and "Missing (no final_report materialized): K2" in pages[0]
    assert set(summary["summary"]["mission"]) == {"Kepler", "TESS"} and len(summary["summary"]) == 16
    md = result.asset_materializations_for_node("report_summary")[0].metadata
    assert md["missing"].value == "K2" and "data:image/png;base64," in md["figure"].value

    # no mission stored any more: a clear failure, and the previous summary stays readable
    pointer = (storage / "report_summary" / "__all__.bundle.json").read_text()
    shutil.rmtree(storage / "final_report")
    result = run_summary(storage)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no mission report to summarise" in str(failure.event_specific_data.error)
    assert (storage / "report_summary" / "__all__.bundle.json").read_text() == pointer
    assert bundle(storage, "report_summary", "__all__").attrs["missions"] == ["Kepler", "TESS"]


def test_final_report_on_a_blend_without_metrics_fails_clearly_and_keeps_the_previous(
    materialized_home, tmp_path
):
    home, _ = materialized_home
    storage = tmp_path / "storage"
    for asset in (*MISSION_UPSTREAM, "final_report"):
        copy_partition(home / "storage", storage, asset, "TESS")
    pointer = storage / "blend" / "TESS.bundle.json"
    meta = json.loads(pointer.read_text())
    meta["attrs"]["metrics"] = {"provenance": "simulated", "oof": {}, "holdout": {}}
    pointer.write_text(json.dumps(meta))
    before = (storage / "final_report" / "TESS.bundle.json").read_text()

    defs = build_defs(io_manager=ExoIOManager(base_dir=str(storage)))
    result = dg.materialize(
        list(defs.assets),
        selection=["final_report"],
        partition_key="TESS",
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot build the TESS report" in str(failure.event_specific_data.error)
    assert "no OOF metrics" in str(failure.event_specific_data.error)
    assert (storage / "final_report" / "TESS.bundle.json").read_text() == before
    assert bundle(storage, "final_report", "TESS").files["report.pdf"].startswith(b"%PDF")


def test_io_manager_reads_all_partitions_as_a_dict_and_skips_missing_only_when_allowed(tmp_path):
    from exo_assets.partitions import mission_partitions

    (tmp_path / "x").mkdir()
    for mission, value in (("Kepler", 1), ("TESS", 2)):
        (tmp_path / "x" / f"{mission}.json").write_text(json.dumps({"v": value}))
    manager = ExoIOManager(base_dir=str(tmp_path))

    def context(**metadata):
        return dg.build_input_context(
            asset_key="x",
            asset_partitions_def=mission_partitions,
            asset_partition_key_range=dg.PartitionKeyRange("Kepler", "TESS"),
            definition_metadata=metadata,
        )

    with pytest.raises(FileNotFoundError, match="K2"):
        manager.load_input(context())
    assert manager.load_input(context(allow_missing_partitions=True)) == {
        "Kepler": {"v": 1},
        "TESS": {"v": 2},
    }
    one = dg.build_input_context(
        asset_key="x",
        asset_partitions_def=mission_partitions,
        partition_key="TESS",
        asset_partition_key_range=dg.PartitionKeyRange("TESS", "TESS"),
    )
    assert manager.load_input(one) == {"v": 2}  # a partitioned step still gets the bare value


def test_summary_has_its_own_job_and_the_mission_job_builds_final_report():
    from exo_assets.definitions import MISSION_JOB, defs

    mission = {n.name for n in defs.resolve_job_def(MISSION_JOB).graph.nodes}
    assert "final_report" in mission and SUMMARY_JOB not in mission and "report_summary" not in mission
    assert {n.name for n in defs.resolve_job_def(SUMMARY_JOB).graph.nodes} == {"report_summary"}
    node = defs.get_repository_def().asset_graph.get(dg.AssetKey("report_summary"))
    assert node.partitions_def is None and dg.AssetKey("final_report") in node.parent_keys
