"""Golden response: the API answers the real TESS file of pi Men exactly as the stored JSON says (numbers to a
tolerance; timings, run ids and byte hashes left out). See `golden.py` for how the golden was made."""

from __future__ import annotations

import json

import pytest

from exo_assets_tests.serving.golden import GOLDEN_FILE, differences, request_kwargs, without_volatile

pytestmark = pytest.mark.slow


def test_predict_matches_the_golden_response(client):
    expected = json.loads(GOLDEN_FILE.read_text())["response"]
    r = client.post("/api/predict", **request_kwargs())
    assert r.status_code == 200, r.text
    diffs = differences(without_volatile(r.json()), expected)
    assert not diffs, "\n".join(diffs[:20])
