"""Benchmark: vetting-flag thresholds set on simulated injections (`exo-assets bench vetting`).

For each mission, stars drawn from the shipped catalog (seeded) go end to end through the code the
pipeline runs: `simulate_star` -> `write_star_fits` -> `prepare_star` (read, clean, detrend) ->
`star_signal_features`, and every signal is joined with the simulator's truth (mechanism, variant,
eccentricity, expected SNR). Planets are the truth mechanism "planet" (catalog CP/PC rows); false
positives get the simulator's mechanisms (Kepler: from the KOI flags; K2/TESS: drawn).

Per rule of the vetting YAML, the threshold is the most permissive value that fires on at most
`--max-false-alarm` (default 1%) of the simulated planets (NaN never fires; an `outside` rule splits
the budget between its two sides), and the table reports, per mission, each flag's false-alarm rate
on planets and its recall on the false-positive mechanism it targets (signals with truth expected
SNR >= `--min-snr`, i.e. measurable):

| flag | target |
|---|---|
| odd_even_depth | EBs caught at half their period (unequal odd/even eclipses) |
| secondary_eclipse | on-target EBs at their true period |
| v_shaped | grazing (V-shaped) EBs, on target or background |
| other_dip | eccentric EBs (secondary off phase 0.5); background EBs (contamination) |
| duration_mismatch, density_mismatch | background EBs (blends) |

Usage: ``exo-assets bench vetting [--mission M ...] [--stars 150] [--seed 11] [--workers 2]
[--max-false-alarm 0.01] [--min-snr 10] [--cache-dir DIR] [--write-config PATH] [--save-table CSV]
[--add-table CSV ...] [--evaluate-only]``. `--evaluate-only` keeps the YAML's thresholds and measures
them on new injections (another seed: a held-out check of the false-alarm rate). Significance thresholds
never go below the Gaussian 1% point on pure noise (`NOISE_FLOORS`); the table gives each false-alarm
rate with its 95% upper bound (Clopper-Pearson), since ~100 planets bound a 1% rate only loosely.
`--write-config` writes the vetting YAML with the thresholds per mission and the injection record
(sizes, rates, simulator version, seed) next to each rule: that file is the record the pipeline reads.
The simulator is used as it is (any version); a different simulator gives different thresholds,
which is the point of re-running this.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from exo_assets.science.missions import MISSIONS

EB_MECHANISMS = ("eb", "background_eb")


def _is_eb(t: pd.DataFrame) -> pd.Series:
    return t["mechanism"].isin(EB_MECHANISMS)


#: flag -> [(target name, truth predicate on the frame)]
TARGETS = {
    "odd_even_depth": [
        ("EBs at twice the period", lambda t: _is_eb(t) & t["variant"].str.startswith("half_period"))
    ],
    "secondary_eclipse": [
        (
            "on-target EBs, true period",
            lambda t: (t["mechanism"] == "eb") & t["variant"].str.startswith("true_period"),
        )
    ],
    "v_shaped": [("grazing EBs", lambda t: _is_eb(t) & t["variant"].str.endswith("v_shape"))],
    "other_dip": [
        ("eccentric EBs", lambda t: (t["mechanism"] == "eb") & (t["ecc"] > 0)),
        ("background EBs", lambda t: t["mechanism"] == "background_eb"),
    ],
    "duration_mismatch": [("background EBs", lambda t: t["mechanism"] == "background_eb")],
    "density_mismatch": [("background EBs", lambda t: t["mechanism"] == "background_eb")],
}
TRUTH_KEYS = ("mechanism", "variant", "ecc", "expected_snr", "secondary_phase")
#: Noise floors of the significance flags: a threshold is never below the Gaussian 1% point of the statistic
#: on pure noise (|z| two-sided for odd/even, one-sided for a dip), whatever a small planet sample allows
#: (the largest of n planets is an under-powered 99th percentile below n ~ 100).
NOISE_FLOORS = {"odd_even_sigma": 2.576, "secondary_sigma": 2.326, "max_other_sigma": 2.326}


# --- injections ----------------------------------------------------------------------------------


def sample_stars(
    catalog: pd.DataFrame, n_stars: int, seed: int, planet_share: float = 0.5
) -> list[pd.DataFrame]:
    """`n_stars` catalog stars (all their rows): `planet_share` of them with a planet (CP/PC) row, the rest
    with only FP rows."""
    rng = np.random.default_rng(seed)
    labels = catalog.groupby("star_id")["label"].agg(lambda s: bool(s.isin(["CP", "PC"]).any()))
    planet_stars = np.sort(labels.index[labels].to_numpy())
    fp_stars = np.sort(labels.index[~labels].to_numpy())
    n_p = min(int(round(n_stars * planet_share)), planet_stars.size)
    n_f = min(n_stars - n_p, fp_stars.size)
    chosen = np.r_[rng.choice(planet_stars, n_p, replace=False), rng.choice(fp_stars, n_f, replace=False)]
    by_star = dict(tuple(catalog[catalog["star_id"].isin(chosen)].groupby("star_id")))
    return [by_star[s].reset_index(drop=True) for s in chosen]


def _run_star(job) -> list[dict]:
    """Simulate, write, prepare and measure one star: per signal, its truth and features."""
    from exo_assets.science.diagnostics import StellarParams
    from exo_assets.science.features import star_signal_features
    from exo_assets.science.prepare import prepare_star
    from exo_assets.science.simulator import SimulatorConfig, read_truth, simulate_star, write_star_fits

    rows, hints, cache_dir, mission, seed = job
    host = rows.iloc[0]
    star = simulate_star(rows, mission, SimulatorConfig(seed=seed), hints)
    paths = write_star_fits(star, Path(cache_dir))
    truth = read_truth(host["star_id"], mission, Path(cache_dir))["signals"]
    prep = prepare_star([str(p) for p in paths], rows)
    if prep.status != "ok":
        return []
    curve, eph = prep.curve, prep.ephemerides
    assert curve is not None  # status "ok" comes with the cleaned curve
    stellar = StellarParams(host["teff_k"], host["logg_cgs"], host["radius_rsun"])
    out = []
    for res in star_signal_features(curve.time, curve.flux, curve.flux_err, eph, stellar, mission):
        if res.status != "ok" or res.signal_id not in truth:
            continue
        t = truth[res.signal_id]
        out.append(
            {
                "signal_id": res.signal_id,
                "star_id": host["star_id"],
                **{k: t.get(k) for k in TRUTH_KEYS},
                **res.features,
            }
        )
    return out


def run_injections(
    mission: str, n_stars: int, seed: int, cache_dir: Path, workers: int = 2, planet_share: float = 0.5
) -> pd.DataFrame:
    """Truth + features of every measured signal of `n_stars` simulated stars of `mission`."""
    from exo_assets.parallel import parallel_map
    from exo_assets.science.catalogs import load_catalog, load_generation_hints

    catalog = load_catalog(mission)
    hints = load_generation_hints(mission)
    hints = hints if len(hints) else None
    jobs = [
        (rows, hints, str(cache_dir), mission, seed)
        for rows in sample_stars(catalog, n_stars, seed, planet_share)
    ]
    records = [
        r
        for recs in parallel_map(_run_star, jobs, max_workers=workers, on_error=lambda item, err: [])
        for r in (recs or [])
    ]
    frame = pd.DataFrame(records)
    if len(frame):
        frame["variant"] = frame["variant"].fillna("").astype(str)
        frame["ecc"] = pd.to_numeric(frame["ecc"], errors="coerce").fillna(0.0)
        frame["expected_snr"] = pd.to_numeric(frame["expected_snr"], errors="coerce")
    return frame


# --- thresholds and rates ------------------------------------------------------------------------


def upper_threshold(values: np.ndarray, max_rate: float, n_total: int | None = None) -> float:
    """Smallest threshold t such that `value > t` holds for at most floor(max_rate x n) of the values
    (NaN never fires and counts in n = `n_total` or len(values))."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v) if n_total is None else n_total
    fin = np.sort(v[np.isfinite(v)])[::-1]
    allowed = int(math.floor(max_rate * n))
    if fin.size <= allowed:
        return float(fin[-1]) - 1e-9 if fin.size else float("nan")
    return float(fin[allowed])


def choose_threshold(op: str, values: np.ndarray, max_rate: float):
    """Threshold(s) for a rule with `op` firing on at most `max_rate` of `values` (planets).

    ">" / ">=": upper tail; "<" / "<=": lower tail; "outside": [low, high] with half the budget each.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if op in (">", ">="):
        return upper_threshold(v, max_rate, n)
    if op in ("<", "<="):
        return -upper_threshold(-v, max_rate, n)
    low = -upper_threshold(-v, 0.5 * max_rate, n)
    high = upper_threshold(v, 0.5 * max_rate, n)
    return [low, high]


def fa_upper(fires: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a false-alarm rate from `fires` of `n` planets."""
    from scipy.stats import beta

    return float("nan") if n == 0 else (1.0 if fires >= n else float(beta.ppf(level, fires + 1, n - fires)))


def flag_rates(
    frame: pd.DataFrame, config, mission: str, max_rate: float, min_snr: float, evaluate_only: bool = False
) -> pd.DataFrame:
    """Per rule: threshold chosen on the planets (or the config's, `evaluate_only`), false alarm on planets
    with its 95% upper bound, recall on each target."""
    from exo_assets.models.vetting import VettingRule

    planets = frame[frame["mechanism"] == "planet"]
    measurable = frame["expected_snr"] >= min_snr
    rows = []
    for rule in config.rules:
        if rule.feature not in frame.columns:
            continue
        if evaluate_only:
            chosen = list(rule.thresholds) if rule.op == "outside" else rule.threshold
        else:
            chosen = choose_threshold(rule.op, planets[rule.feature].to_numpy(float), max_rate)
            if rule.feature in NOISE_FLOORS and rule.op in (">", ">="):
                chosen = max(chosen, NOISE_FLOORS[rule.feature])
        kw = {"thresholds": tuple(chosen)} if rule.op == "outside" else {"threshold": chosen}
        fitted = VettingRule(flag=rule.flag, feature=rule.feature, op=rule.op, weight=rule.weight, **kw)
        fires = fitted.triggered(planets[rule.feature].to_numpy(float))
        fa = float(fires.mean()) if len(planets) else float("nan")
        fa_hi = fa_upper(int(fires.sum()), len(planets))
        for name, pred in TARGETS.get(rule.flag, [("any FP", lambda t: t["mechanism"] != "planet")]):
            target = frame[pred(frame) & measurable]
            hit = fitted.triggered(target[rule.feature].to_numpy(float))
            rows.append(
                {
                    "mission": mission,
                    "flag": rule.flag,
                    "feature": rule.feature,
                    "op": rule.op,
                    "threshold": chosen,
                    "planets": len(planets),
                    "false_alarm": fa,
                    "fa_95_upper": fa_hi,
                    "target": name,
                    "n_target": len(target),
                    "recall": float(hit.mean()) if len(target) else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """The per-mission table as Markdown (thresholds rounded)."""
    t = table.copy()
    t["threshold"] = [
        f"[{v[0]:.3g}, {v[1]:.3g}]" if isinstance(v, (list, tuple)) else f"{v:.3g}" for v in t["threshold"]
    ]
    t["false_alarm"] = (100 * t["false_alarm"]).map("{:.1f}%".format)
    t["fa_95_upper"] = (100 * t["fa_95_upper"]).map("{:.1f}%".format)
    t["recall"] = (100 * t["recall"]).map(lambda v: "n/a" if not np.isfinite(v) else f"{v:.0f}%")
    cols = [
        "flag",
        "feature",
        "op",
        "threshold",
        "planets",
        "false_alarm",
        "fa_95_upper",
        "target",
        "n_target",
        "recall",
    ]
    return t[cols].to_markdown(index=False)


def write_config(path: Path, base, tables: dict[str, pd.DataFrame], record: dict) -> None:
    """The vetting YAML with per-mission thresholds and the injection record of every rule."""
    import yaml

    data = base.to_dict()
    data["version"] = 2
    for rule in data["rules"]:
        per, rates = {}, {}
        for mission, table in tables.items():
            sub = table[table["flag"] == rule["flag"]]
            if not len(sub):
                continue
            thr = sub["threshold"].iloc[0]
            per[mission] = [float(v) for v in thr] if isinstance(thr, (list, tuple)) else float(thr)
            rates[mission] = {
                "false_alarm_planets": round(float(sub["false_alarm"].iloc[0]), 4),
                "false_alarm_95_upper": round(float(sub["fa_95_upper"].iloc[0]), 4),
                "planets": int(sub["planets"].iloc[0]),
                "recall": {
                    r.target: round(float(r.recall), 3) for r in sub.itertuples() if np.isfinite(r.recall)
                },
            }
        if per:
            rule["threshold_by_mission"] = per
            rule["injection"] = rates
    data["fitted"] = record
    header = """\
# Physical vetting rules (read by exo_assets.models.vetting.load_vetting_config), version 2.
# Written by `exo-assets bench vetting --write-config <this file>` (see docs/vetting.md); edit the rules and
# re-run it rather than editing thresholds by hand.
#
# Each rule flags one numeric feature-table column (see exo_assets.science.diagnostics.DIAGNOSTIC_SCHEMA):
# op ">", ">=", "<", "<=" against `threshold`, or "outside" `thresholds: [low, high]`. A NaN never flags.
# - threshold_by_mission: the threshold set on that mission's simulated injections so that the flag fires on
#   at most `fitted.method`'s share of simulated planets; `threshold(s)` is the fallback for other data.
# - injection: per mission, the measured false-alarm rate on the simulated planets and the recall on the
#   false-positive mechanism(s) the flag targets (truth expected SNR >= fitted.min_snr_targets).
# - weight, bias, temperature: starting values only. The blend asset fits them per mission on the blend's
#   out-of-fold probabilities (exo_assets.models.vetting_fit: non-negative logistic stacker
#       logits = temperature * log p_blend;  logits[FP] += bias + sum(weight * flag);  p = softmax(logits)
#   ) and keeps the stage only where it lowers the star-disjoint cross-fitted log-loss; the fitted values
#   are stored with the blend asset (attrs["vetting"]) and used at inference.
"""
    Path(path).write_text(header + yaml.safe_dump(data, sort_keys=False, width=110))


def main(argv=None) -> int:
    from exo_assets.models.vetting import load_vetting_config
    from exo_assets.science.simulator import SIMULATOR_VERSION

    ap = argparse.ArgumentParser(prog="exo-assets bench vetting", description=__doc__.splitlines()[0])
    ap.add_argument("--mission", action="append", choices=list(MISSIONS))
    ap.add_argument("--stars", type=int, default=150, help="simulated stars per mission")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-false-alarm", type=float, default=0.01)
    ap.add_argument("--min-snr", type=float, default=10.0, help="targets: truth expected SNR at least this")
    ap.add_argument(
        "--cache-dir", type=Path, default=None, help="simulated FITS (default: a temporary folder)"
    )
    ap.add_argument("--config", type=Path, default=None, help="vetting YAML whose rules are thresholded")
    ap.add_argument("--write-config", type=Path, default=None)
    ap.add_argument(
        "--save-table", type=Path, default=None, help="CSV of truth + features of every injection"
    )
    ap.add_argument(
        "--add-table",
        type=Path,
        action="append",
        default=[],
        help="earlier --save-table CSVs (other seeds) pooled with this run's injections",
    )
    ap.add_argument(
        "--evaluate-only",
        action="store_true",
        help="keep the config's per-mission thresholds and measure them (held-out injections)",
    )
    ap.add_argument(
        "--planet-share", type=float, default=0.5, help="share of simulated stars hosting a planet"
    )
    args = ap.parse_args(argv)
    base = load_vetting_config(args.config)
    missions = args.mission or list(MISSIONS)
    tables, frames, pooled = {}, [], {}
    with tempfile.TemporaryDirectory(prefix="bench-vetting-") as tmp:
        cache = args.cache_dir or Path(tmp)
        for mission in missions:
            started = time.perf_counter()
            frame = run_injections(mission, args.stars, args.seed, cache, args.workers, args.planet_share)
            frames.append(frame.assign(mission=mission, seed=args.seed))
            for extra in args.add_table:
                old = pd.read_csv(extra)
                old = old[old["mission"] == mission]
                if len(old):
                    old["variant"] = old["variant"].fillna("").astype(str)
                    frame = pd.concat([frame, old], ignore_index=True)
            pooled[mission] = int(len(frame))
            counts = frame["mechanism"].value_counts().to_dict() if len(frame) else {}
            tables[mission] = flag_rates(
                frame,
                base.for_mission(mission),
                mission,
                args.max_false_alarm,
                args.min_snr,
                args.evaluate_only,
            )
            print(
                f"\n## {mission}: {len(frame)} simulated signals ({args.stars} stars, seed {args.seed}"
                f"{' + ' + str(len(args.add_table)) + ' earlier table(s)' if args.add_table else ''}) "
                f"({counts}; {time.perf_counter() - started:.0f} s)\n"
            )
            print(markdown(tables[mission]))
    if args.save_table:
        pd.concat(frames).to_csv(args.save_table, index=False)
    if args.write_config:
        record = {
            "method": f"thresholds: fire on <= {args.max_false_alarm:g} of simulated planets (bench vetting)",
            "simulator_version": str(SIMULATOR_VERSION),
            "seed": args.seed,
            "stars_per_mission": args.stars,
            "min_snr_targets": args.min_snr,
            "pooled_tables": [str(p) for p in args.add_table],
            "signals": pooled,
        }
        write_config(args.write_config, base, tables, record)
        print(f"\nwrote {args.write_config}")
    return 0
