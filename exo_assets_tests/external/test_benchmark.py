"""`exo-assets benchmark-tfrecord` end to end on small vetting-format shards written here."""

import json

import numpy as np
import pandas as pd
import pytest

from exo_assets import cli
from exo_assets_tests.external.test_tfrecord_reader import _vetting_record, _write


def _shards(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    classes = ["PC", "EB", "J"]

    def records(n, start):
        out = []
        for i in range(n):
            disp = classes[i % 3]
            out.append(
                _vetting_record(rng, 5000 + start + i, start + i, disp, shape="V" if disp == "EB" else "box")
            )
        return out

    train = [
        _write(tmp_path / "train-00000-of-00002", records(45, 0)),
        _write(tmp_path / "train-00001-of-00002", records(45, 100)),
    ]
    val = [_write(tmp_path / "val-00000-of-00001", records(45, 200))]
    test_recs = records(20, 300) + [_vetting_record(rng, 9999, 999, "O")]
    test = [_write(tmp_path / "test-00000-of-00001", test_recs)]
    return train, val, test


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tfr")
    train, val, test = _shards(tmp)
    outs = []
    for run in ("a", "b"):
        code = cli.main(
            [
                "benchmark-tfrecord",
                "--train",
                *train,
                "--val",
                *val,
                "--test",
                *test,
                "--out",
                str(tmp / run),
                "--seed",
                "3",
                "--cnn-epochs",
                "2",
            ]
        )
        assert code == 0
        outs.append(tmp / run)
    return outs


def test_predictions_one_row_per_signal_with_class_columns(bench):
    preds = pd.read_csv(bench[0] / "predictions.csv")
    assert list(preds.columns) == ["row_id", "tic_id", "p_PC", "p_EB", "p_J"]
    assert len(preds) == 21 and not preds.duplicated(["row_id", "tic_id"]).any()  # the O row is scored too
    assert np.allclose(preds[["p_PC", "p_EB", "p_J"]].sum(axis=1), 1.0)


def test_metrics_report_validation_stages_with_intervals(bench):
    metrics = json.loads((bench[0] / "metrics.json").read_text())
    assert metrics["dataset"] == "vetting" and metrics["classes"] == ["PC", "EB", "J"]
    for stage in ("booster", "cnn", "blend"):
        v = metrics["validation"][stage]
        assert 0 <= v["vetting_ap"] <= 1 and 0 <= v["triage_ap"] <= 1
        lo, hi = v["ci95"]["vetting_ap"]
        assert lo <= hi
    leaks = {"row_id", "tic_id", "toi_id", "Sectors", "camera", "ccd", "Epoc", "Disposition", "label"}
    assert not leaks & set(metrics["features"]) and not leaks & set(metrics["cnn_scalar_inputs"])
    # The CNN's head gets the allowed shard scalars; the booster also the view-derived features.
    assert {"period_days", "duration_days", "snr", "duty_cycle"} <= set(metrics["cnn_scalar_inputs"])
    assert {"lv_tfit_flat", "gv_sec_rel_primary", "log10_period"} <= set(metrics["features"])
    assert metrics["cnn_config"]["scalar_channels"] == ["scalars"]
    assert metrics["cnn_config"]["early_stopping"] == "log_loss"
    final = metrics["blend"]["final"]
    assert metrics["blend"]["min_gain_se"] == 2.0  # the project's do-no-harm margin by default
    assert final["oof_logloss_blend"] <= final["oof_logloss_booster"] + 1e-12
    top = metrics["booster_top_features"]
    assert top and {r["feature"] for r in top} <= set(metrics["features"])


def test_same_seed_same_predictions(bench):
    a = pd.read_csv(bench[0] / "predictions.csv")
    b = pd.read_csv(bench[1] / "predictions.csv")
    assert np.allclose(a[["p_PC", "p_EB", "p_J"]], b[["p_PC", "p_EB", "p_J"]])


def test_corrupt_shard_is_a_clear_error(tmp_path, capsys):
    train, val, test = _shards(tmp_path)
    bad = tmp_path / "bad-00000-of-00001"
    bad.write_bytes(b"\x00" * 40)
    code = cli.main(
        [
            "benchmark-tfrecord",
            "--train",
            *train,
            "--val",
            str(bad),
            "--test",
            *test,
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "bad-00000-of-00001" in capsys.readouterr().err
