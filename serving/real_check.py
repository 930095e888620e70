"""The real-signal check: 17 archive signals of ../shared/data/fits asked as a user would, served models.

The signals are asked with their catalog ephemeris only, with the served models (a check, not
training data: nothing is tuned on these signals).

    python -m serving.real_check [--fits-dir DIR] [--home DAGSTER_HOME] [--json]

Prints three tables:
1. the 17 signals with their catalog ephemeris only (what `exo-predict FILE --period P --t0 T0 --duration D`
   does; period, epoch and duration from the shipped KOI cumulative / TOI tables);
2. Kepler-90 g and f in catalog mode (`exo-predict FILES` with the shipped catalog: the star's other
   planets masked);
3. invariance: pi Men c and Kepler-90 d asked three ways (file + ephemeris, file + catalog mode, JSON arrays
   through the API's JSON route) and the spread of p(FP).

Models load through Dagster from DAGSTER_HOME (`--home`), once. Exit status 0, or 2 when the folder or the
models are missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: (signal id in the shipped catalog, mission, archive disposition).
CHECK_SIGNALS: tuple[tuple[str, str, str], ...] = (
    *(
        (f"KOI {k}", "Kepler", "planet")
        for k in (
            "K00351.01",
            "K00351.03",
            "K00351.04",
            "K00351.07",
            "K00752.01",
            "K00752.02",
            "K00753.01",
            "K00755.01",
            "K00777.01",
            "K04725.01",
        )
    ),
    *((f"TOI {t}", "TESS", "planet") for t in ("118.01", "120.01", "123.01", "136.01", "144.01")),
    ("KOI K00754.01", "Kepler", "FP"),
    ("KOI K00742.01", "Kepler", "FP"),
)
CATALOG_MODE_SIGNALS: tuple[str, ...] = ("KOI K00351.02", "KOI K00351.07")  # Kepler-90 g, f
#: (name, signal id, mission, explicit ephemeris (period d, t0 BKJD/BTJD, duration d) or None for the
#: catalog's).
INVARIANCE_SIGNALS = (
    ("pi Men c", "TOI 144.01", "TESS", (6.267832, 1325.5038, 0.1162)),
    ("Kepler-90 d", "KOI K00351.03", "Kepler", None),
)


def default_fits_dir() -> Path:
    """../shared/data/fits next to the repository."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fits"


def index_fits(fits_dir: Path) -> dict[tuple[str, str], list[Path]]:
    """(mission, star id) -> the light-curve FITS files of that star under `fits_dir` (by header)."""
    from exo_assets.science.lightcurves import LightCurveError, read_header_identity

    out: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(Path(fits_dir).rglob("*.fits")):
        try:
            star, mission = read_header_identity(path)
        except LightCurveError:
            continue
        out.setdefault((mission, star), []).append(path)
    return out


def catalog_row(signal_id: str, mission: str):
    from exo_assets.inference.star import _catalog

    cat = _catalog(mission)
    rows = cat[cat["signal_id"] == signal_id]
    if rows.empty:
        raise KeyError(f"{signal_id} is not in the shipped {mission} catalog")
    return rows.iloc[0]


def ask(model_set, curve, period, t0, duration, source: str = "given", signal_id: str = "") -> dict:
    """One prediction through the engine, as `exo-predict` builds it; errors as {"error": ...}."""
    from exo_assets.inference import InferenceError, PredictionRequest, predict_curve

    try:
        return predict_curve(
            model_set,
            PredictionRequest(curve, period, t0, duration, ephemeris_source=source, signal_id=signal_id),
        )
    except InferenceError as err:
        return {"error": {"code": err.code, "message": err.message}}


def ask_json_api(model_set, curve, period, t0, duration) -> dict:
    """The same signal as the README's JSON example: finite arrays + star id + mission through the API's JSON
    route handler (`serving.routes`), no header."""
    import numpy as np

    from exo_assets.inference import InferenceError
    from serving.routes import _predict_json_item
    from serving.schemas import PredictRequest
    from serving.settings import ServeSettings

    ok = np.isfinite(curve.time) & np.isfinite(curve.flux)
    body = json.dumps(
        {
            "star_id": curve.star_id,
            "mission": curve.mission,
            "time": curve.time[ok].tolist(),
            "flux": curve.flux[ok].tolist(),
            "quality": np.asarray(curve.quality)[ok].tolist(),
            "period": period,
            "t0": t0,
            "duration": duration,
        }
    )
    try:
        # ServeSettings' fields all have defaults; mypy (no pydantic plugin) misses the positional
        # `Field(default, ...)` ones.
        settings = ServeSettings()  # type: ignore[call-arg]
        return _predict_json_item(model_set, PredictRequest.model_validate_json(body), settings, None)
    except InferenceError as err:
        return {"error": {"code": err.code, "message": err.message}}


def _row(name: str, archive: str, result: dict, mode: str) -> dict:
    probs = result.get("probs") or {}
    diag = result.get("diagnostics") or {}
    return {
        "signal": name,
        "archive": archive,
        "mode": mode,
        "class": result.get("prediction"),
        "p_CP": probs.get("CP"),
        "p_PC": probs.get("PC"),
        "p_FP": probs.get("FP"),
        "decision": (result.get("decision") or {}).get("label") or f"error {result['error']['code']}",
        "n_transits": int(diag["n_transits"]) if diag.get("n_transits") is not None else None,
        "flags": ",".join(result.get("flags") or []),
        "note": (result.get("decision") or {}).get("reason") or result.get("error", {}).get("message", ""),
    }


def curves_for(index, mission: str, star_id: str):
    from serving.predict_cli import load_curves

    paths = index.get((mission, star_id))
    return load_curves(paths, None, None)[0] if paths else None


def run_checks(model_set, fits_dir: Path) -> dict[str, list[dict]]:
    """The three tables of the module docstring, as lists of row dicts."""
    index = index_fits(fits_dir)
    cache: dict = {}

    def curve_of(signal_id, mission):
        row = catalog_row(signal_id, mission)
        key = (mission, row["star_id"])
        if key not in cache:
            cache[key] = curves_for(index, *key)
        return row, cache[key]

    ephem, catalog_mode, invariance = [], [], []
    for sid, mission, archive in CHECK_SIGNALS:
        row, curve = curve_of(sid, mission)
        if curve is None:
            ephem.append(
                {"signal": sid, "archive": archive, "decision": "no file", "note": str(row["star_id"])}
            )
            continue
        res = ask(
            model_set, curve, float(row["period_days"]), float(row["epoch"]), float(row["duration_days"])
        )
        ephem.append(_row(sid, archive, res, "ephemeris"))
    for sid in CATALOG_MODE_SIGNALS:
        row, curve = curve_of(sid, "Kepler")
        if curve is not None:
            res = ask(
                model_set,
                curve,
                float(row["period_days"]),
                float(row["epoch"]),
                float(row["duration_days"]),
                "catalog",
                sid,
            )
            catalog_mode.append(_row(sid, "planet", res, "catalog"))
    for name, sid, mission, explicit in INVARIANCE_SIGNALS:
        row, curve = curve_of(sid, mission)
        if curve is None:
            continue
        cat_eph = (float(row["period_days"]), float(row["epoch"]), float(row["duration_days"]))
        eph = explicit or cat_eph
        answers = {
            "file + ephemeris": ask(model_set, curve, *eph),
            "file + catalog mode": ask(model_set, curve, *cat_eph, "catalog", sid),
            "JSON arrays (API)": ask_json_api(model_set, curve, *eph),
        }
        for mode, res in answers.items():
            invariance.append(_row(f"{name} ({sid})", "planet", res, mode))
    return {"ephemeris": ephem, "catalog_mode": catalog_mode, "invariance": invariance}


def _fmt(v, digits=3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def render(tables: dict[str, list[dict]], provenance: str = "") -> str:
    from serving.cli_table import format_table

    cols = ("signal", "archive", "mode", "class", "p_CP", "p_PC", "p_FP", "decision", "n_transits", "flags")
    out = []
    titles = {
        "ephemeris": "17 real signals, catalog ephemeris only (file + --period/--t0/--duration)",
        "catalog_mode": "Kepler-90 g and f, catalog mode (other planets masked)",
        "invariance": "invariance: the same signal asked three ways",
    }
    for key, rows in tables.items():
        out += [f"## {titles[key]}", format_table([tuple(_fmt(r.get(c)) for c in cols) for r in rows], cols)]
        notes = [f"  {r['signal']} [{r.get('mode', '')}]: {r['note']}" for r in rows if r.get("note")]
        out += [*notes, ""]
    inv: dict[str, list[float]] = {}
    for r in tables.get("invariance", []):
        if r.get("p_FP") is not None:
            inv.setdefault(r["signal"], []).append(r["p_FP"])
    for name, ps in inv.items():
        out.append(f"p(FP) spread {name}: {max(ps) - min(ps):.3f} over {len(ps)} ways (target <= 0.05)")
    planets = [r for r in tables.get("ephemeris", []) if r.get("archive") == "planet"]
    fps = [r for r in tables.get("ephemeris", []) if r.get("archive") == "FP"]
    refused = [
        r for r in tables.get("ephemeris", []) if str(r.get("decision", "")).startswith(("error", "no file"))
    ]
    n_planets_ok = sum(1 for r in planets if (r.get("p_FP") or 1) < 0.5)
    n_fps_ok = sum(1 for r in fps if (r.get("p_FP") or 0) >= 0.5)
    out.append(
        f"planets with p(FP) < 0.5: {n_planets_ok} of {len(planets)}; "
        f"FPs with p(FP) >= 0.5: {n_fps_ok} of {len(fps)}; "
        f"refused: {len(refused)}"
    )
    if provenance == "simulated":
        out.append("NOTICE: simulated model (trained on the embedded simulator): not real-world accuracy.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.real_check", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fits-dir",
        type=Path,
        default=default_fits_dir(),
        help="folder of real FITS files (default ../shared/data/fits)",
    )
    parser.add_argument("--home", help="DAGSTER_HOME with the materialized models")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    args = parser.parse_args(argv)
    if not args.fits_dir.is_dir():
        print(f"error: no folder {args.fits_dir} (pass --fits-dir)", file=sys.stderr)
        return 2
    from exo_assets.defaults import dagster_home
    from serving.registry import ModelRegistry

    registry = ModelRegistry(dagster_home(args.home), ("Kepler", "TESS"))
    try:
        registry.refresh()
        model_set = registry.current
        if not {"Kepler", "TESS"} <= set(model_set.models):
            print(
                f"error: Kepler and TESS models are needed (loaded: {sorted(model_set.models)}); run "
                "`exo-assets materialize`",
                file=sys.stderr,
            )
            return 2
        tables = run_checks(model_set, args.fits_dir)
    finally:
        registry.close()
    if args.json:
        print(json.dumps(tables, indent=1))
    else:
        print(render(tables, model_set.models["TESS"].provenance))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
