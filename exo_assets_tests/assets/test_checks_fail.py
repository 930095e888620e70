"""Every asset check passes on a sound input and fails on a deliberately broken one.

The checks are called directly (Dagster supports invoking an asset check with its inputs) on small
synthetic values, so a check that passes by construction would show up here.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from exo_assets.assets import features as feature_assets
from exo_assets.assets import models as model_assets
from exo_assets.assets import report as report_assets
from exo_assets.models.artifacts import probability_frame
from exo_assets.models.calibration import apply_temperature, fit_temperature
from exo_assets.models.crossfit import compare, crossfit_temperature, star_halves
from exo_assets.models.datasets import CLASSES, make_split
from exo_assets.storage import ArrayBundle, TableBundle
from exo_assets_tests.models.test_splits_booster import _table


def _probs(y: np.ndarray, strength: np.ndarray, rng) -> np.ndarray:
    """Probabilities whose log-odds for the true class scale with `strength` (per row), plus noise."""
    logits = rng.normal(0, 1, (len(y), 3))
    logits[np.arange(len(y)), y] += strength
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def oof():
    """400 OOF rows of 200 stars: labels, star ids, a useful booster, and the feature table they come from."""
    rng = np.random.default_rng(0)
    n = 400
    stars = np.array([f"STAR {i // 2}" for i in range(n)])
    y = np.arange(n) % 3
    ids = [f"S{i:03d}" for i in range(n)]
    ft = pd.DataFrame({"signal_id": ids, "star_id": stars, "label": np.array(CLASSES)[y]})
    return ids, y, stars, ft, _probs(y, np.full(n, 2.0), rng)


def _booster_bundle(ids, y, raw, calibrated=None) -> TableBundle:
    labels = np.array(CLASSES)[y]
    return TableBundle(
        {
            "oof": probability_frame(ids, labels, raw if calibrated is None else calibrated, CLASSES),
            "oof_raw": probability_frame(ids, labels, raw, CLASSES),
        },
        attrs={"temperature": 1.0},
    )


def test_crossfitted_temperature_helps_overconfident_and_not_mixed_halves(oof):
    ids, y, stars, _, p = oof
    halves = star_halves(stars)
    over = np.exp(np.log(p) * 3)
    over /= over.sum(
        axis=1, keepdims=True
    )  # uniformly over-confident: T fitted on either half helps the other
    assert compare(y, over, crossfit_temperature(over, y, halves)).gain > 0
    # one half over-confident, the other under-confident: each half's temperature hurts the other half
    mixed = np.where(halves[:, None], over, np.exp(np.log(p) / 4))
    mixed /= mixed.sum(axis=1, keepdims=True)
    assert not compare(y, mixed, crossfit_temperature(mixed, y, halves), tolerance_se=2.0).passed


def test_booster_calibration_helps_fails_when_temperature_does_not_transfer(oof):
    ids, y, stars, ft, p = oof
    over = np.exp(np.log(p) * 3)
    over /= over.sum(axis=1, keepdims=True)
    assert model_assets.booster_calibration_helps(_booster_bundle(ids, y, over), ft).passed
    halves = star_halves(stars)
    mixed = np.where(halves[:, None], over, np.exp(np.log(p) / 4))
    mixed /= mixed.sum(axis=1, keepdims=True)
    assert not model_assets.booster_calibration_helps(_booster_bundle(ids, y, mixed), ft).passed
    nan = over.copy()
    nan[0] = np.nan
    assert not model_assets.booster_calibration_helps(_booster_bundle(ids, y, over, nan), ft).passed


def _blend_inputs(ids, y, p_b, p_c, min_gain_se=0.0):
    labels = np.array(CLASSES)[y]
    booster = TableBundle({"oof": probability_frame(ids, labels, p_b, CLASSES)})
    cnn = TableBundle({"oof": probability_frame(ids, labels, p_c, CLASSES)})
    blend = TableBundle(
        {},
        attrs={"blend": {"alpha": 0.5, "gate_feature": None}, "blend_config": {"min_gain_se": min_gain_se}},
    )
    return blend, booster, cnn


def test_blend_do_no_harm_fails_when_the_cnn_weight_does_not_transfer(oof):
    ids, y, stars, ft, p_b = oof
    rng = np.random.default_rng(1)
    halves = star_halves(stars)
    good = _probs(y, np.full(len(y), 4.0), rng)
    # a CNN better than the booster everywhere: the cross-fitted blend helps
    assert model_assets.blend_do_no_harm(*_blend_inputs(ids, y, p_b, good), ft).passed
    # a CNN excellent on one half and confidently wrong on the other: the weight fitted on either half
    # (no do-no-harm margin, as a broken setting would have it) harms the other half
    wrong = _probs((y + 1) % 3, np.full(len(y), 4.0), rng)
    split = np.where(halves[:, None], good, wrong)
    assert not model_assets.blend_do_no_harm(*_blend_inputs(ids, y, p_b, split), ft).passed


def test_too_few_rows_fall_back_to_the_in_sample_rule(oof):
    ids, y, stars, ft, p_b = oof
    few = slice(0, 40)  # 20 stars: fewer than 40 rows per star half
    ids, y, p_b = ids[few], y[few], p_b[few]
    rng = np.random.default_rng(2)
    p_c = _probs((y + 1) % 3, np.full(len(y), 4.0), rng)
    blend, booster, cnn = _blend_inputs(ids, y, p_b, p_c)
    blend.attrs["blend"].update(oof_logloss_blend=0.5, oof_logloss_booster=0.6)
    result = model_assets.blend_do_no_harm(blend, booster, cnn, ft)
    assert result.passed and result.metadata["mode"].value.startswith("in-sample")
    blend.attrs["blend"].update(oof_logloss_blend=0.7)
    assert not model_assets.blend_do_no_harm(blend, booster, cnn, ft).passed
    over = np.exp(np.log(p_b) * 3)
    over /= over.sum(axis=1, keepdims=True)
    fitted = apply_temperature(over, fit_temperature(over, y))  # what the asset stores: never worse in-sample
    assert model_assets.booster_calibration_helps(_booster_bundle(ids, y, over, fitted), ft).passed
    broken = apply_temperature(over, 0.2)  # a "calibration" that sharpens an over-confident model further
    assert not model_assets.booster_calibration_helps(_booster_bundle(ids, y, over, broken), ft).passed


def test_blend_metrics_finite_fails_on_nan_and_missing_stage():
    m = {"macro_f1": 0.5, "log_loss": 0.9, "ece_15": 0.1, "brier": 0.5}
    stages = ["booster", "cnn", "blend", "blend_vetting"]
    good = TableBundle({}, attrs={"metrics": {"oof": {s: m for s in stages}, "holdout": {}}})
    assert model_assets.blend_metrics_finite(good).passed
    bad = TableBundle(
        {},
        attrs={
            "metrics": {"oof": {**{s: m for s in stages}, "blend": {**m, "log_loss": np.nan}}, "holdout": {}}
        },
    )
    assert not model_assets.blend_metrics_finite(bad).passed
    missing = TableBundle({}, attrs={"metrics": {"oof": {"booster": m}, "holdout": {}}})
    assert not model_assets.blend_metrics_finite(missing).passed


def test_holdout_disjoint_fails_when_a_holdout_star_is_in_training():
    table = _table(60)
    split = make_split(table, 0.15, 0, 3, 2)
    assert model_assets.holdout_disjoint(split, table).passed
    leaked = json.loads(json.dumps(split))
    leaked["train_stars"].append(leaked["holdout_stars"][0])
    assert not model_assets.holdout_disjoint(leaked, table).passed
    dropped = json.loads(json.dumps(split))
    dropped["folds"][0]["val_signals"] = dropped["folds"][0]["val_signals"][1:]
    assert not model_assets.holdout_disjoint(dropped, table).passed


def test_feature_table_schema_fails_on_leakage_and_duplicate_ids():
    table = _table(30)
    assert feature_assets.feature_table_schema(table).passed
    assert not feature_assets.feature_table_schema(table.assign(koi_score=0.5)).passed
    assert not feature_assets.feature_table_schema(pd.concat([table, table.iloc[:1]])).passed


def test_cnn_tensors_match_features_fails_on_misaligned_or_non_finite_views():
    table = _table(10)
    ids = table["signal_id"].to_numpy(str)
    views = {name: np.zeros((len(ids), 11), np.float32) for name in feature_assets.VIEW_NAMES}
    good = ArrayBundle({**views, "signal_id": ids, "label": table["label"].to_numpy(str)})
    assert feature_assets.cnn_tensors_match_features(good, table).passed
    swapped = ArrayBundle({**views, "signal_id": ids, "label": table["label"].to_numpy(str)[::-1]})
    assert not feature_assets.cnn_tensors_match_features(swapped, table).passed
    nan_views = {**views, "local": np.full((len(ids), 11), np.nan, np.float32)}
    assert not feature_assets.cnn_tensors_match_features(
        ArrayBundle({**nan_views, "signal_id": ids, "label": table["label"].to_numpy(str)}), table
    ).passed


def test_final_report_matches_blend_fails_on_other_metrics_or_broken_files():
    metrics = {"oof": {"blend": {"macro_f1": 0.5}}}
    blend = TableBundle({}, attrs={"metrics": metrics})
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 10

    def report(doc_metrics, pdf=b"%PDF-1.4", fig=png):
        return TableBundle(
            {},
            attrs={"pages": 3, "figures": ["a.png"]},
            files={
                "metrics.json": json.dumps({"metrics": doc_metrics, "pdf": {"pages": 3}}).encode(),
                "report.pdf": pdf,
                "a.png": fig,
            },
        )

    assert report_assets.final_report_matches_blend(report(metrics), blend).passed
    assert not report_assets.final_report_matches_blend(report({"oof": {}}), blend).passed
    assert not report_assets.final_report_matches_blend(report(metrics, pdf=b"garbage"), blend).passed
    assert not report_assets.final_report_matches_blend(report(metrics, fig=b"GIF89a"), blend).passed
