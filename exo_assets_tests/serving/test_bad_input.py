"""Bad input: each case gets a clear 4xx with the error envelope, and the server goes on serving."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from astropy.io import fits

from exo_assets_tests.conftest import PI_MEN_FILE
from exo_assets_tests.serving.conftest import csv_bytes, multipart


def _image_fits() -> bytes:
    buf = io.BytesIO()
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32)).writeto(buf)
    return buf.getvalue()


def _json(body):
    return {"json": body}


def _case(name, curve_body):
    b = dict(curve_body)
    n = len(b["time"])
    meta = {k: b[k] for k in ("mission", "period", "t0", "duration")}
    cases = {
        "mismatched lengths": (_json(dict(b, flux=b["flux"][:-5])), 422, "equal lengths"),
        "fewer than 100 finite points": (
            _json(dict(b, time=b["time"][:80], flux=b["flux"][:80], flux_err=None)),
            422,
            "at least 100",
        ),
        "all-NaN flux": (_json(dict(b, flux=[None] * n)), 422, "no finite value"),
        "unsorted times": (_json(dict(b, time=b["time"][::-1])), 422, "not sorted"),
        "duplicate times": (_json(dict(b, time=[b["time"][0]] + b["time"][:-1])), 422, "duplicate"),
        "period <= 0": (_json(dict(b, period=0.0)), 422, "period must be positive"),
        "FITS of another mission": (
            multipart(PI_MEN_FILE.read_bytes(), dict(meta, mission="Kepler"), filename="pimen.fits"),
            400,
            "header says mission 'TESS'",
        ),
        "missing period": (_json({k: v for k, v in b.items() if k != "period"}), 422, "period is required"),
        "missing t0": (_json({k: v for k, v in b.items() if k != "t0"}), 422, "t0 is required"),
        "non-numeric JSON values": (
            _json(dict(b, flux=b["flux"][:3] + ["abc"] + b["flux"][4:])),
            422,
            "flux.3",
        ),
        "non-numeric CSV values": (
            multipart(csv_bytes(b).replace(b"\n", b"\nfoo,bar,baz\n", 1), meta),
            400,
            "non-numeric value",
        ),
        "CSV without time/flux columns": (
            multipart(csv_bytes(b, "t_obs,brightness,err"), meta),
            400,
            "needs a time and a flux column",
        ),
        "FITS that is not a light curve": (
            multipart(_image_fits(), meta, filename="image.fits"),
            400,
            "not a Kepler/K2/TESS light curve",
        ),
        "empty upload": (multipart(b"", meta), 400, "empty"),
        "unknown mission": (_json(dict(b, mission="Mars")), 422, "unknown mission"),
        "batch of 51": (
            {"json": {"items": [b] * 51}, "url": "/api/predict/batch"},
            413,
            "exceeds the limit of 50",
        ),
        "body that is not JSON": (
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
            400,
            "not valid JSON",
        ),
        "meta that is not JSON": (
            dict(multipart(csv_bytes(b)), data={"meta": "{period: 3"}),
            400,
            "`meta` is not valid",
        ),
        "unknown field": (_json(dict(b, peroid=3.0)), 422, "peroid"),
        "bad option": (_json(dict(b, options={"top_k_shap": -1})), 422, "top_k_shap"),
        "unsupported content type": (
            {"content": b"time=1", "headers": {"content-type": "text/plain"}},
            415,
            "application/json or multipart",
        ),
        "curve is not a file": (
            {
                "data": {"curve": "1,2,3", "meta": json.dumps(meta)},
                "files": {"x": ("x.txt", io.BytesIO(b"1"))},
            },
            422,
            "needs a `curve` file",
        ),
    }
    return cases[name]


CASES = [
    "mismatched lengths",
    "fewer than 100 finite points",
    "all-NaN flux",
    "unsorted times",
    "duplicate times",
    "period <= 0",
    "FITS of another mission",
    "missing period",
    "missing t0",
    "non-numeric JSON values",
    "non-numeric CSV values",
    "CSV without time/flux columns",
    "FITS that is not a light curve",
    "empty upload",
    "unknown mission",
    "batch of 51",
    "body that is not JSON",
    "meta that is not JSON",
    "unknown field",
    "bad option",
    "unsupported content type",
    "curve is not a file",
]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_refused_and_the_server_keeps_serving(client, curve_body, name):
    kwargs, status, fragment = _case(name, curve_body)
    url = kwargs.pop("url", "/api/predict")
    r = client.post(url, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == "BAD_INPUT"
    assert fragment in body["error"]["message"]
    assert "Traceback" not in r.text
    ok = client.post("/api/predict", json=curve_body)
    assert ok.status_code == 200 and ok.json()["prediction"] in ("CP", "PC", "FP")


async def _asgi_post(
    app, headers: list[tuple[bytes, bytes]], total: int, chunk: int = 1 << 20, prefix: bytes = b""
):
    """POST `prefix` + zeros, `total` bytes in all, to `app` as a stream of `chunk`-byte messages; returns
    (status, body, bytes consumed). Generated lazily: nothing like `total` bytes is ever held in memory."""
    consumed = 0
    block = b"0" * chunk

    async def receive():
        nonlocal consumed
        if consumed >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        data = (prefix + block)[:chunk] if consumed == 0 else block
        consumed += len(data)
        return {"type": "http.request", "body": data, "more_body": consumed < total}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/predict",
        "raw_path": b"/api/predict",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), consumed


def test_200_mb_stream_is_cut_early_with_413(client):
    """A chunked 200 MB upload is refused once the configured limit (64 MiB) is passed, not after 200 MB."""
    limit = client.app.state.settings.max_upload_bytes
    total = 200 * 1024 * 1024
    headers = [(b"content-type", b"multipart/form-data; boundary=xyz"), (b"transfer-encoding", b"chunked")]
    prefix = (
        b'--xyz\r\nContent-Disposition: form-data; name="curve"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\ntime,flux\r\n"
    )
    status, body, consumed = client.portal.call(_asgi_post, client.app, headers, total, 1 << 20, prefix)
    assert status == 413 and body["error"]["code"] == "BAD_INPUT" and "exceeds" in body["error"]["message"]
    assert limit < consumed <= limit + (1 << 20)  # read up to the limit plus one chunk, then stopped
    assert consumed < total / 3


def test_declared_200_mb_body_is_refused_before_reading(client, curve_body):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(200 * 1024 * 1024).encode())]
    status, body, consumed = client.portal.call(_asgi_post, client.app, headers, 200 * 1024 * 1024)
    assert status == 413 and "exceeds the limit" in body["error"]["message"]
    assert consumed == 0
    assert client.post("/api/predict", json=curve_body).status_code == 200


def test_asgi_helper_reaches_the_app(client):
    """Control for the two tests above: a small streamed body gets the app's own answer (not 413)."""
    headers = [(b"content-type", b"application/json")]
    status, body, consumed = client.portal.call(_asgi_post, client.app, headers, 10)
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    assert consumed == 1 << 20


def test_unknown_route_and_method_use_the_envelope(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "BAD_INPUT"
    r = client.get("/api/predict")
    assert r.status_code == 405 and r.json()["error"]["code"] == "BAD_INPUT"
