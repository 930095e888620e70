"""Benchmark: latency and throughput of the inference API on loopback (`exo-assets bench api`).

Starts `uvicorn serving.app:create_app --factory` in a subprocess on 127.0.0.1 against the models in
DAGSTER_HOME (Kepler partition), sends the same 65,000-cadence Kepler-like curve as JSON
(`bench.preprocess.synthetic_curve`: 4 years at 29.4 min, a 10.3-day transiting planet) and prints:

- p50 / p99 latency of sequential requests without plots and with plots (4 PNGs);
- throughput at concurrency 8 (requests/s) and its latency p50;
- the engine's own time per request (`timing_ms` in the responses), to separate HTTP from fitting;
- the 1-minute load average before and after: on a shared machine the figures include contention.

Targets (issue 6, 2-core machine): p50 <= 250 ms without plots, <= 1.5 s with plots. With few
requests p99 is close to the maximum; raise `--requests` for a steadier tail.

Usage: ``exo-assets bench api [--home DIR | --materialize] [--requests 30] [--plot-requests 10]
[--concurrency 8] [--throughput-requests 32]``. `--materialize` first materializes a small simulated
Kepler partition (30 stars) into a temporary Dagster home.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from exo_assets.defaults import dagster_home

TARGET_P50_S = 0.250
TARGET_P50_PLOTS_S = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def materialize_small_home(home: Path, targets: int = 30, seed: int = 2, cnn_epochs: int = 3) -> str:
    """Materialize the Kepler partition (simulated) into `home`; returns the run id."""
    from exo_assets.definitions import MISSION_JOB, build_defs
    from exo_assets.instance import open_instance
    from resources import LightCurveArchive

    home.mkdir(parents=True, exist_ok=True)
    defs = build_defs(archive=LightCurveArchive(cache_dir=str(home / "cache"), targets_per_mission=targets,
                                                sim_seed=seed))
    with open_instance(home, create=True) as instance:
        result = defs.resolve_job_def(MISSION_JOB).execute_in_process(
            partition_key="Kepler", instance=instance, raise_on_error=False,
            run_config={"ops": {"cnn_oof": {"config": {"epochs": cnn_epochs, "patience": 2}},
                                "holdout_split": {"config": {"n_splits": 3, "n_repeats": 1}}}})
    if not result.success:
        raise RuntimeError("materializing the Kepler partition failed")
    return result.run_id


def start_server(home: Path, media: Path, port: int, workers: int = 2) -> subprocess.Popen:
    env = dict(os.environ, DAGSTER_HOME=str(home), EXO_MEDIA_DIR=str(media), EXO_MISSIONS="Kepler",
               EXO_RELOAD_INTERVAL_S="0", EXO_FIT_WORKERS=str(workers), EXO_MAX_UPLOAD_BYTES=str(256 * 2**20))
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env)


def wait_ready(client, proc: subprocess.Popen, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            r = client.get("/healthz", timeout=5)
            if r.status_code == 200 and "Kepler" in r.json()["models_loaded"]:
                return r.json()
            if r.status_code == 200 and r.json()["status"] == "no_models":
                raise RuntimeError("no Kepler model in this DAGSTER_HOME: run `exo-assets materialize --mission "
                                   "Kepler` first, or pass --materialize")
        except Exception as err:  # noqa: BLE001 - not up yet
            if isinstance(err, RuntimeError):
                raise
        time.sleep(0.5)
    raise RuntimeError(f"the server did not become ready in {timeout:.0f} s")


def _post(client, body: bytes) -> tuple[float, float]:
    t = time.perf_counter()
    r = client.post("/api/predict", content=body, headers={"content-type": "application/json"}, timeout=300)
    elapsed = time.perf_counter() - t
    if r.status_code != 200:
        raise RuntimeError(f"request failed: {r.status_code} {r.text[:300]}")
    return elapsed, float(r.json()["timing_ms"]) / 1e3


def _stats(name: str, samples: list[tuple[float, float]], target: float | None = None) -> float:
    lat = np.array([s[0] for s in samples])
    engine = np.array([s[1] for s in samples])
    p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    verdict = "" if target is None else (f"  target p50 <= {target * 1e3:.0f} ms: "
                                         f"{'met' if p50 <= target else 'MISSED'}")
    print(f"{name:<28s} n={len(lat):3d}  p50 {p50 * 1e3:7.1f} ms  p99 {p99 * 1e3:7.1f} ms  "
          f"(engine p50 {np.median(engine) * 1e3:6.1f} ms){verdict}", flush=True)
    return p50


def main(argv: list[str] | None = None) -> int:
    import httpx

    from exo_assets.bench.preprocess import synthetic_curve

    parser = argparse.ArgumentParser(prog="exo-assets bench api", description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="DAGSTER_HOME with a materialized Kepler model "
                                       "(default $DAGSTER_HOME or ./.dagster_home)")
    parser.add_argument("--materialize", action="store_true",
                        help="materialize a small simulated Kepler partition into a temporary home first")
    parser.add_argument("--requests", type=int, default=30, help="sequential requests without plots")
    parser.add_argument("--plot-requests", type=int, default=10, help="sequential requests with plots")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--throughput-requests", type=int, default=32)
    parser.add_argument("--cadences", type=int, default=65000)
    parser.add_argument("--server-workers", type=int, default=2, help="fit threads of the server")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="exo-bench-api-")
    if args.materialize:
        home = Path(tmp.name) / "home"
        t = time.perf_counter()
        materialize_small_home(home)
        print(f"materialized a simulated Kepler partition in {time.perf_counter() - t:.0f} s", flush=True)
    else:
        home = dagster_home(args.home).resolve()
    lc, (period, t0, duration) = synthetic_curve("Kepler", args.cadences)
    good = np.isfinite(lc.flux)
    payload = {"star_id": "SIM bench", "mission": "Kepler", "time": lc.time[good].tolist(),
               "flux": lc.flux[good].tolist(), "flux_err": lc.flux_err[good].tolist(), "period": period, "t0": t0,
               "duration": duration}
    body = json.dumps(payload).encode()
    body_plots = json.dumps(dict(payload, options={"return_plots": True})).encode()
    port = _free_port()
    load_before = os.getloadavg()[0]
    proc = start_server(home, Path(tmp.name) / "media", port, args.server_workers)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base) as client:
            t = time.perf_counter()
            health = wait_ready(client, proc)
            print(f"server ready in {time.perf_counter() - t:.1f} s (models {health['models_loaded']}); "
                  f"curve: {int(good.sum())} cadences, {len(body) / 1e6:.1f} MB of JSON; "
                  f"{os.cpu_count()} CPUs, load average {load_before:.2f}", flush=True)
            for _ in range(2):
                _post(client, body)
            _post(client, body_plots)
            p50 = _stats("no plots (sequential)", [_post(client, body) for _ in range(args.requests)], TARGET_P50_S)
            p50p = _stats("with plots (sequential)", [_post(client, body_plots) for _ in range(args.plot_requests)],
                          TARGET_P50_PLOTS_S)

        def one(_):
            with httpx.Client(base_url=base) as c:
                return _post(c, body)

        t = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(one, range(args.throughput_requests)))
        wall = time.perf_counter() - t
        _stats(f"concurrency {args.concurrency}", results)
        print(f"throughput at concurrency {args.concurrency}: {args.throughput_requests / wall:.2f} requests/s "
              f"({args.throughput_requests} requests in {wall:.1f} s)", flush=True)
        print(f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f} (1 min; "
              f"{os.cpu_count()} CPUs): figures include any contention from other processes", flush=True)
        print(f"summary: p50_no_plots_ms={p50 * 1e3:.0f} p50_plots_ms={p50p * 1e3:.0f} "
              f"throughput_rps={args.throughput_requests / wall:.2f}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        tmp.cleanup()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
