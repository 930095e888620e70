"""Benchmark: per-signal cost of clean + detrend + views, against the same work done with lightkurve.

Runs on synthetic light curves (no file reading is timed):
- a 65,000-cadence Kepler-like curve (4 years at 29.4 min, quarterly gaps, batman transit, white
  noise, spot-like variability and slow drifts, a few flagged and NaN cadences);
- a 20,000-cadence TESS sector (2-min cadence, one mid-sector gap).

"ours" = `clean_light_curve` (quality mask, normalisation, wotan biweight detrend with the transit
masked, upper clipping) + `make_views` (global, local, odd, even, secondary views).
"lightkurve" = what a lightkurve user writes: `LightCurve(...).remove_nans().normalize()
.remove_outliers()` -> `.flatten(mask=transit_mask)` -> `.fold(period, epoch_time)` -> `.bin(...)`
for a global and a local view (two views only, so the comparison flatters lightkurve).

It checks that both routes' local views agree (Pearson correlation), times the diagnostics per
signal, measures signals/second through a reused pool of worker processes (arrays are passed to the
workers; one numba thread per process, see `single_threaded`), and prints the Kepler-curve
speed-up as its last line: ``ratio=NN.N``.

Usage: ``python -m exo_assets.bench.preprocess [--quick] [--workers 2] [--signals 100 1000]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from exo_assets.science.cleaning import clean_light_curve
from exo_assets.science.diagnostics import DiagnosticsConfig, StellarParams, compute_diagnostics
from exo_assets.science.lightcurves import LightCurveData
from exo_assets.science.views import ViewConfig, bin_centres, make_views

KEPLER_CADENCE = 29.4244 / 1440.0
TESS_CADENCE = 2.0 / 1440.0


# --- synthetic curves ---------------------------------------------------------------------------


def _transit(time, period, t0, rp_rs, a_rs, b, u, exp_time):
    import batman

    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a = t0, period, rp_rs, a_rs
    p.inc = float(np.degrees(np.arccos(b / a_rs)))
    p.ecc, p.w, p.u, p.limb_dark = 0.0, 90.0, list(u), "quadratic"
    return batman.TransitModel(p, time, supersample_factor=5, exp_time=exp_time).light_curve(p)


def synthetic_curve(mission: str = "Kepler", n: int = 65000, seed: int = 0):
    """(LightCurveData, (period, t0, duration)) of a synthetic Kepler-like or TESS-like star."""
    rng = np.random.default_rng(seed)
    if mission == "Kepler":
        cadence, start, seg_len, gap = KEPLER_CADENCE, 131.5, 93.0, 1.5
        period, rp_rs, a_rs, b, u = 10.3, 0.03, 20.0, 0.3, (0.41, 0.26)
        noise = 1.5e-4
    else:
        cadence, start, seg_len, gap = TESS_CADENCE, 1325.3, 13.7, 1.0
        period, rp_rs, a_rs, b, u = 3.7, 0.03, 10.0, 0.3, (0.33, 0.23)
        noise = 4e-4
    t = start + cadence * np.arange(int(n * 1.05) + 100)
    t = t[((t - start) % seg_len) >= gap][:n]
    t0 = start + 0.37 * period
    flux = _transit(t, period, t0, rp_rs, a_rs, b, u, cadence)
    variability = (
        2e-3 * np.sin(2 * np.pi * t / 11.3 + 0.4)
        + 1e-3 * np.sin(2 * np.pi * t / 4.7)
        + 5e-4 * np.sin(2 * np.pi * t / 61.0)
    )
    flux = flux * (1 + variability) + noise * rng.standard_normal(t.size)
    segment = ((t - start) // seg_len).astype(np.int32) + 1
    flux = flux * 1e5 * (1 + 0.01 * segment)  # e-/s, a different level per quarter/orbit
    quality = np.zeros(t.size, dtype=np.int32)
    quality[rng.choice(t.size, t.size // 200, replace=False)] = 1  # attitude tweak (default bitmask)
    flux[rng.choice(t.size, t.size // 500, replace=False)] = np.nan
    duration = period / np.pi * np.arcsin(np.sqrt((1 + rp_rs) ** 2 - b**2) / a_rs)
    lc = LightCurveData(
        star_id=f"SIM {mission}",
        mission=mission,
        time=t,
        flux=flux,
        flux_err=np.full(t.size, noise * 1e5),
        quality=quality,
        segment=segment,
    )
    return lc, (period, t0, float(duration))


# --- the two routes -----------------------------------------------------------------------------


def ours(lc: LightCurveData, eph, config: ViewConfig = ViewConfig()):
    """clean + detrend + the five views; returns (cleaned curve, views)."""
    cleaned = clean_light_curve(lc, [eph])
    period, t0, duration = eph
    return cleaned, make_views(cleaned.time, cleaned.flux, period, t0, duration, config)


def lightkurve_route(lc: LightCurveData, eph, config: ViewConfig = ViewConfig()):
    """The same with lightkurve; returns (global binned flux, local binned flux, local bin centres)."""
    import lightkurve as lk

    from exo_assets.science.cleaning import default_bitmask

    period, t0, duration = eph
    good = (lc.quality & default_bitmask(lc.mission)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = lk.LightCurve(time=lc.time[good], flux=lc.flux[good], flux_err=lc.flux_err[good])
        curve = curve.remove_nans().normalize().remove_outliers(sigma_upper=4, sigma_lower=np.inf)
        mask = curve.create_transit_mask(period=period, transit_time=t0, duration=1.5 * duration)
        cadence = float(np.median(np.diff(curve.time.value)))
        window = max(int(round(3 * duration / cadence)) | 1, 5)  # ~3 transit durations, odd
        flat = curve.flatten(window_length=window, mask=mask)
        folded = flat.fold(period=period, epoch_time=t0)
        glob = folded.bin(time_bin_size=period / config.global_bins, aggregate_func=np.nanmedian)
        half = config.local_half_width_durations * duration
        phase = folded.time.value
        near = folded[(phase > -half) & (phase < half)]
        local = near.bin(bins=config.local_bins, aggregate_func=np.nanmedian)
    return (
        np.asarray(glob.flux.value, float),
        np.asarray(local.flux.value, float),
        np.asarray(local.time.value, float),
    )


def local_view_correlation(views, lk_local, lk_centres, eph, config: ViewConfig = ViewConfig()) -> float:
    """Pearson correlation of our local view with lightkurve's, on our bin centres."""
    period, _, duration = eph
    half = config.local_half_width(period, duration)
    centres = bin_centres(-half, half, config.local_bins, config.local_bin_width_factor * duration)
    ok = np.isfinite(lk_local) & np.isfinite(lk_centres)
    theirs = np.interp(centres, lk_centres[ok], lk_local[ok])
    return float(np.corrcoef(views.local, theirs)[0, 1])


# --- timing -------------------------------------------------------------------------------------


def _median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def single_threaded() -> None:
    """One numba thread per process.

    wotan's biweight kernels are numba ``parallel=True``; with numba's OpenMP layer on a small
    machine that is also running other work, the spinning OpenMP threads slow each call ~15x
    (0.5 s instead of 35 ms for a 65k curve). Parallelism comes from worker processes instead.
    """
    import numba

    numba.set_num_threads(1)


def _worker(lc: LightCurveData, eph, with_diagnostics: bool) -> float:
    cleaned, views = ours(lc, eph)
    if with_diagnostics:
        period, t0, duration = eph
        compute_diagnostics(
            cleaned.time,
            cleaned.flux,
            cleaned.flux_err,
            period,
            t0,
            duration,
            StellarParams(5750.0, 4.44, 1.0),
        )
    return float(views.depth_scale)


def _throughput(pool, lc, eph, n_signals: int, with_diagnostics: bool) -> float:
    start = time.perf_counter()
    futures = [pool.submit(_worker, lc, eph, with_diagnostics) for _ in range(n_signals)]
    for f in futures:
        f.result()
    return n_signals / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="exo-assets bench preprocess", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 100 signals only")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the throughput runs")
    parser.add_argument(
        "--signals", type=int, nargs="+", default=[100, 1000], help="signal counts for throughput"
    )
    parser.add_argument(
        "--throughput-diagnostics",
        action="store_true",
        help="include the diagnostics in the throughput runs too",
    )
    args = parser.parse_args(argv)
    reps_ours, reps_lk = (3, 1) if args.quick else (9, 3)
    signals = [100] if args.quick else args.signals
    out = sys.stdout
    single_threaded()

    kepler, k_eph = synthetic_curve("Kepler", 65000, seed=1)
    tess, t_eph = synthetic_curve("TESS", 20000, seed=2)
    # Warm-up: wotan's numba kernels (cached on disk after the first-ever compile), lightkurve, batman.
    ours(kepler, k_eph)
    ours(tess, t_eph)
    lightkurve_route(tess, t_eph)

    results = {}
    for name, lc, eph in (("kepler65k", kepler, k_eph), ("tess20k", tess, t_eph)):
        cleaned, views = ours(lc, eph)
        _, lk_local, lk_centres = lightkurve_route(lc, eph)
        corr = local_view_correlation(views, lk_local, lk_centres, eph)
        # partial binds this iteration's curve (the timings run at once, but no closure over loop variables)
        t_ours = _median_time(partial(ours, lc, eph), reps_ours)
        t_clean = _median_time(partial(clean_light_curve, lc, [eph]), reps_ours)
        t_views = _median_time(partial(make_views, cleaned.time, cleaned.flux, *eph), reps_ours)
        t_lk = _median_time(partial(lightkurve_route, lc, eph), reps_lk)
        period, t0, duration = eph
        star = StellarParams(5750.0, 4.44, 1.0)
        cfg = DiagnosticsConfig(band="TESS" if lc.mission == "TESS" else "Kepler")
        diagnostics = partial(
            compute_diagnostics, cleaned.time, cleaned.flux, cleaned.flux_err, period, t0, duration, star, cfg
        )
        t_diag = _median_time(diagnostics, reps_ours)
        results[name] = (t_ours, t_lk)
        print(
            f"{name}: {lc.time.size} cadences, local-view correlation ours vs lightkurve = {corr:.3f}",
            file=out,
        )
        print(
            f"{name}: ours clean+detrend+5 views = {t_ours * 1e3:.1f} ms (clean {t_clean * 1e3:.1f} ms, "
            f"views {t_views * 1e3:.1f} ms); lightkurve route = {t_lk * 1e3:.1f} ms; "
            f"ratio {t_lk / t_ours:.1f}",
            file=out,
        )
        print(
            f"{name}: diagnostics (incl. Mandel-Agol fit and BLS) = {t_diag * 1e3:.1f} ms per signal",
            file=out,
        )

    # One thread per worker for every threaded library (the workers inherit this environment).
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # spawn, not fork: the parent already runs OpenMP threads (numba, batman), which fork() breaks
    with ProcessPoolExecutor(
        max_workers=args.workers, mp_context=multiprocessing.get_context("spawn"), initializer=single_threaded
    ) as pool:
        # warm the workers (imports, wotan kernels) before timing
        list(pool.map(_worker, [tess] * args.workers, [t_eph] * args.workers, [True] * args.workers))
        for n in signals:
            rate = _throughput(pool, kepler, k_eph, n, with_diagnostics=False)
            print(
                f"throughput clean+views, {n} Kepler 65k signals, {args.workers} workers: "
                f"{rate:.1f} signals/s",
                file=out,
            )
        for n in signals if args.throughput_diagnostics else signals[:1]:
            rate = _throughput(pool, kepler, k_eph, n, with_diagnostics=True)
            print(
                f"throughput clean+views+diagnostics, {n} Kepler 65k signals, {args.workers} workers: "
                f"{rate:.1f} signals/s",
                file=out,
            )

    t_ours, t_lk = results["kepler65k"]
    print(f"kepler65k per signal: ours {t_ours * 1e3:.1f} ms, lightkurve {t_lk * 1e3:.1f} ms", file=out)
    print(f"ratio={t_lk / t_ours:.1f}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
