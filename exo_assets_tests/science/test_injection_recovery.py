"""Injection-recovery of the science core on the project's own simulator (truth known).

Every signal goes end to end through the code the Dagster assets run: `simulate_star` ->
`write_star_fits` (MAST-like FITS) -> `prepare.prepare_star` (read, clean, detrend; the
`cleaned_curves` asset) -> `features.star_signal_features` (the `feature_table` asset) and is
compared with the simulator's truth JSON (`read_truth`).

Simulated set (Kepler, 2 quarters ~ 180 d at 29.4-min cadence, one signal per star, seed fixed):
- planets: Kepler CP/PC catalog rows (period 1-12 d, catalog impact < 0.8, so never grazing) with
  the depth re-drawn log-uniform 300-10000 ppm and the magnitude U(11, 14.5), so that the truth
  SNR spans ~10 to a few thousand;
- eclipsing binaries: Kepler FP rows (period 1-12 d) with depth log-U(2000, 50000) ppm and
  magnitude U(11, 14.5), forced to an on-target EB by the hint fp_ss=1 (the simulator then draws,
  per signal, half/true period, grazing/flat and eccentricity);
- background binaries: the same with fp_co=1 (diluted blends; twins at twice the period).

Expected significances (what the diagnostic would measure on the noise-free injected model): the
truth parameters rebuild the injected model with the simulator's own batman wrappers on the
cleaned curve's cadences, the diagnostic's windows are applied at the true ephemeris (core
|phase| < T14/4 per transit parity for odd/even; a T14 box at the true secondary time), and the
mean model depth is divided by the white-noise error of that window (truth sigma_ppm /
sqrt(cadences)), times the signal's red-noise factor expected_snr / expected_snr_white (truth:
white + AR(1) red noise for a T14-long event). Thresholds are the issue's:
  depth and Rp/Rs within 10 % at SNR > 20; odd/even > 3 sigma on >= 90 % of EBs whose injected
  odd/even difference is > 5 sigma and on <= 5 % of planets; secondary > 5 sigma on >= 90 % of
  injected secondaries above 5 sigma; ROC-AUC(v_shape) >= 0.9 for grazing EBs vs flat planets.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from exo_assets.parallel import parallel_map
from exo_assets.science.catalogs import CATALOG_COLUMNS, load_catalog
from exo_assets.science.diagnostics import StellarParams
from exo_assets.science.features import star_signal_features
from exo_assets.science.missions import mission_info
from exo_assets.science.prepare import prepare_star
from exo_assets.science.simulator import SimulatorConfig, read_truth, simulate_star, write_star_fits
from exo_assets.science.simulator import transit_models as tm
from exo_assets.science.simulator.core import SUPERSAMPLE
from exo_assets.science.views import phase_fold, transit_number

MISSION = "Kepler"
CONFIG = SimulatorConfig(seed=7, kepler_quarters=2)
N_PLANETS, N_EBS, N_BEBS = 40, 50, 12
MIN_SNR = 20.0
FEATURES = ("depth_ppm", "ma_rp_rs", "transit_snr", "odd_even_sigma", "secondary_sigma", "max_other_sigma",
            "max_other_phase", "v_shape", "oot_scatter_ppm", "epoch_offset_days")
TRUTH = ("mechanism", "variant", "depth_ppm", "rp_rs", "b", "expected_snr", "expected_snr_white", "odd_depth_ppm",
         "even_depth_ppm", "secondary_depth_ppm", "secondary_phase", "ecc", "dilution", "noise_sigma_ppm",
         "n_in_transit_cadences", "period", "true_period", "duration_days")


# --- the simulated set --------------------------------------------------------------------------

def _sample_rows(catalog: pd.DataFrame, kind: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n catalog rows of one kind as new one-signal stars with re-drawn depth and magnitude."""
    cat = catalog[catalog["period_days"].between(1.0, 12.0)
                  & (catalog["duration_days"] < 0.12 * catalog["period_days"])
                  & catalog[["teff_k", "logg_cgs", "radius_rsun", "epoch"]].notna().all(axis=1)]
    if kind == "planet":
        cat = cat[cat["label"].isin(["CP", "PC"]) & (cat["impact"] < 0.8)]
        depth = np.exp(rng.uniform(math.log(300.0), math.log(10000.0), n))
    else:
        cat = cat[cat["label"] == "FP"]
        depth = np.exp(rng.uniform(math.log(2000.0), math.log(50000.0), n))
    rows = cat.iloc[np.sort(rng.choice(len(cat), n, replace=False))].copy().reset_index(drop=True)
    base = {"planet": 9_100_000, "eb": 9_200_000, "background_eb": 9_300_000}[kind]
    rows["star_id"] = [f"KIC {base + i}" for i in range(n)]
    rows["signal_id"] = [f"SIM-{kind}-{i:03d}.01" for i in range(n)]
    rows["depth_ppm"] = depth
    rows["mag"] = rng.uniform(11.0, 14.5, n)
    return rows[CATALOG_COLUMNS]


def _hints(rows: pd.DataFrame, kind: str) -> pd.DataFrame | None:
    if kind == "planet":
        return None
    flags = {"fp_ss": int(kind == "eb"), "fp_co": int(kind == "background_eb"), "fp_nt": 0, "fp_ec": 0}
    return pd.DataFrame({"signal_id": rows["signal_id"].to_numpy(), **{k: v for k, v in flags.items()}})


def _model_depth(time: np.ndarray, t: dict, mission: str = MISSION) -> np.ndarray:
    """Noise-free injected depth (1 - relative flux) of one signal at `time`, from its truth."""
    cadence = mission_info(mission).cadence_days
    u = (t["u1"], t["u2"])
    half = t["duration_days"] + 0.1
    if t["mechanism"] == "planet":
        delta = tm.transit_delta(time, t["t0"], t["period"], t["rp_rs"], t["a_rs"], t["b"], u, cadence,
                                 SUPERSAMPLE[mission], half)
    else:
        delta, _ = tm.eb_delta(time, t["t0"], t["true_period"], t["rp_rs"], t["a_rs"], t["inc_deg"], u, t["ecc"],
                               t["w_deg"], t["flux_ratio"], cadence, SUPERSAMPLE[mission], half)
        delta = delta * t["dilution"]
    return -delta


def _expected_sigmas(time: np.ndarray, t: dict, duration: float, mission: str = MISSION) -> dict:
    """Odd/even and secondary significances of the noise-free model in the diagnostic's windows."""
    depth = _model_depth(time, t, mission)
    sigma = t["noise_sigma_ppm"] * 1e-6
    red = t["expected_snr"] / t["expected_snr_white"] if t["expected_snr_white"] else 1.0
    period = t["period"]
    core = np.abs(phase_fold(time, period, t["t0"])) < 0.25 * duration
    odd = transit_number(time, period, t["t0"]) % 2 == 1
    n_odd, n_even = int((core & odd).sum()), int((core & ~odd).sum())
    out = {"exp_odd_even_sigma": np.nan, "exp_secondary_sigma": np.nan}
    if n_odd and n_even:
        diff = abs(depth[core & odd].mean() - depth[core & ~odd].mean())
        out["exp_odd_even_sigma"] = red * diff / (sigma * math.sqrt(1.0 / n_odd + 1.0 / n_even))
    if t["secondary_phase"] is not None and t["mechanism"] != "planet":
        t_sec = t["t0"] + t["secondary_phase"] * t["true_period"]
        box = np.abs(phase_fold(time, t["true_period"], t_sec)) < 0.5 * duration
        if box.any():
            out["exp_secondary_sigma"] = red * depth[box].mean() / sigma * math.sqrt(box.sum())
    return out


def _run_star(job) -> dict:
    """Simulate, write, prepare and measure one star; one record of truth, features and expectations."""
    rows, hints, cache_dir, mission, config = job
    row = rows.iloc[0]
    star = simulate_star(rows, mission, config, hints)
    paths = write_star_fits(star, cache_dir)
    truth = read_truth(row["star_id"], mission, cache_dir)["signals"][row["signal_id"]]
    rec = {"signal_id": row["signal_id"], **{k: truth.get(k) for k in TRUTH}}
    prep = prepare_star([str(p) for p in paths], rows)
    rec["status"] = prep.status if prep.status != "ok" else ""
    if prep.status != "ok":
        rec["status"] = f"prepare: {prep.reason}"
        return rec
    curve = prep.curve
    res = star_signal_features(curve.time, curve.flux, curve.flux_err, prep.ephemerides,
                               StellarParams(row["teff_k"], row["logg_cgs"], row["radius_rsun"]), mission)[0]
    rec["status"] = res.status if res.status == "ok" else f"features: {res.reason}"
    rec.update({f"m_{k}": res.features.get(k, np.nan) for k in FEATURES})
    rec.update(_expected_sigmas(curve.time, truth, float(row["duration_days"]), mission))
    return rec


@pytest.fixture(scope="module")
def injected(tmp_path_factory) -> pd.DataFrame:
    cache = tmp_path_factory.mktemp("injection_recovery")
    catalog = load_catalog(MISSION)
    rng = np.random.default_rng(2024)
    jobs = []
    for kind, n in (("planet", N_PLANETS), ("eb", N_EBS), ("background_eb", N_BEBS)):
        rows = _sample_rows(catalog, kind, n, rng)
        hints = _hints(rows, kind)
        jobs += [(rows.iloc[[i]].reset_index(drop=True), hints, cache, MISSION, CONFIG) for i in range(n)]
    frame = pd.DataFrame(parallel_map(_run_star, jobs, max_workers=2))
    frame["grazing"] = frame["variant"].str.endswith("v_shape")
    return frame


# --- tests --------------------------------------------------------------------------------------

def test_every_injection_is_processed_and_mechanisms_are_as_forced(injected):
    assert (injected["status"] == "ok").all(), injected.loc[injected["status"] != "ok", ["signal_id", "status"]]
    kinds = injected["signal_id"].str.split("-").str[1]
    assert (kinds == injected["mechanism"]).all()


def test_planet_depth_and_radius_ratio_recovered(injected):
    p = injected[(injected["mechanism"] == "planet") & (injected["expected_snr"] > MIN_SNR)]
    assert len(p) >= 20
    depth_err = (p["m_depth_ppm"] / p["depth_ppm"] - 1).abs()
    k_err = (p["m_ma_rp_rs"] / p["rp_rs"] - 1).abs()
    bad = p[(depth_err > 0.1) | (k_err > 0.1)]
    assert (depth_err < 0.1).mean() >= 0.9, bad[["signal_id", "expected_snr", "depth_ppm", "m_depth_ppm"]]
    assert (k_err < 0.1).mean() >= 0.9, bad[["signal_id", "expected_snr", "rp_rs", "m_ma_rp_rs", "b"]]
    assert depth_err.median() < 0.05
    assert k_err.median() < 0.05


def test_odd_even_flags_ebs_not_planets(injected):
    ebs = injected[injected["mechanism"].isin(["eb", "background_eb"]) & (injected["exp_odd_even_sigma"] > 5)]
    assert len(ebs) >= 10
    assert (ebs["m_odd_even_sigma"] > 3).mean() >= 0.9, ebs[["signal_id", "exp_odd_even_sigma", "m_odd_even_sigma"]]
    planets = injected[injected["mechanism"] == "planet"]
    assert (planets["m_odd_even_sigma"] > 3).mean() <= 0.05, planets.loc[
        planets["m_odd_even_sigma"] > 3, ["signal_id", "expected_snr", "m_odd_even_sigma"]]


def _secondary_found(r) -> bool:
    if r["m_secondary_sigma"] > 5:
        return True
    # eccentric orbits move the secondary off phase 0.5: the other-phase search must find it there
    near = abs((r["m_max_other_phase"] - r["secondary_phase"] + 0.5) % 1.0 - 0.5) < r["duration_days"] / r["period"]
    return bool(r["m_max_other_sigma"] > 5 and near)


def test_secondary_eclipses_detected(injected):
    sec = injected[injected["variant"].str.startswith("true_period") & (injected["exp_secondary_sigma"] > 5)]
    assert len(sec) >= 10
    found = sec.apply(_secondary_found, axis=1)
    assert found.mean() >= 0.9, sec.loc[~found, ["signal_id", "variant", "ecc", "exp_secondary_sigma",
                                                 "m_secondary_sigma", "m_max_other_sigma"]]


def test_v_shape_separates_grazing_ebs_from_flat_planets(injected):
    pos = injected[injected["grazing"] & (injected["expected_snr"] > MIN_SNR)]
    neg = injected[(injected["mechanism"] == "planet") & (injected["expected_snr"] > MIN_SNR)
                   & (injected["b"] < 1 - injected["rp_rs"])]
    assert len(pos) >= 10 and len(neg) >= 10
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    assert roc_auc_score(y, np.r_[pos["m_v_shape"], neg["m_v_shape"]]) >= 0.9
