"""The Kepler DR24 set through the same reader and benchmark, physics joins and CNN stacking."""

import json

import numpy as np
import pandas as pd
import pytest

from exo_assets import cli
from exo_assets.external import tfrecord_reader as R
from exo_assets.external.physics import PHYSICS_COLUMNS
from exo_assets.external.stacking import crossfit_cnns, stack_columns, stack_frame
from exo_assets_tests.external.test_benchmark import _shards
from exo_assets_tests.external.test_tfrecord_reader import _astronet_norm, _dip, _write


def _dr24_record(rng, kepid, planet, label):
    """AstroNet DR24 fields: global 2001 / local 201 (+-4 durations), tce_* columns, av_training_set."""
    depth = {"PC": 1.0, "AFP": 1.0, "NTP": 0.0}[label]
    g = _dip(2001, 100.0, depth, "box" if label == "PC" else "V") + rng.normal(0, 0.05, 2001)
    loc = _dip(201, 4.0, depth, "box" if label == "PC" else "V") + rng.normal(0, 0.05, 201)
    if label == "NTP":
        g[100], loc[20] = -1.0, -1.0  # an off-centre blip
    return {
        "global_view": (_astronet_norm(g).astype(np.float32), "float"),
        "local_view": (_astronet_norm(loc).astype(np.float32), "float"),
        "av_training_set": (label.encode(), "byte"),
        "kepid": (kepid, "int"),
        "tce_plnt_num": (planet, "int"),
        "tce_period": (5.0 + planet, "float"),
        "tce_duration": (0.125, "float"),
        "tce_depth": ({"PC": 800.0, "AFP": 20000.0, "NTP": 100.0}[label], "float"),
        "tce_model_snr": (15.0, "float"),
        "tce_impact": (0.3, "float"),
        "tce_prad": (2.0, "float"),
        "tce_sradius": (1.0, "float"),
        "tce_slogg": (4.4, "float"),
        "tce_steff": (5700.0, "float"),
        "tce_depth_err": (30.0, "float"),
        "tce_prad_err": (0.3, "float"),
    }


def _dr24_shards(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    labels = ["PC", "AFP", "NTP"]

    def recs(n, start):
        return [_dr24_record(rng, 7000 + start + i, 1 + i % 2, labels[i % 3]) for i in range(n)]

    train = [_write(tmp_path / "train-00000-of-00001", recs(36, 0))]
    val = [_write(tmp_path / "val-00000-of-00001", recs(24, 100))]
    return train, val


def test_dr24_records_read_with_the_same_reader(tmp_path):
    train, _ = _dr24_shards(tmp_path)
    es = R.load_external(train)
    assert es.meta["dataset"] == "dr24" and es.classes == ["PC", "AFP", "NTP"]
    assert es.views["global"].shape == (36, 2001) and es.views["local"].shape == (36, 201)
    assert es.features["star_id"].str.startswith("KIC ").all() and (es.features["mission"] == "Kepler").all()
    assert es.features["planet_radius_re"].notna().all() and "tce_impact" in R.model_feature_columns(
        es.features
    )
    assert not {"kepid", "tce_plnt_num", "av_training_set"} & set(R.model_feature_columns(es.features))


@pytest.mark.slow
def test_dr24_benchmark_writes_kepid_tce_plnt_num_predictions(tmp_path):
    train, val = _dr24_shards(tmp_path)
    assert (
        cli.main(
            [
                "benchmark-tfrecord",
                "--train",
                *train,
                "--val",
                *val,
                "--test",
                *val,
                "--out",
                str(tmp_path / "o"),
                "--cnn-epochs",
                "2",
            ]
        )
        == 0
    )
    preds = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert list(preds.columns) == ["kepid", "tce_plnt_num", "p_PC", "p_AFP", "p_NTP"]
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    for key in ("planet_vs_fp_roc_auc", "planet_vs_fp_accuracy", "accuracy_3class"):
        assert 0 <= m["validation"]["booster"][key] <= 1
    assert m["n"]["val_star_disjoint"] == 24 and "validation_all_rows" in m


def _tce_params(path, sets):
    rows = []
    for tic, row in sets:
        rows.append(
            {
                "row_id": row,
                "tic_id": tic,
                "Tmag": 10.0,
                "Period": 3.0,
                "Duration": 3.0,
                "Transit_Depth": 2000.0 + 10 * row,
                "SN": 20.0,
                "Qingress": 0.2,
                "star_rad": 1.0 + row % 3,
                "star_mass": np.nan if row % 4 == 0 else 1.0,
                "teff": 5800.0,
                "logg": np.nan,
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_vetting_benchmark_joins_tce_params_and_chooses_on_disjoint_rows(tmp_path):
    train, val, test = _shards(tmp_path)
    from exo_assets.external.tfrecord_reader import read_shards

    keys = []
    for paths in (train, val, test):
        s, _ = read_shards(paths)
        keys += list(zip(s["tic_id"], s["row_id"], strict=True))
    params = _tce_params(tmp_path / "tce_params.csv", keys)
    assert (
        cli.main(
            [
                "benchmark-tfrecord",
                "--train",
                *train,
                "--val",
                *val,
                "--test",
                *test,
                "--out",
                str(tmp_path / "o"),
                "--cnn-epochs",
                "2",
                "--tce-params",
                params,
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert {"planet_radius_re", "log10_density_ratio", "star_logg_cgs"} <= set(m["features"])
    assert m["physics"]["train"]["matched"] == 90 and "missingness" in m["physics"]["train"]
    assert "star-disjoint" in m["validation_note"]


def test_missing_tce_params_file_is_a_clear_error(tmp_path, capsys):
    train, val, test = _shards(tmp_path)
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
            str(tmp_path / "o"),
            "--tce-params",
            str(tmp_path / "absent.csv"),
        ]
    )
    assert code == 2 and "absent.csv" in capsys.readouterr().err


def test_stacking_gives_every_training_row_an_out_of_fold_probability():
    y = np.array([0, 1, 2] * 10)
    groups = np.array([f"s{i}" for i in range(30)])
    seen = []

    def fit(rows, i):
        seen.append(set(rows.tolist()))
        return i

    oof, models = crossfit_cnns(
        fit, lambda m, rows: np.full((len(rows), 3), 1 / 3), 30, y, groups, 3, 0, 3, log=lambda *_: None
    )
    assert len(models) == 3 and np.allclose(oof, 1 / 3)
    with pytest.raises(ValueError):
        crossfit_cnns(fit, None, 30, y, groups, 1, 0, 3)
    assert list(stack_frame(np.full((2, 3), 0.5), ["A", "B", "C"]).columns) == stack_columns(["A", "B", "C"])
    with pytest.raises(ValueError):
        stack_frame(np.ones((2, 2)), ["A", "B", "C"])


def test_physics_columns_are_allowed_features_and_ids_still_refused():
    frame = pd.DataFrame({c: [1.0] for c in [*PHYSICS_COLUMNS, "tic_id"]})
    assert set(PHYSICS_COLUMNS) <= set(R.model_feature_columns(frame))
    with pytest.raises(R.LeakageError):
        R.model_feature_columns(frame, ["planet_radius_re", "tic_id"])


def test_physics_source_resolution(tmp_path):
    from exo_assets.external.benchmark import resolve_physics_source

    shard = tmp_path / "train-00000-of-00001"
    assert resolve_physics_source("auto", "vetting", [str(shard)], None) is None
    (tmp_path / "tce_params.csv").write_text("row_id,tic_id\n")
    assert resolve_physics_source("auto", "vetting", [str(shard)], None) == str(tmp_path / "tce_params.csv")
    assert resolve_physics_source("none", "vetting", [str(shard)], None) is None
    assert resolve_physics_source("x.csv", "toi", [str(shard)], None) == "x.csv"
    cat = tmp_path / "toi.csv"
    cat.write_text("# comment\ntid,pl_orbper,tfopwg_disp,st_rad\n1,2.0,PC,1.0\n")
    assert resolve_physics_source("auto", "toi", [str(shard)], str(cat)) == str(cat)
    assert resolve_physics_source("auto", "dr24", [str(shard)], None) is None


def test_external_views_resource_physics_sources(tmp_path):
    from resources import ExternalViewsSource

    assert ExternalViewsSource(vetting_dir=str(tmp_path)).physics_source("vetting") is None
    (tmp_path / "tce_params.csv").write_text("row_id,tic_id\n")
    assert ExternalViewsSource(vetting_dir=str(tmp_path)).physics_source("vetting") == str(
        tmp_path / "tce_params.csv"
    )
    assert ExternalViewsSource(tce_params="x.csv").physics_source("vetting") == "x.csv"
    cat = tmp_path / "toi.csv"
    cat.write_text("tid,pl_orbper,tfopwg_disp,st_rad\n1,2.0,PC,1.0\n")
    assert ExternalViewsSource(toi_catalog=str(cat)).physics_source("toi") == str(cat)
    assert (
        ExternalViewsSource().physics_source("toi") is None
        and ExternalViewsSource().physics_source("dr24") is None
    )


def test_dr24_ids_and_label_are_refused_as_features():
    frame = pd.DataFrame({c: [1.0] for c in ("kepid", "tce_plnt_num", "av_training_set", "tce_impact")})
    for bad in ("kepid", "tce_plnt_num", "av_training_set"):
        with pytest.raises(R.LeakageError):
            R.model_feature_columns(frame, ["tce_impact", bad])
