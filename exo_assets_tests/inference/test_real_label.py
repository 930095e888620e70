"""The real-label model wiring (exo_assets.inference.real_label), without ../shared: a tiny booster trained
here on rows made from synthetic curves by `real_label_row` (the served code path), stored with
`artifacts.real_label_files`, read back, and asked for the block of /api/predict and exo-predict."""

import json

import numpy as np
import pandas as pd
import pytest

from exo_assets.inference import real_label as RL
from exo_assets.models.artifacts import REAL_LABEL_ATTR, read_real_label, real_label_files
from exo_assets.models.blend import BlendModel
from exo_assets.models.booster import BoosterConfig, train_booster_with_validation
from exo_assets.storage import TableBundle
from serving.cli_table import format_results

CLASSES = ["PC", "EB", "J"]


def _curve(kind: str, seed: int, period=3.0, epoch=1.0, duration=0.125, days=13.0, cadence=2 / 1440):
    """(time d, flux) of a PC (shallow box), EB (deep V + secondary) or J (noise only) signal."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, days, cadence)
    phase = np.mod(t - epoch + period / 2, period) - period / 2
    f = np.ones_like(t)
    if kind == "PC":
        f -= (1e-3 + 5e-4 * rng.random()) * (np.abs(phase) < duration / 2)
    elif kind == "EB":
        f -= (0.02 + 0.01 * rng.random()) * np.clip(1 - np.abs(phase) / (duration / 2), 0, None)
        phase2 = np.mod(t - epoch, period) - period / 2
        f -= 0.005 * (np.abs(phase2) < duration / 2)
    return t, f + rng.normal(0, 3e-4, t.size)


STAR = {"radius_rsun": 1.0, "logg_cgs": 4.4, "teff_k": 5800.0, "mag": 9.0}


@pytest.fixture(scope="module")
def bundle():
    rows, labels = [], []
    for kind in CLASSES:
        for seed in range(8):
            row, _, _ = RL.real_label_row(*_curve(kind, seed), 3.0, 1.0, 0.125, STAR)
            rows.append(row)
            labels.append(CLASSES.index(kind))
    x = pd.concat(rows, ignore_index=True)
    cols = [c for c in x.columns if x[c].notna().any()]
    y = np.array(labels)
    cfg = BoosterConfig(
        num_boost_round=30, min_data_in_leaf=2, early_stopping_rounds=10, bagging_fraction=1.0
    )
    booster = train_booster_with_validation(x[cols], y, x[cols], y, CLASSES, cfg, {"dataset": "vetting"})
    fitted = {
        "booster": booster,
        "cnns": [],
        "blend": BlendModel(CLASSES, t_booster=1.3),
        "stacked": False,
        "cnn_scalar_columns": [],
        "cnn_channels": ["global", "local", "secondary"],
    }
    metrics = {
        "dataset": "vetting",
        "classes": CLASSES,
        "n": {"train": 24, "val": 24},
        "validation": {
            "blend": {
                "n": 24,
                "vetting_ap": 0.8,
                "triage_ap": 0.9,
                "log_loss": 0.3,
                "ci95": {"vetting_ap": [0.7, 0.9]},
            }
        },
    }
    files, entry = real_label_files(
        fitted, metrics, RL.served_view_format("vetting"), RL.trained_on_text("vetting", metrics["n"])
    )
    return TableBundle(tables={}, attrs={REAL_LABEL_ATTR: entry}, files=files), booster, x


def test_stored_in_native_formats_without_pickle(bundle):
    b, booster, _ = bundle
    assert set(b.files) == {
        "real_label_booster.lgb.txt",
        "real_label_booster.json",
    }  # no CNN: alpha 0, not stacked
    assert b.files["real_label_booster.lgb.txt"].startswith(b"tree")
    entry = json.loads(json.dumps(b.attrs[REAL_LABEL_ATTR]))  # JSON as stored
    assert entry["features"] == booster.features and entry["view_format"]["local_bins"] == 61
    assert "sectors 1-5" in entry["trained_on"] and "24 training signals" in entry["trained_on"]
    parts = read_real_label(b)
    assert parts["blend"].t_booster == pytest.approx(1.3) and parts["cnns"] == []


def test_reloaded_model_scores_as_the_fitted_one(bundle):
    from exo_assets.models.blend import apply_blend

    b, booster, x = bundle
    model = RL.RealLabelModel.from_bundle(b)
    expected = apply_blend(
        BlendModel(CLASSES, t_booster=1.3), booster.predict_proba(x.iloc[:3], calibrated=False), None
    )
    assert np.allclose(model.predict(x.iloc[:3], {}), expected, atol=1e-12)


def test_block_of_a_curve(bundle):
    model = RL.RealLabelModel.from_bundle(bundle[0])
    t, f = _curve("EB", 99)
    block = RL.real_label_block(model, t, f, 3.0, 1.0, 0.125, STAR, "TESS")
    assert block["status"] == "ok" and block["classes"] == CLASSES and "note" not in block  # 2-min TESS
    assert sum(block["probs"].values()) == pytest.approx(1.0) and block["prediction"] == "EB"
    assert block["validation"]["vetting_ap"] == 0.8 and "star-disjoint" in block["validation"]["rows"]
    assert "depth_change" in " ".join(block["approximations"])
    assert block["inputs"]["depth_ppm"] > 1e4  # the EB's trapezoid depth
    ten_min = RL.real_label_block(model, t[::5], f[::5], 3.0, 1.0, 0.125, STAR, "TESS")
    assert "10.0 min, not TESS 2-min or 30-min" in ten_min["note"]
    assert "not TESS" in RL.real_label_block(model, t, f, 3.0, 1.0, 0.125, STAR, "Kepler")["note"]
    text = format_results([{"star_id": "SIM", "signal_id": "s", "real_label_model": block}])
    assert "real-label model (trained on real TESS labels: TESS QLP vetting set" in text and "EB" in text


def test_absent_or_broken_model_is_a_block_not_an_error(bundle):
    t, f = _curve("PC", 1)
    absent = RL.real_label_block(None, t, f, 3.0, 1.0, 0.125, STAR, "TESS")
    assert absent["status"] == "not_materialized" and "materialize-external --set vetting" in absent["reason"]
    assert "not_materialized" in format_results([{"star_id": "SIM", "real_label_model": absent}])
    assert RL.real_label_block(None, t, f, 3.0, 1.0, 0.125, STAR, "TESS", "boom")["status"] == "unavailable"
    model = RL.RealLabelModel.from_bundle(bundle[0])
    failed = RL.real_label_block(model, t[:3], f[:3], 3.0, 1.0, 0.125, STAR, "TESS")
    assert failed["status"] == "failed" and failed["reason"]
    with pytest.raises(KeyError, match="no real-label model"):
        RL.RealLabelModel.from_bundle(TableBundle(tables={}, attrs={}))
