"""The CNN options the TFRecord benchmark uses: scalar inputs in the dense head, log-loss early stopping.

Small synthetic data only (no /work/shared); a few seconds on one thread.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from exo_assets.models.cnn import CNNClassifier, CNNConfig, apply_quantile_knots, fit_quantile_knots

CLASSES = ["PC", "EB", "J"]
FAST = CNNConfig(global_channels=("global",), local_channels=("local",), global_filters=(4, 8), local_filters=(4,),
                 global_out_bins=2, local_out_bins=2, dense_units=(16,), epochs=12, batch_size=16, patience=40,
                 min_epochs=1, num_threads=1,
                 focal_gamma=0.0, class_weighting="none", lr=3e-3)


def noise_views(n: int, seed: int) -> dict[str, np.ndarray]:
    """Views without any class information (pure noise)."""
    rng = np.random.default_rng(seed)
    return {"global": rng.normal(0, 0.3, (n, 51)).astype(np.float32),
            "local": rng.normal(0, 0.3, (n, 21)).astype(np.float32)}


def scalar_table(y: np.ndarray, seed: int) -> np.ndarray:
    """Two columns: a heavy-tailed one that encodes the class (with absurd outliers) and pure noise."""
    rng = np.random.default_rng(seed)
    informative = 10.0 ** (y + rng.uniform(-0.3, 0.3, len(y)))  # 1, 10, 100 x ...
    informative[::17] = 1e25  # outliers of the kind the shards hold (depth_change)
    informative[5] = np.nan
    return np.column_stack([informative, rng.normal(0, 1, len(y))])


def test_quantile_knots_map_to_unit_interval_robustly():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.lognormal(0, 2, 500), np.full(500, 3.0), np.full(500, np.nan)])
    x[0, 0] = 1e25
    knots = fit_quantile_knots(x, 33)
    assert len(knots) == 3
    xs, ys = knots[0]
    assert np.all(np.diff(xs) > 0) and ys[0] == pytest.approx(-1) and ys[-1] == pytest.approx(1)
    z = apply_quantile_knots(np.array([[np.median(x[:, 0]), 3.0, 1.0], [1e30, 3.0, 1.0], [np.nan, np.nan, 5.0],
                                       [-1e30, 2.0, 0.0]]), knots)
    assert z.dtype == np.float32 and z.shape == (4, 3)
    assert abs(z[0, 0]) < 0.05  # the training median maps to ~0
    assert z[1, 0] == pytest.approx(1.0) and z[3, 0] == pytest.approx(-1.0)  # clamped, never beyond +-1
    assert z[2, 0] == 0.0 and z[2, 1] == 0.0  # missing -> 0 (the training median)
    assert np.all(z[:, 2] == 0.0)  # a column without training values is a constant 0 input
    assert np.isfinite(z).all()


@pytest.mark.slow
def test_scalars_reach_the_dense_head():
    n = 120
    y = np.arange(n) % 3
    views, val_views = noise_views(n, 1), noise_views(60, 2)
    yv = np.arange(60) % 3
    with_s = replace(FAST, scalar_channels=("scalars",))
    train = {**views, "scalars": scalar_table(y, 3)}
    val = {**val_views, "scalars": scalar_table(yv, 4)}
    model = CNNClassifier(CLASSES, replace(with_s, epochs=30)).fit(train, y, val, yv)
    acc = (model.predict_proba(val).argmax(axis=1) == yv).mean()
    blind = CNNClassifier(CLASSES, replace(FAST, epochs=30)).fit(views, y, val_views, yv)
    acc_blind = (blind.predict_proba(val_views).argmax(axis=1) == yv).mean()
    assert acc >= 0.75 > 0.55 >= acc_blind  # the class lives only in the scalars (chance: 1/3)
    assert model.input_lengths == {"global": 51, "local": 21, "scalars": 2}
    assert len(model.scalar_knots_) == 2


@pytest.mark.slow
def test_scalar_model_round_trip_and_input_checks(tmp_path):
    n = 60
    y = np.arange(n) % 3
    cfg = replace(FAST, epochs=2, scalar_channels=("period", "extra"))
    views = {**noise_views(n, 5), "period": scalar_table(y, 6)[:, 0], "extra": scalar_table(y, 7)}
    model = CNNClassifier(CLASSES, cfg).fit(views, y)
    assert model.input_lengths["scalars"] == 3  # (n,) and (n, 2) channels concatenated
    loaded = CNNClassifier.load(model.save(tmp_path / "cnn"))
    assert np.allclose(loaded.predict_proba(views), model.predict_proba(views))
    meta = json.loads((tmp_path / "cnn" / "config.json").read_text())
    assert len(meta["scalar_knots"]) == 3 and meta["config"]["scalar_channels"] == ["period", "extra"]
    with pytest.raises(KeyError, match="extra"):
        model.predict_proba({k: v for k, v in views.items() if k != "extra"})
    with pytest.raises(ValueError, match="scalar input columns"):
        model.predict_proba({**views, "extra": views["extra"][:, :1]})
    with pytest.raises(ValueError, match="must be"):
        model.predict_proba({**views, "period": views["period"][:10]})
    bad = model.config_dict()
    bad["scalar_knots"] = bad["scalar_knots"][:1]
    with pytest.raises(ValueError, match="scalar_knots"):
        CNNClassifier.from_dicts(bad, model.state_dict())


def test_log_loss_early_stopping_keeps_the_lowest_validation_loss():
    n = 90
    y = np.arange(n) % 3
    rng = np.random.default_rng(8)
    views = noise_views(n, 9)
    views["local"][:, 8:13] -= (y == 0)[:, None] * 1.0  # class 0 has a dip, the others not
    val = noise_views(45, 10)
    yv = np.arange(45) % 3
    val["local"][:, 8:13] -= (yv == 0)[:, None] * 1.0
    cfg = replace(FAST, epochs=10, early_stopping="log_loss", lr=1e-2 * (1 + rng.uniform()))
    model = CNNClassifier(CLASSES, cfg).fit(views, y, val, yv)
    losses = [h["val_log_loss"] for h in model.history]
    assert model.best_epoch == int(np.argmin(losses)) + 1
    p = model.predict_proba(val)
    kept = float(-np.mean(np.log(p[np.arange(len(yv)), yv])))
    assert kept == pytest.approx(min(losses), rel=1e-5)
    with pytest.raises(ValueError, match="early_stopping"):
        CNNConfig(early_stopping="accuracy")
    with pytest.raises(ValueError, match="scalar_quantiles"):
        CNNConfig(scalar_quantiles=1)
