"""Split invariants, temperature scaling, metrics and the LightGBM booster on tiny data."""

import numpy as np
import pandas as pd
import pytest

from exo_assets.models.booster import BoosterConfig, BoosterModel, train_calibrated_booster
from exo_assets.models.calibration import apply_temperature, fit_temperature, log_loss
from exo_assets.models.datasets import CLASSES, encode_labels, index_folds, make_split, train_holdout
from exo_assets.models.metrics import classification_metrics, expected_calibration_error
from exo_assets.models.splits import cv_folds, holdout_split
from exo_assets.science.features import MODEL_FEATURES, conform


def _table(n_stars=90, seed=0):
    """A feature table where 'depth_ppm' and 'odd_even_sigma' carry the label; some stars have 2-3 signals."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_stars):
        label = CLASSES[s % 3]
        for k in range(1 + (s % 4 == 0) + (s % 7 == 0)):
            row = {c: rng.normal() for c in MODEL_FEATURES}
            row.update(
                signal_id=f"S{s:03d}.{k}",
                star_id=f"STAR {s}",
                mission="Kepler",
                label=label,
                status="ok",
                reason="",
                epoch_source="catalog",
                provenance="simulated",
                nan_reasons="{}",
                ma_fit_status="ok",
            )
            row["depth_ppm"] = {"CP": 1.0, "PC": 0.0, "FP": -1.0}[label] + 0.3 * rng.normal()
            row["odd_even_sigma"] = (6.0 if label == "FP" else 0.5) + rng.normal()
            rows.append(row)
    return conform(pd.DataFrame(rows))


def test_holdout_split_groups_stars_stratifies_and_is_seeded():
    table = _table()
    split = holdout_split(table, 0.12, seed=3)
    assert not set(split["train_stars"]) & set(split["holdout_stars"])
    assert set(split["train_stars"]) | set(split["holdout_stars"]) == set(table["star_id"])
    assert 0.08 < len(split["holdout_stars"]) / table["star_id"].nunique() < 0.16
    held = table[table["star_id"].isin(split["holdout_stars"])]
    assert set(held["label"]) == set(CLASSES)  # stratified: every class held out
    assert holdout_split(table, 0.12, seed=3) == split
    assert holdout_split(table, 0.12, seed=4) != split


def test_cv_folds_never_split_a_star_and_cover_each_row_once_per_repeat():
    table = _table()
    folds = cv_folds(table["label"].to_numpy(), table["star_id"].to_numpy(), n_splits=5, n_repeats=3, seed=1)
    assert len(folds) == 15
    counts = np.zeros(len(table), int)
    for tr, va in folds:
        assert not set(table["star_id"].iloc[tr]) & set(table["star_id"].iloc[va])
        counts[va] += 1
    assert (counts == 3).all()


def test_make_split_folds_exclude_holdout_and_round_trip_to_indices():
    table = _table()
    split = make_split(table, 0.12, seed=0, n_splits=4, n_repeats=2)
    train, hold = train_holdout(table, split)
    assert not set(train["star_id"]) & set(hold["star_id"])
    fold_signals = {s for f in split["folds"] for s in f["val_signals"]}
    assert fold_signals == set(train["signal_id"])
    folds = index_folds(train, split)
    assert len(folds) == 8
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(train)


def test_temperature_scaling_lowers_log_loss_of_overconfident_toy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    true_p = np.full((2000, 3), 0.2)
    true_p[np.arange(2000), y] = 0.6
    # predictions: right class 70% of the time, but stated with 99% confidence
    pred_cls = np.where(rng.random(2000) < 0.7, y, (y + 1) % 3)
    over = np.full((2000, 3), 0.005)
    over[np.arange(2000), pred_cls] = 0.99
    t = fit_temperature(over, y)
    assert t > 1.5
    assert log_loss(y, apply_temperature(over, t)) < 0.8 * log_loss(y, over)
    assert expected_calibration_error(y, apply_temperature(over, t)) < expected_calibration_error(y, over)
    assert np.allclose(apply_temperature(over, t).sum(axis=1), 1.0)


def test_temperature_never_worsens_well_calibrated_predictions():
    rng = np.random.default_rng(1)
    p = rng.dirichlet([1, 1, 1], 3000)
    y = np.array([rng.choice(3, p=row) for row in p])
    t = fit_temperature(p, y)
    assert log_loss(y, apply_temperature(p, t)) <= log_loss(y, p) + 1e-12
    assert 0.8 < t < 1.25


def test_classification_metrics_content():
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]])
    m = classification_metrics(y, p, CLASSES)
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert m["per_class"]["FP"]["recall"] == 0.5
    assert 0 <= m["binary_roc_auc"] <= 1 and "binary_pr_auc" in m
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.7, 0.2])))


def test_booster_trains_calibrates_and_predicts_on_tiny_data():
    table = _table(120)
    split = make_split(table, 0.15, seed=0, n_splits=3, n_repeats=1)
    train, hold = train_holdout(table, split)
    y = encode_labels(train["label"])
    model, oof_raw, oof = train_calibrated_booster(
        train[MODEL_FEATURES],
        y,
        train["star_id"].to_numpy(),
        index_folds(train, split),
        CLASSES,
        BoosterConfig(num_boost_round=200, num_threads=1),
    )
    assert oof.shape == (len(train), 3) and np.allclose(oof.sum(axis=1), 1)
    assert classification_metrics(y, oof, CLASSES)["macro_f1"] > 0.8
    proba = model.predict_proba(hold)
    assert (proba.argmax(1) == encode_labels(hold["label"])).mean() > 0.7
    # native text model + JSON round trip predicts the same
    again = BoosterModel.from_text(model.to_text(), model.to_json())
    assert np.allclose(again.predict_proba(hold), proba)
    assert set(model.feature_importance()["feature"].head(2)) == {"depth_ppm", "odd_even_sigma"}


def test_booster_refuses_leakage_columns():
    table = _table(30)
    X = table[MODEL_FEATURES].assign(koi_score=1.0)
    y = encode_labels(table["label"])
    with pytest.raises(ValueError, match="leakage"):
        train_calibrated_booster(
            X, y, table["star_id"].to_numpy(), cv_folds(y, table["star_id"].to_numpy(), 3, 1), CLASSES
        )
