"""Benchmark: whole-job wall time, throughput and peak memory at several catalog sizes, and projections.

For each size N, `exo-assets materialize --mission Kepler --targets N` runs in a subprocess with a
fresh `DAGSTER_HOME` and simulation cache (so every star is simulated, cleaned, measured and the
models trained, as a new user's run does). A sampler reads the resident memory of that process and
of every process below it (forkserver, pool workers, Dask workers) every `--interval` seconds and
keeps the largest sum: "peak RSS (parent + workers)". RSS counts pages shared between processes once
per process, so the sum is an upper bound on what the job needs. The parent's own peak is printed
too: with per-star streaming it must not grow with N.

Projection (printed, and labelled as one): per-star steps (`raw_fits`, `cleaned_curves`, `features`)
cost s_star seconds per signal at the largest measured size and scale with workers; the rest (models,
report) cost grows with signals as measured between the two largest sizes. For the whole Kepler KOI
table (9,564 signals) on this machine and on W workers:  t = fixed + n * s_model + n * s_star * (w0 / W),
with w0 the workers used here (one per core). No download (simulated archive), cores as fast as these.

Usage: ``exo-assets bench scale [--sizes 90 300 1000] [--mission Kepler] [--workers-projection 16 64] [--dask]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PER_STAR_STEPS = ("raw_fits", "cleaned_curves", "features")
KEPLER_KOIS = 9_564
STEP_LINE = re.compile(r"\[exo-assets\]\s+(\S+)\s+([\d.]+) s$")


@dataclass
class TreeSampler:
    """Samples the summed RSS of a process and its descendants in a background thread.

    Attributes:
        pid: the root process.
        interval_s: seconds between samples.
        peak_tree, peak_root: largest summed RSS (bytes) over the tree, and of the root alone.
    """

    pid: int
    interval_s: float = 0.25
    peak_tree: int = 0
    peak_root: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in procs:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:  # a worker that just ended
                continue
            total += rss
            if proc.pid == self.pid:
                self.peak_root = max(self.peak_root, rss)
        self.peak_tree = max(self.peak_tree, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class SizeRun:
    """One measured size: stars asked for, signals in the feature table, wall seconds, peaks (bytes)."""

    stars: int
    signals: int
    wall_s: float
    peak_tree: int
    peak_root: int
    steps: dict[str, float]
    ok: bool

    @property
    def star_step_s(self) -> float:
        return sum(v for k, v in self.steps.items() if k.split(".")[0] in PER_STAR_STEPS)


def count_signals(home: Path, mission: str) -> int:
    """Rows of the stored feature table (0 when absent)."""
    import pyarrow.parquet as pq

    path = home / "storage" / "feature_table" / f"{mission}.parquet"
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else 0


def run_size(stars: int, mission: str, workdir: Path, interval_s: float, extra: list[str]) -> SizeRun:
    """Materialize `mission` with `stars` targets in a fresh home under `workdir`; returns the figures."""
    home, cache = workdir / f"home-{stars}", workdir / f"cache-{stars}"
    cmd = [sys.executable, "-m", "exo_assets.cli", "materialize", "--mission", mission, "--targets", str(stars),
           "--home", str(home), "--cache-dir", str(cache), "--log-level", "WARNING", *extra]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    with TreeSampler(proc.pid, interval_s) as sampler:
        output, _ = proc.communicate()
    wall = time.perf_counter() - start
    steps = {m.group(1): float(m.group(2)) for m in map(STEP_LINE.search, output.splitlines()) if m}
    if proc.returncode != 0:
        print(output[-3000:], file=sys.stderr)
    return SizeRun(stars, count_signals(home, mission), wall, sampler.peak_tree, sampler.peak_root, steps,
                   proc.returncode == 0)


def project(runs: list[SizeRun], n_signals: int, workers_here: int, workers: int) -> float:
    """Projected wall seconds for `n_signals` on `workers` one-thread workers (see the module docstring)."""
    big = max(runs, key=lambda r: r.signals)
    s_star = big.star_step_s / max(big.signals, 1)
    rest = [(r.signals, r.wall_s - r.star_step_s) for r in sorted(runs, key=lambda r: r.signals)]
    if len(rest) >= 2 and rest[-1][0] > rest[-2][0]:
        s_model = max((rest[-1][1] - rest[-2][1]) / (rest[-1][0] - rest[-2][0]), 0.0)
        fixed = max(rest[-1][1] - s_model * rest[-1][0], 0.0)
    else:
        s_model, fixed = rest[-1][1] / max(rest[-1][0], 1), 0.0
    return fixed + n_signals * s_model + n_signals * s_star * workers_here / workers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="exo-assets bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[90, 300, 1000], help="stars per run")
    parser.add_argument("--mission", default="Kepler", choices=["Kepler", "K2", "TESS"])
    parser.add_argument("--workers-projection", type=int, nargs="+", default=[16, 64],
                        help="worker counts of the cluster projections")
    parser.add_argument("--interval", type=float, default=0.25, help="memory sampling interval, seconds")
    parser.add_argument("--workdir", help="where the temporary homes go (default: a temporary folder, removed)")
    parser.add_argument("--cnn-epochs", type=int, help="passed to materialize")
    parser.add_argument("--dask", action="store_true",
                        help="per-star steps on a Dask LocalCluster started by the job (its workers are measured too)")
    args = parser.parse_args(argv)
    extra = ["--cnn-epochs", str(args.cnn_epochs)] if args.cnn_epochs else []
    if args.dask:
        extra += ["--dask-scheduler", "local"]
    workers_here = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"host: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, load average "
          f"{os.getloadavg()[0]:.1f} at start; simulated {args.mission} stars, fresh home and cache per size; "
          f"per-star steps on {'a Dask LocalCluster' if args.dask else 'the local process pool'}")
    print(f"{'stars':>6} {'signals':>8} {'wall s':>8} {'signals/s':>10} {'peak RSS parent+workers':>24} "
          f"{'parent':>8} {'per-star steps s':>17}")
    runs = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for stars in args.sizes:
            run = run_size(stars, args.mission, Path(tmp), args.interval, extra)
            runs.append(run)
            print(f"{run.stars:6d} {run.signals:8d} {run.wall_s:8.0f} {run.signals / run.wall_s:10.2f} "
                  f"{run.peak_tree / 2**30:21.2f} GB {run.peak_root / 2**30:5.2f} GB {run.star_step_s:17.0f}"
                  f"{'' if run.ok else '  (FAILED)'}", flush=True)
    good = [r for r in runs if r.ok and r.signals]
    if not good:
        return 1
    print(f"PROJECTION (not a measurement) for the whole Kepler KOI table ({KEPLER_KOIS:,} signals), simulated "
          "archive (no download), cores as fast as these; per-star steps scale with workers, model training "
          "does not (see the module docstring):")
    for workers in [workers_here, *args.workers_projection]:
        seconds = project(good, KEPLER_KOIS, workers_here, workers)
        print(f"  {workers:3d} workers: {seconds / 3600:6.2f} h")
    peak = max(good, key=lambda r: r.peak_tree)
    print(f"peak memory stays per-star: largest peak {peak.peak_tree / 2**30:.2f} GB at {peak.stars} stars")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
