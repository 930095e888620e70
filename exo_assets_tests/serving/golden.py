"""Golden API response: `POST /api/predict` on the real TESS sector-1 file of pi Men (TIC 261136679).

The stored JSON (`golden/predict_pi_men_tess.json`) holds the request and the response of the code that
wrote it, over the models of `materialize_home(home, ("Kepler", "TESS"))` (the `materialized_home`
fixture). `test_golden.py` replays the request and compares every field: numbers to `RTOL` / `ATOL`,
everything else exactly; the fields of `VOLATILE` (timings, run ids, timestamps, hashes of bytes that
depend on the torch build) are left out.

Regenerate (only when a change of the API's answer is intended):
    python -m exo_assets_tests.serving.golden <dagster_home with Kepler + TESS materialized>
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

GOLDEN_FILE = Path(__file__).parent / "golden" / "predict_pi_men_tess.json"
#: Dotted paths left out of the comparison: they change from run to run, not with behaviour.
VOLATILE = (
    "timing_ms",
    "version.run_id",
    "version.trained_at",
    "version.model_hash",
    # depends on whether the vetting model is materialized in the home; tested in test_real_label*
    "real_label_model",
)
RTOL = 1e-6
ATOL = 1e-9

#: pi Men c (TOI 144.01) from the shipped TOI table; t0 in BJD (the API converts it to BTJD).
META = {"period": 6.267832, "t0": 2460011.550653, "duration": 0.11620833333333334}
OPTIONS = {"return_plot_data": True, "top_k_shap": 5}


def request_kwargs() -> dict:
    """The multipart request of the golden test (curve file + meta + options)."""
    import io

    from exo_assets_tests.conftest import PI_MEN_FILE

    return {
        "files": {"curve": (PI_MEN_FILE.name, io.BytesIO(PI_MEN_FILE.read_bytes()))},
        "data": {"meta": json.dumps(META), "options": json.dumps(OPTIONS)},
    }


def without_volatile(doc: dict) -> dict:
    """A copy of a response without the `VOLATILE` fields."""
    doc = json.loads(json.dumps(doc))
    for path in VOLATILE:
        *parents, leaf = path.split(".")
        node = doc
        for key in parents:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return doc


def differences(actual, expected, path: str = "") -> list[str]:
    """Where `actual` differs from `expected` (numbers within RTOL / ATOL count as equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: missing" for k in expected if k not in actual]
        out += [f"{path}.{k}: unexpected" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += differences(actual[k], expected[k], f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return [f"{path}: length {len(actual)} != {len(expected)}"]
        return [
            d
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for d in differences(a, e, f"{path}[{i}]")
        ]
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        ok = math.isclose(actual, expected, rel_tol=RTOL, abs_tol=ATOL)
        return [] if ok else [f"{path}: {actual!r} != {expected!r}"]
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]


def main(argv: list[str] | None = None) -> int:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServeSettings

    home = Path((argv or sys.argv[1:])[0])
    settings = ServeSettings(dagster_home=home, media_dir=home / "golden_media", reload_interval_s=0)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/predict", **request_kwargs())
    r.raise_for_status()
    GOLDEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "request": {
            "file": "exo_assets_tests/fixtures/fits/tess/" + request_kwargs()["files"]["curve"][0],
            "meta": META,
            "options": OPTIONS,
        },
        "response": without_volatile(r.json()),
    }
    GOLDEN_FILE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN_FILE} ({GOLDEN_FILE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
