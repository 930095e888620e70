"""Centroid-test recall on simulated background binaries at a <= 1 % false-alarm rate on simulated planets.

    python -m exo_assets.bench.centroid_recall [--n 150] [--quarters 2] [--seed 0]

Draws Kepler catalog rows (planets: CP/PC; background binaries: FPs whose Kepler flags say
centroid offset or ephemeris match without stellar eclipse), simulates each as its own star with
the catalog-seeded simulator (which moves the flux-weighted centroid of a background binary by
depth x offset during eclipses), runs `science.centroids.centroid_test` on the simulated
MOM_CENTR1/2 columns (quality-masked as lightkurve's default), sets the significance threshold at
the 99th percentile of the planets' and prints the background binaries' recall above it, also
by bins of the expected shift (depth x offset) over the centroid noise.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from exo_assets.science.catalogs import load_catalog, load_generation_hints
from exo_assets.science.centroids import centroid_test
from exo_assets.science.simulator import DEFAULT_BITMASK, SimulatorConfig, simulate_star


def _sample(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cat = load_catalog("Kepler")
    hints = load_generation_hints("Kepler")
    cat = cat[cat["period_days"].between(0.5, 60) & cat["duration_days"].between(0.04, 0.6)]
    beb_ids = hints[((hints.fp_co == 1) | (hints.fp_ec == 1)) & (hints.fp_ss == 0)]["signal_id"]
    planets = cat[cat["label"].isin(["CP", "PC"])]
    bebs = cat[(cat["label"] == "FP") & cat["signal_id"].isin(set(beb_ids))]
    rng = np.random.default_rng(seed)
    pick = pd.concat(
        [
            planets.iloc[rng.choice(len(planets), n, replace=False)],
            bebs.iloc[rng.choice(len(bebs), n, replace=False)],
        ]
    )
    return pick, hints


def measure(rows: pd.DataFrame, hints: pd.DataFrame, config: SimulatorConfig) -> pd.DataFrame:
    """One record per signal: truth mechanism, centroid offset, depth and the centroid test result."""
    out = []
    for _, r in rows.iterrows():
        one = r.to_frame().T.infer_objects()
        star = simulate_star(one, "Kepler", config, hints)
        tr = star.truth["signals"][r["signal_id"]]
        if tr.get("source") == "label_noise":
            continue  # a PC the simulator made a false positive: neither a planet nor a flagged binary
        t = np.concatenate([s.time for s in star.segments])
        q = np.concatenate([s.quality for s in star.segments])
        col = np.concatenate([s.centroid_col for s in star.segments])
        row = np.concatenate([s.centroid_row for s in star.segments])
        ok = ((q & DEFAULT_BITMASK["Kepler"]) == 0) & np.isfinite(col)
        res = centroid_test(
            t[ok], col[ok], row[ok], tr["period"], tr["t0"], tr["duration_days"], tr["depth_ppm"]
        )
        out.append(
            {
                "signal_id": r["signal_id"],
                "mechanism": tr["mechanism"],
                "depth_ppm": tr["depth_ppm"],
                "offset_pix": tr.get("centroid_offset_pix", 0.0),
                "snr": tr["expected_snr"],
                **res,
            }
        )
    return pd.DataFrame(out)


def summarise(frame: pd.DataFrame, fa: float = 0.01) -> dict:
    """Threshold at the (1 - fa) quantile of the planets' significance; recall of the background binaries."""
    planets = frame[frame["mechanism"] == "planet"]["significance"].dropna()
    bebs = frame[frame["mechanism"] == "background_eb"]
    thr = float(np.quantile(planets, 1 - fa)) if len(planets) else float("nan")
    hit = bebs["significance"] > thr
    shift = bebs["depth_ppm"] * 1e-6 * bebs["offset_pix"]
    return {
        "n_planets": len(planets),
        "n_background_eb": len(bebs),
        "threshold": thr,
        "planet_fa": float((planets > thr).mean()),
        "recall": float(hit.mean()),
        "recall_shift_gt_1e-4_pix": float(hit[shift > 1e-4].mean()) if (shift > 1e-4).any() else float("nan"),
        "recall_at_p_lt_0.01": float((bebs["p_value"] < 0.0125).mean()),
        "planet_fa_at_p_lt_0.01": float((frame[frame["mechanism"] == "planet"]["p_value"] < 0.0125).mean()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=150, help="planets and background binaries each")
    ap.add_argument("--quarters", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows, hints = _sample(args.n, args.seed)
    frame = measure(rows, hints, SimulatorConfig(seed=args.seed, kepler_quarters=args.quarters))
    for k, v in summarise(frame).items():
        print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
