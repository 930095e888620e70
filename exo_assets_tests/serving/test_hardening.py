"""API hardening: API keys, CORS, fit timeout, settings read at app creation, no path traversal
under /media."""

from __future__ import annotations

import os

import pytest

from exo_assets_tests.serving.conftest import make_client, small_curve
from serving.settings import ServeSettings

KEYS = ("key-one", "key-two-longer")
ORIGIN = "https://ui.example"


@pytest.fixture(scope="module")
def hardened(materialized_home, tmp_path_factory):
    home, _ = materialized_home
    tmp = tmp_path_factory.mktemp("hardened")
    (tmp / "secret.txt").write_text("top secret")
    (tmp / "media" / "plots").mkdir(parents=True)
    (tmp / "media" / "plots" / "ok.png").write_bytes(b"\x89PNG fake")
    os.symlink(tmp / "secret.txt", tmp / "media" / "plots" / "link.png")
    with make_client(
        home, tmp, missions=("TESS",), api_keys=KEYS, cors_origins=(ORIGIN,), fit_timeout_s=0.01
    ) as c:
        yield c


def test_api_key_required_on_api_routes(hardened):
    assert hardened.get("/healthz").status_code == 200  # probes stay open
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "key-one "}, {"X-API-Key": ""}):
        r = hardened.get("/api/models/info", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "BAD_INPUT"
        assert "X-API-Key" in r.json()["error"]["message"]
        r = hardened.post("/api/predict", json={"nonsense": 1}, headers=headers)
        assert r.status_code == 401  # refused before the body is even parsed
    for key in KEYS:
        assert hardened.get("/api/models/info", headers={"X-API-Key": key}).status_code == 200


def test_cors_allows_only_the_configured_origin(hardened):
    pre = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    r = hardened.options("/api/predict", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
    r = hardened.options("/api/predict", headers=dict(pre, Origin="https://evil.example"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_INPUT"
    assert "access-control-allow-origin" not in r.headers
    r = hardened.get("/healthz", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert (
        "access-control-allow-origin"
        not in hardened.get("/healthz", headers={"Origin": "https://evil.example"}).headers
    )


def test_fit_timeout_gives_504_and_the_server_keeps_serving(hardened):
    body = small_curve(n=20000)
    r = hardened.post("/api/predict", json=body, headers={"X-API-Key": KEYS[0]})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "FIT_FAIL" and "0.01 s" in r.json()["error"]["message"]
    assert hardened.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize(
    "path",
    [
        "/media/%2e%2e/secret.txt",
        "/media/plots/%2e%2e/%2e%2e/secret.txt",
        "/media/plots/..%2f..%2fsecret.txt",
        "/media/plots/..%5c..%5csecret.txt",
        "/media/%2e%2e%2f%2e%2e%2fexo_assets%2fdefinitions.py",
        "/media//etc/passwd",
        "/media/plots/link.png",  # a symlink inside media pointing outside it
    ],
)
def test_no_path_traversal_under_media(hardened, path):
    r = hardened.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert b"top secret" not in r.content and b"root:" not in r.content
    assert r.json()["error"]["code"] == "BAD_INPUT"


def test_media_serves_its_own_files(hardened):
    r = hardened.get("/media/plots/ok.png")
    assert r.status_code == 200 and r.content == b"\x89PNG fake"


def test_settings_come_from_the_environment_at_creation(monkeypatch, tmp_path):
    from serving.app import create_app

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("EXO_API_KEYS", " a1 , b2 ,")
    monkeypatch.setenv("EXO_CORS_ORIGINS", ORIGIN)
    monkeypatch.setenv("CP_THRESH", "0.6")
    monkeypatch.setenv("EXO_MAX_UPLOAD_BYTES", "2048")
    app = create_app()
    s = app.state.settings
    assert s.api_keys == ("a1", "b2") and s.cors_origins == (ORIGIN,) and s.cp_thresh == 0.6
    assert s.max_upload_bytes == 2048 and s.dagster_home == tmp_path
    monkeypatch.setenv("EXO_API_KEYS", "changed")
    assert app.state.settings.api_keys == ("a1", "b2")  # read once, at creation
    assert create_app().state.settings.api_keys == ("changed",)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"CP_THRESH": "0.95", "CP_HIGH": "0.9"}, "must not exceed"),
        ({"EXO_MISSIONS": "Kepler,Hubble"}, "unknown missions"),
        ({"EXO_MAX_UPLOAD_BYTES": "many"}, "max_upload_bytes"),
    ],
)
def test_bad_settings_fail_clearly(env, fragment):
    with pytest.raises(ValueError, match=fragment):
        ServeSettings.from_env(env)
