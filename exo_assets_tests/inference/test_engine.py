"""The inference engine: input validation, decision rule, deadline, and parity with the training pipeline."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from exo_assets.inference import (
    DecisionConfig,
    FitTimeout,
    InputError,
    ModelError,
    ModelSet,
    PredictionRequest,
    PredictOptions,
    TargetInfo,
    curve_of,
    predict_curve,
    validate_curve,
)
from exo_assets.inference.response import decide
from exo_assets.science.features import MODEL_FEATURES
from exo_assets_tests.serving.conftest import small_curve
from serving.schemas import PredictionResponse


def _curve(n=400, span=10.0):
    t = np.linspace(100.0, 100.0 + span, n)
    return t, np.ones(n)


def test_validation_accepts_and_converts_bjd():
    t, f = _curve()
    v = validate_curve(curve_of(t + 2457000.0, f, mission="TESS"), 3.0, 2457101.5, None)
    assert v.curve.time[0] == pytest.approx(100.0) and v.t0 == pytest.approx(101.5)
    assert len(v.conversions) == 2 and all("BTJD" in c for c in v.conversions)
    v = validate_curve(curve_of(t, f, mission="Kepler"), 3.0, 2454934.0, 0.1)
    assert v.t0 == pytest.approx(101.0) and "BKJD" in v.conversions[0]
    assert v.n_finite == 400 and v.baseline == pytest.approx(10.0)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"flux": np.ones(399)}, "equal lengths"),
        ({"flux_err": np.ones(5)}, "flux_err has 5 values"),
        ({"time": np.linspace(0, 1, 99), "flux": np.ones(99)}, "at least 100"),
        ({"flux": np.full(400, np.nan)}, "no finite value"),
        ({"time": _curve()[0][::-1]}, "not sorted"),
        ({"time": np.r_[100.0, _curve()[0][:-1]]}, "duplicate"),
        ({"period": 0.0}, "period must be positive"),
        ({"period": -2.0}, "period must be positive"),
        ({"period": None}, "period is required"),
        ({"t0": None}, "t0 is required"),
        ({"t0": float("nan")}, "finite numbers"),
        ({"duration": 2.0}, "duration"),
        ({"duration": -0.1}, "duration"),
        ({"mission": "Hubble"}, "unknown mission"),
        ({"flux": ["a"] * 400}, "non-numeric"),
        ({"flux": np.ones((20, 20))}, "one-dimensional"),
    ],
)
def test_validation_errors(change, fragment):
    t, f = _curve()
    args = {
        "time": t,
        "flux": f,
        "flux_err": None,
        "period": 3.0,
        "t0": 101.0,
        "duration": 0.1,
        "mission": "TESS",
    }
    args.update(change)
    with pytest.raises(InputError, match=fragment):
        validate_curve(
            curve_of(args["time"], args["flux"], args["flux_err"], mission=args["mission"]),
            args["period"],
            args["t0"],
            args["duration"],
        )


def test_nan_cadences_do_not_count_as_duplicates():
    t, f = _curve(500)
    t[10:20] = np.nan  # Kepler files carry NaN times in gaps
    f[30:40] = np.nan
    v = validate_curve(curve_of(t, f, mission="Kepler"), 3.0, 101.0, 0.1)
    assert v.n_finite == 480


@pytest.mark.parametrize(
    "probs, label",
    [
        ({"CP": 0.95, "PC": 0.03, "FP": 0.02}, "high_confidence_planet"),
        ({"CP": 0.90, "PC": 0.05, "FP": 0.05}, "high_confidence_planet"),
        ({"CP": 0.60, "PC": 0.30, "FP": 0.10}, "candidate"),
        ({"CP": 0.40, "PC": 0.10, "FP": 0.50}, "false_positive"),
        ({"CP": 0.40, "PC": 0.45, "FP": 0.15}, "needs_follow_up"),
    ],
)
def test_decision_rule(probs, label):
    d = decide(probs, DecisionConfig())
    assert d["label"] == label
    c = d["confidence"]
    p = np.array(list(probs.values()))
    assert c["entropy"] == pytest.approx(-(p * np.log(p)).sum())
    assert c["confidence_index"] == pytest.approx(1 - c["entropy"] / np.log(3))
    assert c["margin"] == pytest.approx(np.sort(p)[-1] - np.sort(p)[-2])


def test_decision_thresholds_are_configurable():
    probs = {"CP": 0.6, "PC": 0.3, "FP": 0.1}
    assert decide(probs, DecisionConfig(cp_thresh=0.7, cp_high=0.95))["label"] == "needs_follow_up"
    assert decide(probs, DecisionConfig(cp_thresh=0.3, cp_high=0.55))["label"] == "high_confidence_planet"
    with pytest.raises(ValueError):
        DecisionConfig(cp_thresh=0.9, cp_high=0.5)


@pytest.fixture(scope="module")
def model_set(materialized_home) -> ModelSet:
    from serving.registry import ModelRegistry

    home, _ = materialized_home
    registry = ModelRegistry(home, ("Kepler", "TESS"))
    assert registry.refresh()
    yield registry.current
    registry.close()


def test_model_set_errors(model_set):
    with pytest.raises(InputError, match="unknown mission"):
        model_set.get("Gaia")
    with pytest.raises(ModelError, match="exo-assets materialize --mission K2"):
        model_set.get("K2")
    body = small_curve()
    with pytest.raises(ModelError):
        predict_curve(
            model_set,
            PredictionRequest(
                curve_of(body["time"], body["flux"], mission="K2"),
                body["period"],
                body["t0"],
                body["duration"],
            ),
        )


def test_deadline_stops_the_fit(model_set):
    body = small_curve()
    with pytest.raises(FitTimeout, match="time limit"):
        predict_curve(
            model_set,
            PredictionRequest(
                curve_of(body["time"], body["flux"], mission="TESS"),
                body["period"],
                body["t0"],
                body["duration"],
                deadline=time.monotonic() - 1.0,
            ),
        )


def test_missing_duration_is_estimated(model_set):
    body = small_curve()
    curve = curve_of(body["time"], body["flux"], body["flux_err"], mission="TESS")
    out = predict_curve(model_set, PredictionRequest(curve, body["period"], body["t0"], None))
    assert out["input"]["duration_source"] == "bls" and out["inputs"]["duration_days"]["source"] == "measured"
    assert out["input"]["duration_days"] == pytest.approx(body["duration"], rel=0.5)
    assert any("duration not given" in w for w in out["warnings"])


def test_unmeasured_transit_is_insufficient_data_not_a_class(model_set):
    body = small_curve()
    t = np.asarray(body["time"])
    # an ephemeris whose transits fall in no cadence: the curve is fine, the transit is not measured
    keep = np.abs(((t - body["t0"] + 0.5 * body["period"]) % body["period"]) - 0.5 * body["period"]) > 0.6
    out = predict_curve(
        model_set,
        PredictionRequest(
            curve_of(t[keep], np.asarray(body["flux"])[keep], mission="TESS"),
            body["period"],
            body["t0"],
            body["duration"],
        ),
    )
    assert (
        out["decision"]["label"] == "insufficient_data" and "no transit measured" in out["decision"]["reason"]
    )
    assert out["probs"] is None and out["prediction"] is None and out["stages"] is None
    assert any("insufficient data" in w for w in out["warnings"])
    PredictionResponse.model_validate(out)


def test_period_longer_than_the_data_is_a_single_transit(model_set):
    """One covered event and a period longer than the baseline: predicted, flagged, multi-event tests NaN."""
    body = small_curve()
    t = np.asarray(body["time"])
    out = predict_curve(
        model_set,
        PredictionRequest(
            curve_of(t, body["flux"], mission="TESS"), 3.0 * (t.max() - t.min()), body["t0"], body["duration"]
        ),
    )
    assert out["prediction"] in ("CP", "PC", "FP") and "single_transit" in out["flags"]
    assert out["diagnostics"]["n_transits"] == 1
    assert (
        out["diagnostics"]["odd_even_sigma"] is None and out["diagnostics"]["transit_depth_chi2_dof"] is None
    )
    PredictionResponse.model_validate(out)


def test_same_features_views_and_probabilities_as_training(materialized_home, model_set):
    """A training signal predicted from its raw FITS reproduces its feature-table row, its CNN views and
    the booster's probability on that row: the engine runs the training code path, not a copy of it."""
    from exo_assets.definitions import defs
    from exo_assets.science.lightcurves import read_star
    from serving.registry import open_instance

    home, _ = materialized_home
    with open_instance(home) as instance, defs.get_asset_value_loader(instance=instance) as loader:
        table = loader.load_asset_value("feature_table", partition_key="TESS")
        raw = loader.load_asset_value("raw_fits", partition_key="TESS")
        catalog = loader.load_asset_value("catalog", partition_key="TESS")
        tensors = loader.load_asset_value("cnn_tensors", partition_key="TESS")
        cleaned = loader.load_asset_value("cleaned_curves", partition_key="TESS")
    ok = table[table["status"] == "ok"]
    picks = [
        ok[ok["label"] == label].iloc[0] for label in ("CP", "PC", "FP") if (ok["label"] == label).any()
    ][:2]
    assert picks
    model = model_set.get("TESS")
    eph = cleaned["ephemerides"].set_index("signal_id")
    for row in picks:
        files = raw.set_index("signal_id").loc[row["signal_id"], "files"]
        files = json.loads(files) if isinstance(files, str) else list(files)
        lc, bad = read_star(files)
        assert lc is not None and not bad
        c = catalog.set_index("signal_id").loc[row["signal_id"]]
        siblings = catalog[(catalog["star_id"] == c["star_id"]) & (catalog["signal_id"] != row["signal_id"])]
        others = [
            (s.period_days, s.epoch, s.duration_days) for s in siblings.itertuples() if np.isfinite(s.epoch)
        ]
        lc.star_id, lc.mission = c["star_id"], "TESS"
        out = predict_curve(
            model_set,
            PredictionRequest(
                lc,
                c["period_days"],
                c["epoch"],
                c["duration_days"],
                TargetInfo(c["teff_k"], c["logg_cgs"], c["radius_rsun"], c["mag"], c["depth_ppm"]),
                PredictOptions(return_plot_data=True),
                other_signals=tuple(others),
            ),
        )
        assert out["input"]["t0"] == pytest.approx(eph.loc[row["signal_id"], "epoch"], abs=1e-12)
        ours = np.array(
            [np.nan if out["diagnostics"][k] is None else out["diagnostics"][k] for k in MODEL_FEATURES]
        )
        np.testing.assert_allclose(
            ours, row[MODEL_FEATURES].to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True
        )
        idx = int(np.flatnonzero(tensors["signal_id"] == row["signal_id"])[0])
        view = np.asarray(out["plot_data"]["local_view"]["y"], dtype=np.float32)
        np.testing.assert_array_equal(view, tensors["local"][idx])
        expected = model.booster.predict_proba(table[table["signal_id"] == row["signal_id"]])[0]
        assert list(out["stages"]["booster"].values()) == pytest.approx(expected.tolist(), abs=1e-12)
