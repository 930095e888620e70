"""`exo-predict`: classify the transit signals in CSV / FITS light curves with the materialized models.

    exo-predict FILE... [--period P --t0 T0 [--duration D]] [--catalog CSV] [--mission M]
                [--star-id ID] [--teff K] [--logg CGS] [--radius RSUN] [--mag MAG] [--depth PPM]
                [--out DIR] [--plots] [--plot-data] [--json] [--home DAGSTER_HOME]

Files: CSV (time, flux[, flux_err]) or Kepler/K2/TESS FITS; FITS files of the same star (several
quarters / sectors, recognised from the header) are stitched into one curve.

Where the ephemeris comes from, per star, first match wins:
1. `--period`/`--t0` (`--duration` optional: else estimated by BLS) -- one signal for every file;
2. `--catalog CSV`: rows of the star (`star_id` plus period|period_days, t0|epoch, optional
   duration|duration_days, signal_id, and stellar teff_k, logg_cgs, radius_rsun, mag, depth_ppm);
3. PERIOD / T0 (or EPOCH) / DURATION keywords of the FITS header, when a file carries them;
4. the shipped NASA catalog of the mission (`exo_assets/data/catalogs`), by the header's star id:
   every known signal of the star.

In every mode the engine looks the star up in the shipped catalog by its id: stellar parameters not
given (--teff/--logg/--radius/--mag) come from the catalog, else the FITS header; the star's other
known signals are masked. Each answer says where every input came from (`inputs`). A FITS whose
header names another mission than --mission is refused.

Prints a table (star, signal, class, P(CP) / P(PC) / P(FP), decision, flags; a notice when the model
is simulated); `--json` prints the results as JSON instead. Also writes `<out>/pred_<star>.json`
(`pred_<star>_<signal>.json` when a star has several signals) with the API's prediction contract, or
`{"error": {"code", "message"}}`; plots go to `<out>/plots/`. Models load through Dagster from
DAGSTER_HOME (`--home`). Exit status: 0 all answered (a class or insufficient_data), 1 some failed,
2 nothing could run (bad arguments, no models).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from exo_assets.defaults import CP_HIGH, CP_THRESH, dagster_home

# Heavy modules (pandas, numba, the inference engine, Dagster) are imported inside the functions that
# need them, so that `exo-predict --help` answers in well under a second.

STAR_FIELDS = ("teff_k", "logg_cgs", "radius_rsun", "mag", "depth_ppm")


def _col(frame, *names: str) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def catalog_signals(frame, star_id: str, star_fields: bool = True) -> list[dict]:
    """Signals of `star_id` in a catalog frame: dicts of signal_id, period, t0, duration and (with
    `star_fields`) the star fields."""
    from exo_assets.inference import InputError

    sid = _col(frame, "star_id")
    per, t0 = _col(frame, "period", "period_days"), _col(frame, "t0", "epoch")
    if sid is None or per is None or t0 is None:
        raise InputError("a catalog needs star_id, period (or period_days) and t0 (or epoch) columns")
    dur, sig = _col(frame, "duration", "duration_days"), _col(frame, "signal_id")
    rows = frame[frame[sid].astype(str).str.strip() == star_id]
    out = []
    for i, (_, r) in enumerate(rows.iterrows()):
        item = {
            "signal_id": str(r[sig]) if sig else f"signal{i + 1}",
            "period": r[per],
            "t0": r[t0],
            "duration": r[dur] if dur else None,
        }
        for name in STAR_FIELDS if star_fields else ():
            c = _col(frame, name)
            item[name] = r[c] if c else None
        out.append(item)
    return out


def _header_signal(header: dict) -> list[dict]:
    period = header.get("PERIOD")
    t0 = header.get("T0", header.get("EPOCH"))
    if period is None or t0 is None:
        return []
    return [
        {
            "signal_id": "header",
            "period": period,
            "t0": t0,
            "duration": header.get("DURATION"),
            "source": "header",
        }
    ]


def load_curves(files: list[Path], star_id: str | None, mission: str | None) -> list:
    """One curve per star: FITS files grouped by header star id and stitched; each CSV on its own.
    InputError (MissionMismatch) when a FITS header names another mission than `mission`."""
    import dataclasses

    from exo_assets.inference import InputError, read_curve_bytes
    from exo_assets.inference.errors import check_mission
    from exo_assets.science.lightcurves import (
        LightCurveError,
        read_header_identity,
        read_star,
    )

    groups: dict[str, list[Path]] = {}
    curves = []
    for path in files:
        data = path.read_bytes()
        if data[:9] == b"SIMPLE  =" or path.suffix.lower() in (".fits", ".fit", ".fts"):
            try:
                star, file_mission = read_header_identity(path)
            except LightCurveError as err:
                raise InputError(f"{path.name}: not a usable light-curve FITS: {err}") from None
            try:
                check_mission(mission, file_mission)
            except InputError as err:
                raise type(err)(f"{path.name}: {err.message}") from None
            groups.setdefault(star, []).append(path)
        else:
            curve = read_curve_bytes(data, path.name)
            curve.star_id = star_id or path.stem
            curve.mission = mission or ""
            curves.append(curve)
    for star, paths in groups.items():
        lc, bad = read_star(paths)
        if lc is None:
            raise InputError(f"{star}: no readable file ({'; '.join(f'{n}: {w}' for n, w in bad)})")
        curves.append(
            dataclasses.replace(
                lc, star_id=star_id or lc.star_id, mission=mission or lc.mission, header=dict(lc.header)
            )
        )
    return curves


def signals_for(curve, args, catalog) -> list[dict]:
    """The signals to predict for one curve (see the module docstring for the order of sources); each dict
    has `source`: "given" (flags, a user's catalog CSV), "header" or "catalog" (the shipped one)."""
    from exo_assets.inference import InputError

    if args.period is not None or args.t0 is not None:
        return [
            {
                "signal_id": "",
                "period": args.period,
                "t0": args.t0,
                "duration": args.duration,
                "source": "given",
            }
        ]
    if catalog is not None:
        return [{**s, "source": "given"} for s in catalog_signals(catalog, curve.star_id)]
    found = _header_signal(curve.header)
    if found:
        return found
    if not curve.mission:
        raise InputError(f"{curve.star_id}: no ephemeris: pass --period/--t0, --catalog or --mission")
    from exo_assets.inference.star import star_context

    ctx = star_context(curve.star_id, curve.mission)
    return [
        {
            "signal_id": s.signal_id,
            "period": s.period,
            "t0": s.epoch,
            "duration": s.duration,
            "source": "catalog",
        }
        for s in ctx.signals
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exo-predict",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("files", nargs="+", type=Path, help="CSV or FITS light curves")
    parser.add_argument("--period", type=float, help="orbital period, days")
    parser.add_argument("--t0", type=float, help="mid-transit time: BKJD/BTJD days, or BJD")
    parser.add_argument(
        "--duration",
        type=float,
        help="transit duration T14, days (default: the shipped catalog's "
        "for a signal of the star with the same period, else a BLS estimate)",
    )
    parser.add_argument(
        "--catalog", type=Path, help="CSV with star_id, period, t0[, duration, signal_id, ...]"
    )
    parser.add_argument(
        "--mission",
        choices=["Kepler", "K2", "TESS"],
        help="mission (FITS: from the header; a FITS of another mission is refused)",
    )
    parser.add_argument(
        "--star-id", help="star id for the outputs and the catalog lookup (default: FITS header or file name)"
    )
    parser.add_argument(
        "--teff", type=float, help="stellar effective temperature, K (default: catalog, header)"
    )
    parser.add_argument("--logg", type=float, help="stellar log g, cgs (default: catalog, header)")
    parser.add_argument("--radius", type=float, help="stellar radius, R_sun (default: catalog, header)")
    parser.add_argument("--mag", type=float, help="Kepler / TESS magnitude (default: catalog, header)")
    parser.add_argument("--depth", type=float, help="catalog transit depth, ppm (reported only)")
    parser.add_argument(
        "--out", type=Path, default=Path("predictions"), help="output folder (default ./predictions)"
    )
    parser.add_argument("--plots", action="store_true", help="write PNG plots under <out>/plots")
    parser.add_argument("--plot-data", action="store_true", help="include the plot arrays in the JSON")
    parser.add_argument(
        "--home", help="DAGSTER_HOME with the materialized models (default $DAGSTER_HOME or ./.dagster_home)"
    )
    parser.add_argument(
        "--cp-thresh",
        type=float,
        default=float(os.environ.get("CP_THRESH", CP_THRESH)),
        help=f"p(CP) of a candidate (default $CP_THRESH or {CP_THRESH})",
    )
    parser.add_argument(
        "--cp-high",
        type=float,
        default=float(os.environ.get("CP_HIGH", CP_HIGH)),
        help=f"p(CP) of a high-confidence planet (default $CP_HIGH or {CP_HIGH})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON (one list) instead of the table"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import numba
    from tqdm import tqdm

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)  # see serving.settings: numba's parallel kernels are slower on a busy machine
    try:
        return _run(args, tqdm)
    finally:
        numba.set_num_threads(numba_threads)


def _run(args, tqdm) -> int:
    import pandas as pd

    from exo_assets.inference import DecisionConfig, InputError
    from serving.registry import ModelRegistry

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if (args.period is None) != (args.t0 is None):
        print("error: --period and --t0 go together", file=sys.stderr)
        return 2
    try:
        decision = DecisionConfig(args.cp_thresh, args.cp_high)
        catalog = pd.read_csv(args.catalog) if args.catalog else None
        curves = load_curves(args.files, args.star_id, args.mission)
    except (InputError, ValueError, OSError) as err:
        print(f"error: {getattr(err, 'message', err)}", file=sys.stderr)
        return 2
    home = dagster_home(args.home)
    missions = sorted({c.mission for c in curves if c.mission})
    registry = ModelRegistry(home, missions or ("Kepler", "K2", "TESS"))
    try:
        registry.refresh()
        return _predict_all(args, curves, catalog, decision, registry, home, tqdm)
    finally:
        registry.close()


def _predict_all(args, curves, catalog, decision, registry, home, tqdm) -> int:
    from exo_assets.inference import (
        InferenceError,
        InputError,
        PredictionRequest,
        PredictOptions,
        TargetInfo,
        predict_curve,
    )
    from exo_assets.inference.response import safe_name
    from exo_assets.storage import atomic_write_text, finite_or_none

    model_set = registry.current
    if not model_set.models:
        print(
            f"error: no model is materialized in DAGSTER_HOME={home}: run `exo-assets materialize` first "
            f"({registry.last_error or 'no runs'})",
            file=sys.stderr,
        )
        return 2
    # (curve, signal or None, the error that stops it or None): a signal whenever there is no error
    jobs: list[tuple[Any, dict | None, InferenceError | None]] = []
    for curve in curves:
        try:
            signals = signals_for(curve, args, catalog)
        except InputError as input_err:
            jobs.append((curve, None, input_err))
            continue
        if not signals:
            jobs.append((curve, None, InputError(f"{curve.star_id}: no signal of this star in the catalog")))
        for s in signals:
            jobs.append((curve, s, None))
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    options = PredictOptions(return_plots=args.plots, return_plot_data=args.plot_data)
    flags = {
        "teff_k": args.teff,
        "logg_cgs": args.logg,
        "radius_rsun": args.radius,
        "mag": args.mag,
        "depth_ppm": args.depth,
    }
    results = []
    for curve, sig, err in tqdm(
        jobs, desc="exo-predict", unit="signal", disable=args.no_progress or args.json
    ):
        same_star = [s for c, s, _ in jobs if c is curve and s is not None]
        name = safe_name(curve.star_id)
        if sig is not None and len(same_star) > 1:
            name += "_" + safe_name(sig["signal_id"])
        out_path = args.out / f"pred_{name}.json"
        if err is None:
            assert sig is not None  # every job without an error has a signal
            # the shipped catalog's other signals are added by the engine; a user's CSV rows are passed here
            others = [
                (float(s["period"]), float(s["t0"]), float(s["duration"]))
                for s in same_star
                if s is not sig
                and s.get("source") == "given"
                and all(finite_or_none(s[k]) is not None for k in ("period", "t0", "duration"))
            ]
            given = {
                k: finite_or_none(flags[k]) if flags[k] is not None else finite_or_none(sig.get(k))
                for k in STAR_FIELDS
            }
            target = TargetInfo(**{k: float("nan") if v is None else v for k, v in given.items()})
            try:
                result = predict_curve(
                    model_set,
                    PredictionRequest(
                        curve,
                        finite_or_none(sig["period"]),
                        finite_or_none(sig["t0"]),
                        finite_or_none(sig["duration"]),
                        target,
                        options,
                        decision,
                        tuple(others),
                        media_dir=args.out,
                        media_url=str(args.out),
                        ephemeris_source=sig.get("source", "given"),
                        signal_id=sig.get("signal_id", "") if sig.get("source") == "catalog" else "",
                    ),
                )
                if sig.get("signal_id"):
                    result["signal_id"] = sig["signal_id"]
            except InferenceError as exc:
                err = exc
        if err is not None:
            failures += 1
            result = {
                "error": {
                    "code": getattr(err, "code", "INTERNAL"),
                    "message": getattr(err, "message", str(err)),
                },
                "star_id": curve.star_id,
                "signal_id": (sig or {}).get("signal_id", ""),
            }
            if not args.json:
                tqdm.write(
                    f"{curve.star_id} {(sig or {}).get('signal_id', '')}: {result['error']['message']}",
                    file=sys.stderr,
                )
        atomic_write_text(out_path, json.dumps(result, indent=1, allow_nan=False) + "\n")
        results.append(result)
    if args.json:
        print(json.dumps(results, indent=1, allow_nan=False))
    else:
        from serving.cli_table import format_results

        print(format_results(results))
        print(f"exo-predict: {len(jobs) - failures} answered, {failures} failed; outputs in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
