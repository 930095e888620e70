"""Blend (temperature + linear pool + do-no-harm + gating) and physical vetting penalties."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from exo_assets.models.blend import BlendConfig, BlendModel, apply_blend, do_no_harm_holds, fit_blend
from exo_assets.models.calibration import apply_temperature, fit_temperature, log_loss
from exo_assets.models.vetting import (
    VettingConfig,
    VettingConfigError,
    apply_vetting,
    default_config_path,
    load_vetting_config,
)

CLASSES = ["CP", "PC", "FP"]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def toy(seed: int, n: int = 1500, k: int = 3):
    """Labels drawn from softmax(a + b): the booster sees a, an informative CNN sees b."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1.2, (n, k))
    b = rng.normal(0, 1.2, (n, k))
    q = softmax(a + b)
    y = (q.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    return rng, y, softmax(a), softmax(b)


# --- blend ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_noise_cnn_gets_zero_weight(seed):
    rng, y, p_booster, _ = toy(seed)
    p_noise = rng.dirichlet(np.ones(3), size=len(y))
    model = fit_blend(p_booster, p_noise, y, CLASSES)
    assert model.alpha == 0.0
    assert do_no_harm_holds(model)
    assert model.oof_logloss_blend == pytest.approx(model.oof_logloss_booster)
    np.testing.assert_allclose(
        apply_blend(model, p_booster, p_noise), apply_temperature(p_booster, model.t_booster)
    )


def test_informative_cnn_gets_positive_weight_and_lowers_log_loss():
    _, y, p_booster, p_cnn = toy(10)
    model = fit_blend(p_booster, p_cnn, y, CLASSES)
    assert 0.0 < model.alpha < 1.0
    assert model.oof_logloss_blend < model.oof_logloss_booster - 0.02
    assert model.oof_logloss_blend < model.oof_logloss_cnn
    assert do_no_harm_holds(model)
    blend = apply_blend(model, p_booster, p_cnn)
    np.testing.assert_allclose(blend.sum(axis=1), 1.0)
    assert log_loss(y, blend) == pytest.approx(model.oof_logloss_blend)


def test_no_cnn_means_booster_only():
    _, y, p_booster, p_cnn = toy(11)
    model = fit_blend(p_booster, None, y, CLASSES)
    assert model.alpha == 0.0 and model.oof_logloss_cnn is None and not model.uses_cnn
    np.testing.assert_allclose(
        apply_blend(model, p_booster, None), apply_temperature(p_booster, model.t_booster)
    )
    informed = fit_blend(p_booster, p_cnn, y, CLASSES)
    with pytest.raises(ValueError, match="p_cnn is required"):
        apply_blend(informed, p_booster, None)


def test_literal_do_no_harm_rule_without_margin():
    rng, y, p_booster, _ = toy(12)
    p_noise = rng.dirichlet(np.ones(3), size=len(y))
    model = fit_blend(p_booster, p_noise, y, CLASSES, BlendConfig(min_gain_se=0.0))
    assert do_no_harm_holds(model)
    assert model.oof_logloss_blend <= model.oof_logloss_booster


def test_temperature_scaling_fixes_over_confident_booster():
    _, y, p_booster, p_cnn = toy(13)
    over = softmax(3.0 * np.log(p_booster))  # same ranking, three times too sharp
    t = fit_temperature(over, y)
    assert t > 1.5
    model = fit_blend(over, p_cnn, y, CLASSES)
    assert model.t_booster == pytest.approx(t)
    assert model.oof_logloss_booster < log_loss(y, over) - 0.05
    assert model.oof_logloss_blend <= model.oof_logloss_booster


def test_gated_blend_per_bin_alphas_never_worse_than_booster():
    rng, y, p_booster, p_cnn = toy(14, n=2400)
    snr = rng.uniform(5, 50, len(y))
    low = snr < np.quantile(snr, 1 / 3)
    p_cnn = p_cnn.copy()
    p_cnn[low] = rng.dirichlet(np.ones(3), size=int(low.sum()))  # the CNN is useless at low SNR
    snr[:20] = np.nan  # a few rows without a gate value
    config = BlendConfig(gate_feature="transit_snr", gate_bins=3)
    model = fit_blend(p_booster, p_cnn, y, CLASSES, config, gate_values=snr)
    assert model.gate_feature == "transit_snr"
    assert len(model.gate_edges) == 2 and len(model.gate_alphas) == 3
    assert sum(model.gate_counts) == len(y) - 20
    assert model.gate_alphas[0] == 0.0
    assert model.gate_alphas[1] > 0.0 and model.gate_alphas[2] > 0.0
    assert do_no_harm_holds(model)

    blend = apply_blend(model, p_booster, p_cnn, gate_values=snr)
    booster = apply_temperature(p_booster, model.t_booster)
    idx = np.searchsorted(model.gate_edges, snr, side="right")
    idx[np.isnan(snr)] = -1
    for b in [-1, 0, 1, 2]:
        sel = idx == b
        assert log_loss(y[sel], blend[sel]) <= log_loss(y[sel], booster[sel]) + 1e-12
    assert log_loss(y, blend) == pytest.approx(model.oof_logloss_blend)
    with pytest.raises(ValueError, match="gate_values"):
        apply_blend(model, p_booster, p_cnn)


def test_small_gate_bins_fall_back_safely():
    _, y, p_booster, p_cnn = toy(15, n=300)
    gate = np.arange(len(y), dtype=float)
    model = fit_blend(
        p_booster,
        p_cnn,
        y,
        CLASSES,
        BlendConfig(gate_feature="transit_snr", gate_bins=20, min_rows_per_gate=30),
        gate_values=gate,
    )
    assert all(a in (0.0, model.alpha) for a in model.gate_alphas)
    assert do_no_harm_holds(model)


def test_blend_model_json_round_trip():
    rng, y, p_booster, p_cnn = toy(16)
    gate = rng.uniform(0, 1, len(y))
    for model in (
        fit_blend(p_booster, p_cnn, y, CLASSES),
        fit_blend(p_booster, None, y, CLASSES),
        fit_blend(p_booster, p_cnn, y, CLASSES, BlendConfig(gate_feature="transit_snr"), gate_values=gate),
    ):
        text = json.dumps(model.to_dict(), allow_nan=False)
        back = BlendModel.from_dict(json.loads(text))
        assert back == model
        np.testing.assert_allclose(
            apply_blend(back, p_booster, p_cnn, gate), apply_blend(model, p_booster, p_cnn, gate)
        )


def test_blend_config_validation():
    with pytest.raises(ValueError):
        BlendConfig(alpha_max=1.5)
    with pytest.raises(ValueError):
        BlendConfig(alpha_grid=1)
    with pytest.raises(ValueError):
        BlendConfig(gate_bins=(3.0, 1.0))
    _, y, p_booster, p_cnn = toy(17, n=50)
    with pytest.raises(ValueError, match="gate_values"):
        fit_blend(p_booster, p_cnn, y, CLASSES, BlendConfig(gate_feature="transit_snr"))
    with pytest.raises(ValueError, match="shape"):
        fit_blend(p_booster[:, :2], p_cnn, y, CLASSES)


# --- vetting -------------------------------------------------------------------------------------

#: The hand-set version-1 rules the penalty tests use (the packaged file's thresholds are now set on
#: injections per mission and its weights are fitted in the blend asset).
HAND_RULES = {
    "version": 1,
    "negative_classes": ["FP"],
    "rules": [
        {"flag": "v_shaped", "feature": "v_shape", "op": ">", "threshold": 0.8, "weight": 1.0},
        {"flag": "odd_even_depth", "feature": "odd_even_sigma", "op": ">", "threshold": 3.0, "weight": 2.0},
        {
            "flag": "secondary_eclipse",
            "feature": "secondary_sigma",
            "op": ">",
            "threshold": 5.0,
            "weight": 2.0,
        },
        {"flag": "other_dip", "feature": "max_other_sigma", "op": ">", "threshold": 7.0, "weight": 1.0},
        {
            "flag": "duration_mismatch",
            "feature": "duration_ratio",
            "op": "outside",
            "thresholds": [0.3, 3.0],
            "weight": 0.5,
        },
        {
            "flag": "density_mismatch",
            "feature": "density_ratio",
            "op": "outside",
            "thresholds": [0.1, 10.0],
            "weight": 0.5,
        },
    ],
}


def hand_config() -> VettingConfig:
    return VettingConfig.from_dict(HAND_RULES, source="test")


def vetting_rows() -> tuple[np.ndarray, pd.DataFrame]:
    features = pd.DataFrame(
        {
            "v_shape": [0.95, 0.1, np.nan, 0.2],
            "odd_even_sigma": [8.0, 0.5, np.nan, 0.3],
            "secondary_sigma": [10.0, 0.2, np.nan, 1.0],
            "max_other_sigma": [10.0, 2.0, np.nan, 2.5],
            "duration_ratio": [1.0, 0.8, np.nan, 5.0],
            "density_ratio": [1.0, 1.1, np.nan, 0.9],
        },
        index=["eb", "planet", "unmeasured", "long"],
    )
    proba = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])
    return proba, features


def test_packaged_config_loads():
    config = load_vetting_config()
    assert config.version == 2
    assert config.negative_classes == ("FP",)
    for mission in ("Kepler", "K2", "TESS"):  # every rule thresholded on each mission's injections
        assert all(
            mission in r.threshold_by_mission and r.injection[mission]["false_alarm_planets"] <= 0.01
            for r in config.rules
        )
    expected = {"v_shaped", "odd_even_depth", "secondary_eclipse", "duration_mismatch", "density_mismatch"}
    assert expected <= set(config.flags)
    assert config == load_vetting_config(default_config_path())


def test_vetting_penalises_eb_like_row_only():
    proba, features = vetting_rows()
    config = hand_config()
    res = apply_vetting(proba, features, CLASSES, config)
    out = res.proba
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert list(res.flags.index) == list(features.index) and list(res.penalty.index) == list(features.index)
    assert list(res.flags.columns) == config.flags
    # EB-like: every EB rule fires, planet probability drops, CP:PC ratio kept.
    assert res.flags.loc["eb", ["v_shaped", "odd_even_depth", "secondary_eclipse", "other_dip"]].all()
    assert res.penalty["eb"] == pytest.approx(1.0 + 2.0 + 2.0 + 1.0)
    assert out[0, :2].sum() < 0.05 < proba[0, :2].sum()
    assert out[0, 0] / out[0, 1] == pytest.approx(proba[0, 0] / proba[0, 1])
    odds_before = proba[0, :2].sum() / proba[0, 2]
    assert out[0, :2].sum() / out[0, 2] == pytest.approx(odds_before * np.exp(-res.penalty["eb"]))
    # Clean planet and unmeasured (NaN) rows are untouched.
    assert not res.flags.loc["planet"].any() and not res.flags.loc["unmeasured"].any()
    assert res.penalty["planet"] == 0.0 and res.penalty["unmeasured"] == 0.0
    np.testing.assert_array_equal(out[1], proba[1])
    np.testing.assert_array_equal(out[2], proba[2])
    # "outside" rule.
    assert res.flags.loc["long"].tolist() == [f == "duration_mismatch" for f in config.flags]
    assert out[3, 2] > proba[3, 2]


def test_vetting_negative_classes_override():
    proba, features = vetting_rows()
    classes = ["PC", "EB", "J"]
    with pytest.raises(ValueError, match="negative classes"):
        apply_vetting(proba, features, classes, hand_config())
    res = apply_vetting(proba, features, classes, hand_config(), negative_classes=["EB", "J"])
    assert res.negative_classes == ["EB", "J"]
    assert res.proba[0, 0] < proba[0, 0]
    assert res.proba[0, 1] / res.proba[0, 2] == pytest.approx(proba[0, 1] / proba[0, 2])
    np.testing.assert_allclose(res.proba.sum(axis=1), 1.0)


def test_vetting_missing_feature_column():
    proba, features = vetting_rows()
    with pytest.raises(ValueError, match="density_ratio"):
        apply_vetting(proba, features.drop(columns="density_ratio"), CLASSES, hand_config())
    res = apply_vetting(
        proba, features.drop(columns="density_ratio"), CLASSES, hand_config(), allow_missing=True
    )
    assert not res.flags["density_mismatch"].any()


def test_vetting_config_json_round_trip():
    config = hand_config()
    back = VettingConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config


GOOD_RULE = "  - {flag: v, feature: v_shape, op: '>', threshold: 0.8, weight: 1.0}\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 1\nrules:\n" + GOOD_RULE.replace("'>'", "'=='"), "unknown op"),
        (
            "version: 1\nrules:\n  - {flag: v, feature: v_shape, op: '>', threshold: 0.8}\n",
            "missing 'weight'",
        ),
        ("version: 1\nrules:\n" + GOOD_RULE.replace("weight: 1.0", "weight: -1.0"), "'weight' must be"),
        ("version: 3\nrules:\n" + GOOD_RULE, "unsupported version"),
        (
            "version: 2\nrules:\n" + GOOD_RULE.replace("}", ", threshold_by_mission: {Kepler: [1, 2]}}"),
            "threshold_by_mission",
        ),
        ("version: 2\ntemperature: -1\nrules:\n" + GOOD_RULE, "'temperature' must be"),
        ("rules:\n" + GOOD_RULE, "missing 'version'"),
        ("version: 1\nrules:\n" + GOOD_RULE.replace("v_shape", "v_shap"), "unknown feature"),
        (
            "version: 1\nrules:\n"
            "  - {flag: d, feature: density_ratio, op: outside, thresholds: [10, 0.1], weight: 1}\n",
            "low < high",
        ),
        (
            "version: 1\nrules:\n"
            "  - {flag: d, feature: density_ratio, op: outside, threshold: 3, weight: 1}\n",
            "thresholds",
        ),
        ("version: 1\nrules:\n" + GOOD_RULE + GOOD_RULE, "duplicate flag"),
        ("version: 1\nrules:\n" + GOOD_RULE.replace("weight:", "wieght:"), "unknown keys"),
        ("version: 1\nrules: [\n", "not valid YAML"),
        ("- just a list\n", "top level must be a mapping"),
    ],
)
def test_bad_yaml_gives_clear_error(tmp_path, text, message):
    path = tmp_path / "vetting.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_vetting_config(path)
    assert isinstance(info.value, VettingConfigError)
    assert str(path) in str(info.value)


def test_vetting_v2_per_mission_thresholds_temperature_and_bias():
    raw = {**HAND_RULES, "version": 2, "temperature": 0.5, "bias": 1.0}
    raw["rules"] = [dict(r) for r in HAND_RULES["rules"]]
    raw["rules"][1]["threshold_by_mission"] = {"Kepler": 9.0}
    raw["rules"][4]["threshold_by_mission"] = {"TESS": [0.5, 2.0]}
    config = VettingConfig.from_dict(raw)
    assert VettingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    kep, tess = config.for_mission("Kepler"), config.for_mission("TESS")
    assert kep.rules[1].threshold == 9.0 and tess.rules[1].threshold == 3.0
    assert tess.rules[4].thresholds == (0.5, 2.0) and kep.rules[4].thresholds == (0.3, 3.0)
    proba, features = vetting_rows()
    res = apply_vetting(proba, features, CLASSES, kep)
    assert not res.flags.loc["eb", "odd_even_depth"]  # 8 sigma < Kepler's 9
    # temperature and bias act on every row: the clean planet row is re-calibrated too
    z = 0.5 * np.log(proba[1])
    z[2] += 1.0
    np.testing.assert_allclose(res.proba[1], softmax(z[None])[0])
