"""Parity on real data: the served real-label model (vetting set, PC / EB / J) calls four sector-1 TESS
planets PC when exo-predict asks with the shipped TOI catalog's ephemeris.

Needs ../shared/data/fits/tess and a Dagster home holding the TESS mission models and the vetting model:
EXO_REAL_LABEL_HOME (else DAGSTER_HOME), made with
`exo-assets materialize --mission TESS --targets 40 --cnn-epochs 3` and
`exo-assets materialize-external --set vetting --dir ../shared/data/astronet_vetting`. Skips otherwise.
`pytest exo_assets_tests/serving/test_real_label_parity.py -s` prints p(PC) per star (docs/real-data.md).
"""

import json
import os
from pathlib import Path

import pytest

FITS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "fits" / "tess"
#: TIC -> (planet, period d): the vetting shards' PCs of sector 1 with SPOC files in ../shared.
PLANETS = {
    261136679: ("pi Men c", 6.2679),
    410153553: ("LHS 3844 b", 0.46293),
    394137592: ("HD 1397 b", 11.535),
    266980320: ("HD 219666 b", 6.0360),
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home():
    if not FITS_DIR.is_dir():
        pytest.skip(f"{FITS_DIR} absent (../shared not mounted)")
    value = os.environ.get("EXO_REAL_LABEL_HOME") or os.environ.get("DAGSTER_HOME")
    if not value or not Path(value).is_dir():
        pytest.skip("no Dagster home: set EXO_REAL_LABEL_HOME (or DAGSTER_HOME)")
    from serving.registry import ModelRegistry

    reg = ModelRegistry(value, missions=("TESS",))
    reg.refresh()
    current = reg.current
    reg.close()
    if current.real_label is None or "TESS" not in current.models:
        pytest.skip(
            f"{value} lacks the TESS mission models or the vetting model "
            f"({current.real_label_error or 'not materialized'})"
        )
    return value


def test_served_model_calls_the_four_planets_pc(home, tmp_path, monkeypatch, capsys):
    from serving import predict_cli

    files = [str(next(FITS_DIR.glob(f"*s0001-*{tic:016d}*"))) for tic in PLANETS]
    monkeypatch.setenv("DAGSTER_HOME", home)
    predict_cli.main([*files, "--json", "--no-progress", "--out", str(tmp_path)])
    results = json.loads(capsys.readouterr().out)
    p_pc, calls = {}, {}
    for tic, (name, period) in PLANETS.items():
        mine = [
            r
            for r in results
            if r.get("star_id") == f"TIC {tic}"
            and "error" not in r
            and abs(r["inputs"]["period_days"]["value"] - period) < 0.01 * period
        ]
        assert mine, f"TIC {tic}: no answer for the planet's catalog signal"
        block = mine[0]["real_label_model"]
        assert block["status"] == "ok", block
        p_pc[tic], calls[tic] = block["probs"]["PC"], block["prediction"]
        print(
            f"TIC {tic} ({name}): p_PC {block['probs']['PC']:.3f}, p_EB {block['probs']['EB']:.3f}, "
            f"p_J {block['probs']['J']:.3f}; inputs {block['inputs']}"
        )
    assert all(c == "PC" for c in calls.values()), (calls, p_pc)
