"""Fixtures of the API tests: an app over the shared `materialized_home` (Kepler + TESS) and small curves."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from exo_assets.bench.preprocess import synthetic_curve


def small_curve(n: int = 6000, seed: int = 0) -> dict:
    """A TESS-like simulated curve (2-min cadence, ~8 days, two transits of a 3.7-day planet) as a
    JSON body."""
    lc, (period, t0, duration) = synthetic_curve("TESS", n=n, seed=seed)
    good = np.isfinite(lc.flux)
    return {
        "star_id": f"SIM {seed}",
        "mission": "TESS",
        "time": lc.time[good].tolist(),
        "flux": lc.flux[good].tolist(),
        "flux_err": lc.flux_err[good].tolist(),
        "period": period,
        "t0": t0,
        "duration": duration,
    }


def csv_bytes(body: dict, header: str = "time,flux,flux_err") -> bytes:
    rows = [header] + [
        f"{t!r},{f!r},{e!r}" for t, f, e in zip(body["time"], body["flux"], body["flux_err"], strict=True)
    ]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="session")
def curve_body() -> dict:
    return small_curve()


def make_client(home, tmp_path, **overrides) -> TestClient:
    from serving.app import create_app
    from serving.settings import ServeSettings

    settings = ServeSettings(
        **{"dagster_home": home, "media_dir": tmp_path / "media", "reload_interval_s": 0, **overrides}
    )
    return TestClient(create_app(settings), raise_server_exceptions=True)


@pytest.fixture(scope="module")
def client(materialized_home, tmp_path_factory):
    """TestClient (lifespan started: models loaded through Dagster) over the shared materialized home."""
    home, _ = materialized_home
    with make_client(home, tmp_path_factory.mktemp("serve")) as c:
        yield c


def multipart(
    data: bytes, meta: dict | None = None, options: dict | None = None, filename: str = "curve.csv"
):
    import json

    fields = {}
    if meta is not None:
        fields["meta"] = json.dumps(meta)
    if options is not None:
        fields["options"] = json.dumps(options)
    return {"files": {"curve": (filename, io.BytesIO(data))}, "data": fields}
