"""SHAP values of the booster (LightGBM TreeSHAP), gain shares, and the thumbnails used in the Dagster UI."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from exo_assets.reporting.explain import booster_shap, gain_share
from exo_assets.reporting.figures import shrink_png, small_png, to_png
from exo_assets_tests.reporting.synthetic import CLASSES, FEATURES, synthetic_inputs


@pytest.fixture(scope="module")
def inputs():
    return synthetic_inputs(seed=1)


def test_shap_values_add_up_to_the_raw_class_margins(inputs):
    model = inputs.booster
    X = inputs.feature_table[inputs.feature_table["status"] == "ok"]
    shap = booster_shap(model, X, max_rows=1000)
    assert shap.values.shape == (len(X), len(CLASSES), len(FEATURES))
    raw = model.booster.predict(X[FEATURES].to_numpy(float), raw_score=True)
    np.testing.assert_allclose(shap.values.sum(axis=2) + shap.bias, raw, rtol=0, atol=1e-6)
    # the FP class is driven by the features the synthetic FPs differ in
    top = shap.mean_abs().iloc[0]
    assert top["feature"] in {"depth_ppm", "v_shape", "odd_even_sigma"}
    assert top["total"] == pytest.approx(top[CLASSES].sum())


def test_shap_sample_is_bounded_and_seeded(inputs):
    X = inputs.feature_table[inputs.feature_table["status"] == "ok"]
    a = booster_shap(inputs.booster, X, max_rows=10, seed=4)
    b = booster_shap(inputs.booster, X, max_rows=10, seed=4)
    assert a.values.shape[0] == 10 and a.n_total == len(X)
    np.testing.assert_array_equal(a.data, b.data)


def test_shap_refuses_missing_feature_columns_and_bad_sizes(inputs):
    X = inputs.feature_table.drop(columns=["v_shape"])
    with pytest.raises(ValueError, match="v_shape"):
        booster_shap(inputs.booster, X)
    with pytest.raises(ValueError, match="max_rows"):
        booster_shap(inputs.booster, inputs.feature_table, max_rows=0)


def test_gain_share_sums_to_one_and_is_sorted():
    share = gain_share(pd.DataFrame({"feature": ["a", "b", "c"], "gain": [1.0, 3.0, 0.0]}))
    assert share["feature"].tolist() == ["b", "a", "c"]
    assert share["share"].sum() == pytest.approx(1.0) and share["share"].iloc[0] == pytest.approx(0.75)


def test_pngs_have_the_size_asked_for_and_thumbnails_shrink():
    fig = Figure(figsize=(4.0, 2.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    png = to_png(fig, 50)
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (200, 125)
    small = small_png(lambda f: f.add_subplot().bar(["x", "y"], [1, 2]), (5.0, 4.0), dpi=60)
    with Image.open(io.BytesIO(small)) as img:
        assert img.size == (300, 240)
    thumb = shrink_png(small, 150)
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.size == (150, 120)
    assert shrink_png(small, 1000) == small  # never enlarged
