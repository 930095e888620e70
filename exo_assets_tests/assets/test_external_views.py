"""The external-views asset group (real-TFRecord data source) on small vetting shards written here."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from exo_assets.assets.external_views import external_benchmark, external_signals
from exo_assets.external.benchmark import run_benchmark
from exo_assets.external.stored import from_stored, to_stored
from exo_assets.external.tfrecord_reader import load_external
from exo_assets.storage import read_npz
from exo_assets_tests.external.test_benchmark import _shards
from resources import ExoIOManager, ExternalViewsSource

RUN_CONFIG = {"ops": {"external_benchmark": {"config": {"seed": 3, "cnn_epochs": 2}}}}


def _materialize(folder, store, **source):
    return dg.materialize(
        [external_signals, external_benchmark],
        partition_key="vetting",
        run_config=RUN_CONFIG,
        resources={
            "io_manager": ExoIOManager(base_dir=str(store)),
            "external_views": ExternalViewsSource(**({"vetting_dir": str(folder)} | source)),
        },
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    train, val, test = _shards(folder)
    store = tmp_path_factory.mktemp("store")
    result = _materialize(folder, store)
    assert result.success
    return folder, store, result, (train, val, test)


def test_feature_table_and_tensors_hold_every_split_aligned(materialized):
    _, store, _, _ = materialized
    table = pd.read_parquet(store / "external_feature_table" / "vetting.parquet")
    tensors = read_npz(store / "external_cnn_tensors" / "vetting.npz")
    assert table["split"].value_counts().to_dict() == {
        "train": 90,
        "val": 45,
        "test": 21,
    }  # test keeps class O
    assert set(table.loc[table["split"] != "test", "label"]) == {"PC", "EB", "J"}
    assert list(tensors["signal_id"]) == list(table["signal_id"])
    assert tensors["global"].shape == (156, 201) and tensors["secondary"].shape == (156, 61)
    assert not {"toi_id", "Sectors", "camera", "ccd", "Epoc"} & set(table.columns)


def test_benchmark_asset_is_the_cli_benchmark(materialized, tmp_path):
    """Same seed, same shards: the asset's predictions equal `exo-assets benchmark-tfrecord`'s
    (one code path)."""
    _, store, result, (train, val, test) = materialized
    bundle = result.output_for_node("external_benchmark")
    preds = bundle.tables["predictions"]
    assert len(preds) == 21 and not preds.duplicated(["row_id", "tic_id"]).any()
    cli_metrics = run_benchmark(train, val, test, tmp_path, seed=3, cnn_epochs=2, log=lambda *_: None)
    cli_preds = pd.read_csv(tmp_path / "predictions.csv")
    merged = preds.merge(cli_preds, on=["row_id", "tic_id"], suffixes=("", "_cli"))
    assert len(merged) == 21
    for c in ("PC", "EB", "J"):
        assert np.allclose(merged[f"p_{c}"], merged[f"p_{c}_cli"], atol=1e-6)
    assert bundle.attrs["validation"]["booster"]["vetting_ap"] == pytest.approx(
        cli_metrics["validation"]["booster"]["vetting_ap"]
    )
    assert bundle.attrs["test_source"] == "test shards"
    # the fitted model is stored in native formats and reloads as the served real-label model
    from exo_assets.inference.real_label import RealLabelModel

    assert {"real_label_booster.lgb.txt", "real_label_booster.json"} <= set(bundle.files)
    served = RealLabelModel.from_bundle(bundle)
    assert served.classes == ["PC", "EB", "J"] and served.spec["validation"]["booster"]["n"] > 0
    assert (
        len(served.cnns) == (served.spec["cnn_members"]) and served.spec["view_format"]["global_bins"] == 201
    )
    md = result.asset_materializations_for_node("external_benchmark")[0].metadata
    assert "booster" in md["validation"].value and "not the embedded simulator" in md["data"].value


def test_unconfigured_folder_fails_with_the_command_to_run(tmp_path):
    result = _materialize("", tmp_path, vetting_dir="")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "materialize-external --set vetting --dir" in failure.event_specific_data.error.message


def test_corrupt_shard_fails_clearly_and_keeps_the_stored_tables(materialized, tmp_path):
    folder, store, _, _ = materialized
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in folder.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    victim = bad / "val-00000-of-00001"
    victim.write_bytes(victim.read_bytes()[:-30])  # truncated
    before = (store / "external_feature_table" / "vetting.parquet").read_bytes()
    result = _materialize(bad, store)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "val-00000-of-00001" in failure.event_specific_data.error.message
    assert (store / "external_feature_table" / "vetting.parquet").read_bytes() == before


def test_stored_round_trip_and_mismatch_refused(materialized):
    folder, _, _, (train, val, _) = materialized
    sets = {"train": load_external(train), "val": load_external(val, dataset="vetting")}
    table, tensors = to_stored(sets)
    back = from_stored(table, tensors)
    assert set(back) == {"train", "val"}
    pd.testing.assert_frame_equal(
        back["val"].features.drop(columns="split"),
        sets["val"].features.drop(columns="split").reset_index(drop=True),
    )
    assert np.array_equal(back["val"].views["local"], sets["val"].views["local"])
    assert back["train"].classes == ["PC", "EB", "J"] and back["train"].meta["dataset"] == "vetting"
    with pytest.raises(ValueError, match="different signals"):
        from_stored(table.iloc[::-1].reset_index(drop=True), tensors)
    with pytest.raises(ValueError, match="roles"):
        to_stored({"holdout": sets["val"]})


@pytest.mark.slow
def test_cli_missing_folder_exits_nonzero_naming_it(tmp_path, monkeypatch, capsys):
    from exo_assets import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    code = cli.main(
        ["materialize-external", "--set", "toi", "--dir", str(tmp_path / "missing"), "--log-level", "ERROR"]
    )
    assert code == 1
    assert "TFRecord folder not found" in capsys.readouterr().err
