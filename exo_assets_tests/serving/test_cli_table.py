"""The table `exo-predict` prints (`serving.cli_table`) and `exo-predict --help`'s speed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from serving.cli_table import SIMULATED_NOTICE, format_results

ROOT = Path(__file__).resolve().parents[2]


def test_table_rows_for_a_class_insufficient_data_and_an_error():
    results = [
        {
            "star_id": "TIC 1",
            "signal_id": "TOI 1.01",
            "prediction": "CP",
            "provenance": "simulated",
            "probs": {"CP": 0.71234, "PC": 0.2, "FP": 0.08766},
            "decision": {"label": "candidate"},
            "flags": ["single_transit", "other_dip"],
        },
        {
            "star_id": "KIC 2",
            "signal_id": "KOI K1.01",
            "prediction": None,
            "probs": None,
            "provenance": "simulated",
            "decision": {"label": "insufficient_data", "reason": "no transit measured: gap"},
            "flags": [],
        },
        {
            "star_id": "KIC 3",
            "signal_id": "",
            "error": {"code": "BAD_INPUT", "message": "period is required"},
        },
    ]
    text = format_results(results)
    lines = text.splitlines()
    assert lines[0].split() == ["star", "signal", "class", "P(CP)", "P(PC)", "P(FP)", "decision", "flags"]
    assert "0.712" in lines[2] and "candidate" in lines[2] and "single_transit,other_dip" in lines[2]
    assert "insufficient_data" in lines[3] and lines[3].split()[4:8] == ["-", "-", "-", "-"]
    assert "error BAD_INPUT" in lines[4]
    assert "KOI K1.01: insufficient data: no transit measured: gap" in text and "period is required" in text
    assert text.rstrip().endswith(SIMULATED_NOTICE)
    assert SIMULATED_NOTICE not in format_results([{**results[0], "provenance": "MAST"}])


def test_help_is_fast():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from serving.predict_cli import main; main(['--help'])"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert out.returncode == 0 and "--teff" in out.stdout and "--json" in out.stdout
    assert elapsed < 3.0, f"--help took {elapsed:.2f} s (budget 1.5 s on an idle machine)"
    code = (
        "import sys; from serving.predict_cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('pandas', 'numba', 'dagster', 'torch', 'lightgbm') if m in sys.modules))"
    )
    mods = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert mods.stdout.strip() == "[]", mods.stdout + mods.stderr
