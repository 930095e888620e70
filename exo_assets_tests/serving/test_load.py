"""A bounded load test on loopback: 2,000 requests at concurrency 16, zero errors, stable memory."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import numpy as np
import pytest

from exo_assets_tests.serving.conftest import small_curve


def _settings(home, tmp):
    from serving.settings import ServeSettings

    return ServeSettings(
        dagster_home=home, media_dir=tmp / "media", missions=("TESS",), reload_interval_s=0, fit_timeout_s=30
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(materialized_home, tmp_path_factory):
    """uvicorn serving the app on a loopback port, in a thread of this process (so its RSS is ours)."""
    import uvicorn

    from serving.app import create_app

    home, _ = materialized_home
    port = _free_port()
    config = uvicorn.Config(
        create_app(_settings(home, tmp_path_factory.mktemp("load"))),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


async def _load(base: str, plan: list[tuple], concurrency: int):
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    latencies, bad = [], []

    async def worker(client):
        while True:
            try:
                method, path, body, expected = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t = time.perf_counter()
            try:
                r = await client.request(method, path, json=body)
                status = r.status_code
            except httpx.HTTPError as err:
                status = f"{type(err).__name__}"
            latencies.append(time.perf_counter() - t)
            if status != expected:
                bad.append((path, status))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return np.array(latencies), bad, wall


def _plan(n: int, good: dict, bad: dict) -> list[tuple]:
    plan = []
    for i in range(n):
        if i % 200 == 7:
            plan.append(("POST", "/api/predict", good, 200))
        elif i % 50 in (3, 23, 43):
            plan.append(("POST", "/api/predict", bad, 422))
        elif i % 50 in (11, 31):
            plan.append(("GET", "/api/models/info", None, 200))
        else:
            plan.append(("GET", "/healthz", None, 200))
    return plan


def test_load_2000_requests_concurrency_16(live_server):
    """2,000 requests (healthz, models info, 0.5% real predictions, 6% bad predictions) at concurrency 16:
    every one gets its expected status, and the resident memory does not grow."""
    import psutil

    good = small_curve(n=4000)
    bad = dict(good, period=-1.0)
    proc = psutil.Process()
    asyncio.run(
        _load(live_server, _plan(200, good, bad), 16)
    )  # warm-up: caches, pools, first plots of memory
    rss_before = proc.memory_info().rss
    latencies, failures, wall = asyncio.run(_load(live_server, _plan(2000, good, bad), 16))
    rss_after = proc.memory_info().rss
    growth_mb = (rss_after - rss_before) / 2**20
    print(
        f"\nload: 2000 requests, concurrency 16, {wall:.1f} s wall, {2000 / wall:.0f} req/s; latency p50 "
        f"{np.percentile(latencies, 50) * 1e3:.1f} ms, p99 {np.percentile(latencies, 99) * 1e3:.1f} ms; "
        f"errors {len(failures)}; RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB "
        f"({growth_mb:+.1f} MiB)"
    )
    assert not failures, failures[:5]
    assert len(latencies) == 2000
    assert growth_mb < 60
