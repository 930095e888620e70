"""The inference API end to end through TestClient, on models materialized in a temporary Dagster home."""

from __future__ import annotations

import numpy as np
import pytest

from exo_assets.science.catalogs import load_catalog
from exo_assets.science.features import MODEL_FEATURES
from exo_assets_tests.conftest import KEPLER90_FILES, PI_MEN_FILE
from exo_assets_tests.serving.conftest import csv_bytes, multipart, small_curve
from serving.schemas import BatchResponse, ModelsInfo, PredictionResponse


def test_healthz_lists_loaded_missions(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["models_loaded"] == ["Kepler", "TESS"]


def test_models_info_reports_the_dagster_materializations(client, materialized_home):
    _, run_ids = materialized_home
    r = client.get("/api/models/info")
    assert r.status_code == 200
    info = ModelsInfo.model_validate(r.json()).model_dump()
    assert set(info["missions"]) == {"Kepler", "TESS"}
    assert set(info["not_loaded"]) == {"K2"}
    for mission, details in info["missions"].items():
        assert details["run_id"] == run_ids[mission]  # the run that materialized the blend
        assert {a["run_id"] for a in details["lineage"].values()} == {run_ids[mission]}
        assert details["provenance"] == "simulated" and "simulated" in details["notice"]
        assert details["features"] and set(details["features"]) <= set(MODEL_FEATURES)
        assert len(details["model_hash"]) == 16 and details["trained_at"].startswith("20")
        assert set(details["holdout_metrics"]) >= {"macro_f1", "logloss", "ece", "brier"}
        assert details["decision_thresholds"] == {"cp_high": 0.9, "cp_thresh": 0.5}
    assert info["missions"]["Kepler"]["model_hash"] != info["missions"]["TESS"]["model_hash"]


def _check_prediction(body: dict) -> PredictionResponse:
    pred = PredictionResponse.model_validate(body)
    probs = pred.probs.model_dump()
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert pred.prediction == max(probs, key=probs.get)
    assert pred.provenance == "simulated"
    assert any("simulated" in w for w in pred.warnings)
    if pred.vetting.enabled:
        assert pred.vetting.post_penalty_probs.model_dump() == pytest.approx(probs)
    shap = [abs(s.shap) for s in pred.explainability.top_shap]
    assert shap == sorted(shap, reverse=True)
    return pred


def test_predict_json_measures_the_injected_planet(client, curve_body, materialized_home):
    _, run_ids = materialized_home
    r = client.post("/api/predict", json=curve_body)
    assert r.status_code == 200, r.text
    pred = _check_prediction(r.json())
    assert pred.version.run_id == run_ids["TESS"] and pred.mission == "TESS"
    fit = pred.physics_fit
    assert fit.status == "estimated"
    assert fit.params["Rp_Rs"] == pytest.approx(0.03, rel=0.2)  # synthetic_curve injects Rp/Rs = 0.03
    assert fit.goodness["delta_bic_vs_notransit"] < -50  # a transit is strongly preferred
    label = pred.decision.label
    p_cp = pred.probs.CP
    assert (label == "high_confidence_planet") == (p_cp >= 0.9)
    assert (label == "candidate") == (0.5 <= p_cp < 0.9)
    assert pred.plots is None and pred.plot_data is None


def test_multipart_csv_equals_json(client, curve_body):
    j = client.post("/api/predict", json=curve_body).json()
    meta = {k: curve_body[k] for k in ("star_id", "mission", "period", "t0", "duration")}
    # case-insensitive column names
    r = client.post("/api/predict", **multipart(csv_bytes(curve_body, "TIME,Flux,FLUX_ERR"), meta))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["probs"] == pytest.approx(j["probs"], abs=1e-12)
    assert m["physics_fit"]["params"] == pytest.approx(j["physics_fit"]["params"], abs=1e-12)


def test_plots_and_plot_data(client, curve_body):
    body = dict(curve_body, options={"return_plots": True, "return_plot_data": True, "top_k_shap": 3})
    r = client.post("/api/predict", json=body)
    assert r.status_code == 200, r.text
    pred = _check_prediction(r.json())
    assert len(pred.explainability.top_shap) == 3
    assert set(pred.plots) == {"phase_global", "phase_local", "residuals", "reliability"}
    for url in pred.plots.values():
        png = client.get(url)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    data = pred.plot_data
    info = client.get("/api/models/info").json()["missions"]["TESS"]["view_config"]
    assert (
        len(data["phase"]["x"])
        == len(data["phase"]["y"])
        == len(data["phase"]["y_model"])
        == info["global_bins"]
    )
    assert len(data["local_view"]["y"]) == info["local_bins"]
    assert min(data["local_view"]["y"]) == pytest.approx(-1.0, abs=1e-6)  # CNN input: transit minimum at -1
    assert len(data["local"]["x"]) == len(data["residuals"]["r"])
    assert np.std(data["residuals"]["r"]) < 3 * pred.diagnostics["oot_scatter_ppm"]
    assert sum(data["reliability"]["counts"]) > 0


def _catalog_row(mission, signal):
    return load_catalog(mission).set_index("signal_id").loc[signal]


def test_real_kepler90_fits_end_to_end(client):
    """Kepler-90 g (KOI K00351.03, 59.7 d, 566 ppm) in the real DR25 quarter-3 file: the Kepler model
    answers."""
    row = _catalog_row("Kepler", "KOI K00351.03")
    cat = load_catalog("Kepler")
    others = [
        [r.period_days, r.epoch, r.duration_days]
        for r in cat[cat.star_id == "KIC 11442793"].itertuples()
        if r.signal_id != "KOI K00351.03"
    ]
    meta = {
        "period": row.period_days,
        "t0": row.epoch,
        "duration": row.duration_days,
        "other_signals": others,
    }
    r = client.post(
        "/api/predict", **multipart(KEPLER90_FILES[0].read_bytes(), meta, filename=KEPLER90_FILES[0].name)
    )
    assert r.status_code == 200, r.text
    pred = _check_prediction(r.json())
    assert pred.star_id == "KIC 11442793" and pred.mission == "Kepler"  # from the FITS header
    assert pred.input["time_system"] == "BKJD" and pred.input["n_used"] > 3000
    assert pred.diagnostics["n_transits"] >= 2
    assert pred.physics_fit.derived["delta"] * 1e6 == pytest.approx(row.depth_ppm, rel=0.3)
    assert pred.diagnostics["teff_k"] is not None  # stellar parameters read from the header


def test_real_tess_pi_men_c_with_bjd_epoch(client):
    """pi Men c (TOI 144.01) in the real sector-1 SPOC file, t0 given in BJD: converted to BTJD."""
    row = _catalog_row("TESS", "TOI 144.01")
    meta = {"period": row.period_days, "t0": row.epoch + 2457000.0, "duration": row.duration_days}
    r = client.post("/api/predict", **multipart(PI_MEN_FILE.read_bytes(), meta, filename=PI_MEN_FILE.name))
    assert r.status_code == 200, r.text
    pred = _check_prediction(r.json())
    assert pred.star_id == "TIC 261136679" and pred.mission == "TESS"
    assert any("BJD" in w for w in pred.warnings)
    assert pred.input["t0"] == pytest.approx(row.epoch)
    assert abs(pred.diagnostics["epoch_offset_days"]) < 0.25 * row.duration_days  # the transit is at t0
    assert pred.diagnostics["n_transits"] == 5
    assert 150 < pred.diagnostics["depth_ppm"] < 400  # ~240 ppm in this file (see test_diagnostics)


def test_batch_mixes_results_and_errors(client, curve_body):
    bad = dict(curve_body, period=-1.0)
    other = small_curve(seed=1)
    r = client.post("/api/predict/batch", json={"items": [curve_body, bad, other]})
    assert r.status_code == 200, r.text
    batch = BatchResponse.model_validate(r.json())
    assert (batch.n_ok, batch.n_failed) == (2, 1)
    assert [i.index for i in batch.results] == [0, 1, 2]
    assert batch.results[1].error.code == "BAD_INPUT" and "period" in batch.results[1].error.message
    assert batch.results[0].result.star_id == "SIM 0" and batch.results[2].result.star_id == "SIM 1"
    single = client.post("/api/predict", json=curve_body).json()
    assert batch.results[0].result.probs.model_dump() == pytest.approx(single["probs"], abs=1e-12)


def test_openapi_documents_every_model(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in (
        "PredictRequest",
        "MultipartPredict",
        "BatchRequest",
        "PredictionResponse",
        "BatchResponse",
        "ErrorResponse",
        "ModelsInfo",
        "Health",
        "PhysicsFit",
        "Decision",
        "Vetting",
        "Explainability",
    ):
        assert name in schemas, name
    body = spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    responses = spec["paths"]["/api/predict"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("PredictionResponse")
    for status in ("400", "413", "422", "503", "504"):
        assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")


def test_no_models_gives_503_with_how_to(tmp_path, curve_body):
    from exo_assets_tests.serving.conftest import make_client

    (tmp_path / "home").mkdir()
    with make_client(tmp_path / "home", tmp_path) as c:
        assert c.get("/healthz").json()["status"] == "no_models"
        for r in (c.get("/api/models/info"), c.post("/api/predict", json=curve_body)):
            assert r.status_code == 503
            err = r.json()["error"]
            assert err["code"] == "MODEL_ERROR" and "exo-assets materialize" in err["message"]


def test_shap_values_add_up_to_the_booster_margin(client, curve_body):
    """All SHAP values of the explained class plus the base value equal the booster's raw margin."""
    import pandas as pd

    r = client.post("/api/predict", json=dict(curve_body, options={"top_k_shap": 50}))
    pred = r.json()
    booster = client.app.state.registry.current.get("TESS").booster
    exp = pred["explainability"]
    assert len(exp["top_shap"]) == len(booster.features)
    row = pd.DataFrame([{k: (np.nan if v is None else v) for k, v in pred["diagnostics"].items()}])
    raw = booster.booster.predict(
        row[booster.features].to_numpy(float),
        raw_score=True,
        num_iteration=booster.booster.best_iteration or None,
    )[0]
    k = booster.classes.index(exp["class"])
    assert exp["class"] == pred["prediction"]
    assert sum(s["shap"] for s in exp["top_shap"]) + exp["base_value"] == pytest.approx(raw[k], abs=1e-9)
