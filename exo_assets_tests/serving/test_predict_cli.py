"""`exo-predict`: CSV / FITS files -> pred_<star>.json with the API's contract."""

from __future__ import annotations

import json

import pytest

from exo_assets.science.catalogs import load_catalog
from exo_assets_tests.conftest import KEPLER90_FILES, PI_MEN_FILE
from exo_assets_tests.serving.conftest import csv_bytes, small_curve
from serving.predict_cli import main
from serving.schemas import PredictionResponse


def _run(home, out, *args) -> int:
    return main([*map(str, args), "--home", str(home), "--out", str(out), "--no-progress"])


def test_csv_with_flags_and_plots(materialized_home, tmp_path):
    home, run_ids = materialized_home
    body = small_curve()
    path = tmp_path / "my star.csv"
    path.write_bytes(csv_bytes(body))
    rc = _run(
        home,
        tmp_path / "out",
        path,
        "--mission",
        "TESS",
        "--period",
        body["period"],
        "--t0",
        body["t0"],
        "--duration",
        body["duration"],
        "--plots",
    )
    assert rc == 0
    pred = PredictionResponse.model_validate(json.loads((tmp_path / "out" / "pred_my_star.json").read_text()))
    assert (
        pred.star_id == "my star"
        and pred.version.run_id == run_ids["TESS"]
        and pred.provenance == "simulated"
    )
    assert all((tmp_path / "out" / "plots" / p.split("/")[-1]).is_file() for p in pred.plots.values())


def test_kepler90_fits_with_the_shipped_catalog(materialized_home, tmp_path, capsys):
    """Three real quarters of Kepler-90 are stitched; every KOI of the star is answered with the others
    masked: Kepler-90 h (331.6 d, one transit in Q5) as a single transit, Kepler-90 g (its one transit
    overlaps planet c's and is masked away) as insufficient_data, never a class."""
    home, _ = materialized_home
    rc = _run(home, tmp_path, *KEPLER90_FILES)
    assert rc == 0
    koi = load_catalog("Kepler")
    kois = sorted(koi.loc[koi["star_id"] == "KIC 11442793", "signal_id"])
    files = sorted(p.name for p in tmp_path.glob("pred_*.json"))
    assert files == sorted(f"pred_KIC_11442793_{k.replace(' ', '_').replace('.', '_')}.json" for k in kois)
    h = PredictionResponse.model_validate_json(
        (tmp_path / "pred_KIC_11442793_KOI_K00351_01.json").read_text()
    )
    assert h.prediction is not None and "single_transit" in h.flags and h.diagnostics["n_transits"] == 1
    assert len(h.input["other_signals_masked"]) == 6 and h.inputs["period_days"].source == "catalog"
    g = PredictionResponse.model_validate_json(
        (tmp_path / "pred_KIC_11442793_KOI_K00351_02.json").read_text()
    )
    assert (
        g.decision.label == "insufficient_data"
        and g.probs is None
        and "no transit measured" in g.decision.reason
    )
    g = json.loads((tmp_path / "pred_KIC_11442793_KOI_K00351_03.json").read_text())
    pred = PredictionResponse.model_validate(g)
    assert g["signal_id"] == "KOI K00351.03" and pred.mission == "Kepler"
    assert pred.input["baseline_days"] > 250  # three quarters stitched (one is ~90 days)
    row = koi.set_index("signal_id").loc["KOI K00351.03"]
    assert pred.physics_fit.derived["delta"] * 1e6 == pytest.approx(row.depth_ppm, rel=0.3)
    printed = capsys.readouterr().out
    assert (
        "7 answered, 0 failed" in printed and "insufficient_data" in printed and "simulated model" in printed
    )
    assert "KOI K00351.03" in printed and "P(FP)" in printed


def test_catalog_csv_and_bjd_epoch(materialized_home, tmp_path):
    home, _ = materialized_home
    row = load_catalog("TESS").set_index("signal_id").loc["TOI 144.01"]
    cat = tmp_path / "mine.csv"
    cat.write_text(
        f"Star_ID,Period,T0,Duration,signal_id\nTIC 261136679,{row.period_days},"
        f"{row.epoch + 2457000.0},{row.duration_days},pi Men c\n"
    )
    assert _run(home, tmp_path / "out", PI_MEN_FILE, "--catalog", cat) == 0
    out = json.loads((tmp_path / "out" / "pred_TIC_261136679.json").read_text())
    assert out["signal_id"] == "pi Men c" and out["input"]["t0"] == pytest.approx(row.epoch)
    assert out["diagnostics"]["n_transits"] == 5


def test_cli_errors(materialized_home, tmp_path, capsys):
    home, _ = materialized_home
    assert _run(home, tmp_path, tmp_path / "missing.csv") == 2
    assert "no such file" in capsys.readouterr().err
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes(small_curve()))
    assert _run(home, tmp_path, path, "--period", "3.0") == 2
    assert "--period and --t0 go together" in capsys.readouterr().err
    (tmp_path / "empty_home").mkdir()
    assert _run(tmp_path / "empty_home", tmp_path, path, "--mission", "TESS", "--period", 3, "--t0", 1) == 2
    assert "exo-assets materialize" in capsys.readouterr().err
    # a CSV has no header: without a mission or an ephemeris it gets an error file, not a crash
    assert _run(home, tmp_path / "o", path) == 1
    err = json.loads((tmp_path / "o" / "pred_c.json").read_text())["error"]
    assert err["code"] == "BAD_INPUT" and "--period/--t0" in err["message"]
