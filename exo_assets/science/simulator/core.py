"""`simulate_star`: one star's catalog rows -> segments of simulated PDCSAP-like photometry + truth."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from exo_assets.science.missions import mission_info
from exo_assets.science.simulator import baselines as bl
from exo_assets.science.simulator import noise as nz
from exo_assets.science.simulator.limb_darkening import quadratic_ld
from exo_assets.science.simulator.rng import noise_rng, signal_rng, star_key
from exo_assets.science.simulator.signals import (
    PC_FP_RATE,
    StarContext,
    catalog_values,
    choose_mechanism,
    inject,
)
from exo_assets.storage import json_safe

SIMULATOR_VERSION = "2.0"

#: lightkurve's "default" quality bitmasks (KeplerQualityFlags / TessQualityFlags.DEFAULT_BITMASK).
DEFAULT_BITMASK = {"Kepler": 1130799, "K2": 1130799, "TESS": 17087}
#: batman supersampling of the exposure: 29.4-min long cadence is smeared, 2-min is not.
SUPERSAMPLE = {"Kepler": 15, "K2": 15, "TESS": 1}
#: Values used where the catalog has none (recorded in truth["star"]["filled"]).
FILL_TEFF_K, FILL_LOGG, FILL_RADIUS_RSUN = 5750.0, 4.44, 1.0


@dataclass(frozen=True)
class SimulatorConfig:
    """Simulation settings.

    Attributes:
        seed: base seed; each star's streams derive from (seed, crc32(mission|star_id)).
        kepler_quarters: Kepler quarters per star, Q2 onwards (each ~90 d at 29.4-min cadence; at
            most Q2-Q17, i.e. 16).
        k2_campaign_days: length (d) of the one K2 campaign (29.4-min cadence).
        tess_sectors: TESS sectors 1..tess_sectors (~27 d each, 2-min cadence).
    """

    seed: int = 0
    kepler_quarters: int = 4
    k2_campaign_days: float = 80.0
    tess_sectors: int = 1


@dataclass
class Segment:
    """One quarter / campaign / sector = one FITS file.

    Attributes:
        number: quarter, campaign or sector number.
        time: float64 days, BKJD (Kepler/K2) or BTJD (TESS); never NaN.
        flux: float64 PDCSAP-like flux, e-/s; NaN where the real pipeline writes NaN (gaps, dumps).
        flux_err: float64 e-/s (white-noise sigma; NaN with the flux).
        quality: int32 Kepler/TESS quality bitmask.
        sap_flux: float64 SAP-like flux, e-/s (aperture-loss scaled, with slow drifts), or None.
        sap_bkg: float64 background flux summed over the aperture, e-/s, or None.
        centroid_col, centroid_row: float64 flux-weighted centroid (MOM_CENTR1/2), pixels, or None.
    """

    number: int
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    sap_flux: np.ndarray | None = None
    sap_bkg: np.ndarray | None = None
    centroid_col: np.ndarray | None = None
    centroid_row: np.ndarray | None = None


@dataclass
class SimulatedStar:
    """A simulated star: its segments (time order) and the JSON-serialisable truth.

    truth keys: star_id, mission, simulator_version, config, star (catalog and filled stellar
    parameters, flux level), noise (sigma per cadence in ppm, red noise, rotation, ramps, outlier
    counts), segments (number, span, cadences, scale), signals {signal_id: per-signal truth}.
    """

    star_id: str
    mission: str
    segments: list[Segment]
    truth: dict


def _first_finite(rows: pd.DataFrame, col: str):
    if col not in rows:
        return None
    vals = pd.to_numeric(rows[col], errors="coerce").to_numpy(float)
    vals = vals[np.isfinite(vals)]
    return float(vals[0]) if vals.size else None


def _star_params(rows: pd.DataFrame, mission: str) -> dict:
    keys = ("teff_k", "logg_cgs", "radius_rsun", "mag", "ra_deg", "dec_deg")
    cat = {c: _first_finite(rows, c) for c in keys}
    filled = []
    fills = {
        "teff_k": FILL_TEFF_K,
        "logg_cgs": FILL_LOGG,
        "radius_rsun": FILL_RADIUS_RSUN,
        "mag": nz.PHOTOMETRY[mission].typical_mag,
    }
    used = {}
    for key, fill in fills.items():
        v = cat[key]
        if v is None or (key != "mag" and v <= 0):
            v = fill
            filled.append(key)
        used[key] = v
    return {
        "catalog": cat,
        "teff_k": used["teff_k"],
        "logg_cgs": used["logg_cgs"],
        "radius_rsun": used["radius_rsun"],
        "mag": used["mag"],
        "filled": filled,
    }


def _hint_flags(hints: pd.DataFrame | None, signal_id: str) -> dict | None:
    if hints is None or len(hints) == 0 or "signal_id" not in hints:
        return None
    match = hints[hints["signal_id"] == signal_id]
    if match.empty:
        return None
    row = match.iloc[0]
    return {k: int(row[k]) for k in ("fp_ss", "fp_co", "fp_nt", "fp_ec") if k in row and pd.notna(row[k])}


def _auxiliary(rng, time, flux, level, sigma_ppm, seg_idx, grids, shift, mission):
    """SAP flux, background and centroids (e-/s, e-/s, pixels) that accompany the PDCSAP flux.

    SAP = PDCSAP x aperture fraction x (1 + a slow quadratic drift per segment, the focus and
    pointing trends PDC removes). Centroids: a random pixel position, AR(1) pointing jitter
    (1e-3 px Kepler, 2e-2 px K2, 5e-3 px TESS), photon noise of ~1 PSF width x the relative flux
    noise, plus `shift` (a background binary's eclipse moves the light centre by depth x offset).
    """
    n = time.size
    drift = np.zeros(n)
    for i, g in enumerate(grids):
        m = seg_idx == i
        x = (time[m] - g.time[0]) / max(g.time[-1] - g.time[0], 1e-9)
        c1, c2 = rng.normal(0.0, 0.004, 2)
        drift[m] = c1 * x + c2 * x**2
    sap = flux * nz.PHOTOMETRY[mission].aperture_fraction * (1.0 + drift)
    bkg_level = rng.uniform(0.001, 0.02) * level
    sap_bkg = bkg_level * (1.0 + 0.2 * np.sin(2 * np.pi * (time - time[0]) / 13.7))
    sap_bkg += rng.normal(0.0, 1.0, n) * np.sqrt(bkg_level)
    col0, row0 = rng.uniform(100.0, 1000.0, 2)
    jitter = {"Kepler": 1e-3, "K2": 2e-2, "TESS": 5e-3}[mission]
    cen_noise = sigma_ppm * 1e-6
    col = col0 + nz.ar1(rng, n, jitter, 0.99) + rng.standard_normal(n) * cen_noise + shift[0]
    row = row0 + nz.ar1(rng, n, jitter, 0.99) + rng.standard_normal(n) * cen_noise + shift[1]
    return sap, sap_bkg, col, row


def simulate_star(
    signals: pd.DataFrame,
    mission: str,
    config: SimulatorConfig = SimulatorConfig(),
    hints: pd.DataFrame | None = None,
) -> SimulatedStar:
    """Simulate the light curve of ONE star carrying all of its catalog signals.

    Args:
        signals: the star's catalog rows (columns of `catalogs.CATALOG_COLUMNS`; periods and
            durations in days, epoch in BKJD/BTJD, depth in ppm).
        mission: "Kepler", "K2" or "TESS".
        config: seeds and how many quarters / days / sectors to simulate.
        hints: optional `catalogs.load_generation_hints` frame; only used to choose the mechanism of
            false positives (never written to the light curve).

    Returns:
        A `SimulatedStar` whose segments are in time order; deterministic for the same inputs.
    """
    info = mission_info(mission)
    if signals is None or len(signals) == 0:
        raise ValueError("simulate_star needs at least one catalog row")
    stars = signals["star_id"].astype(str).unique()
    if len(stars) != 1:
        raise ValueError(f"simulate_star takes the rows of one star, got {len(stars)}: {list(stars)[:5]}")
    if "mission" in signals and not (signals["mission"].astype(str) == mission).all():
        raise ValueError(f"rows are not all from mission {mission!r}")
    star_id = str(stars[0])
    rows = signals.sort_values("signal_id", kind="stable").reset_index(drop=True)
    star = _star_params(rows, mission)

    grids = bl.mission_segments(mission, config.kepler_quarters, config.k2_campaign_days, config.tess_sectors)
    time = np.concatenate([g.time for g in grids])
    quality = np.concatenate([g.quality for g in grids]).astype(np.int32)
    nan_flux = np.concatenate([g.nan_flux for g in grids])
    seg_idx = np.concatenate([np.full(g.time.size, i) for i, g in enumerate(grids)])
    n = time.size

    rng = noise_rng(config.seed, mission, star_id)
    sigma_star = nz.white_sigma_ppm(star["mag"], mission) * float(np.exp(rng.normal(0.0, 0.1)))
    seg_sigma = rng.uniform(0.9, 1.1, len(grids))
    seg_scale = rng.uniform(0.98, 1.02, len(grids))
    sigma = sigma_star * seg_sigma[seg_idx]
    outlier_sigmas, unflagged = nz.random_flags(rng, quality, mission)
    red_p = nz.red_params(rng, sigma_star, mission, info.cadence_days)
    valid = ~nan_flux & ((quality & DEFAULT_BITMASK[mission]) == 0)

    u = quadratic_ld(star["teff_k"], star["logg_cgs"], mission)
    ctx = StarContext(
        time=time,
        valid=valid,
        mission=mission,
        teff=star["teff_k"],
        logg=star["logg_cgs"],
        radius=star["radius_rsun"],
        u=u,
        cadence=info.cadence_days,
        exp_time=info.cadence_days,
        supersample=SUPERSAMPLE[mission],
        sigma_ppm=sigma_star,
        red_sigma_ppm=red_p["red_sigma_ppm"],
        red_tau_days=red_p["red_tau_days"],
    )

    delta = np.zeros(n)
    shift_col, shift_row = np.zeros(n), np.zeros(n)
    sig_truth = {}
    for _, row in rows.iterrows():
        sid = str(row["signal_id"])
        srng = signal_rng(config.seed, mission, star_id, sid)
        label = str(row["label"])
        mechanism, source = choose_mechanism(label, _hint_flags(hints, sid), srng, PC_FP_RATE[mission])
        cat = catalog_values(row, ctx, srng)
        inj = inject(mechanism, cat, ctx, srng, planet_like=source == "label_noise")
        delta += inj.delta
        if inj.centroid_offset != (0.0, 0.0):
            shift_col += inj.delta * inj.centroid_offset[0]
            shift_row += inj.delta * inj.centroid_offset[1]
        for tf in inj.flag_times:
            i = int(np.clip(np.searchsorted(time, tf), 0, n - 1))
            if abs(time[i] - tf) <= info.cadence_days:
                quality[i] |= bl.Q_DESAT
        sig_truth[sid] = {"signal_id": sid, "label": label, "source": source, **inj.truth}

    red = nz.red_noise(rng, n, red_p, info.cadence_days)
    rot, rot_p = nz.rotation(rng, time)
    restarts = [t for g in grids for t in g.restarts]
    ramp, ramp_p = nz.ramps(rng, time, restarts, mission)
    slow = rot + ramp
    extra = {}
    if mission == "K2":
        saw, extra = nz.k2_sawtooth(rng, time)
        slow = slow + saw
    white = rng.standard_normal(n)
    rel = (1.0 + delta) * (1.0 + slow) + red + (white + outlier_sigmas) * sigma * 1e-6
    level = nz.flux_level(star["mag"], mission) * seg_scale[seg_idx]
    flux = level * rel
    flux_err = level * sigma * 1e-6
    flux[nan_flux] = np.nan
    flux_err[nan_flux] = np.nan

    sap, sap_bkg, centroid_col, centroid_row = _auxiliary(
        rng, time, flux, level, sigma, seg_idx, grids, (shift_col, shift_row), mission
    )
    for arr in (sap, sap_bkg, centroid_col, centroid_row):
        arr[nan_flux] = np.nan

    segments = []
    seg_truth = []
    for i, g in enumerate(grids):
        m = seg_idx == i
        segments.append(
            Segment(
                number=int(g.number),
                time=time[m].copy(),
                flux=flux[m].copy(),
                flux_err=flux_err[m].copy(),
                quality=quality[m].astype(np.int32),
                sap_flux=sap[m].copy(),
                sap_bkg=sap_bkg[m].copy(),
                centroid_col=centroid_col[m].copy(),
                centroid_row=centroid_row[m].copy(),
            )
        )
        seg_truth.append(
            {
                "number": int(g.number),
                "start": float(g.time[0]),
                "end": float(g.time[-1]),
                "n_cadences": int(m.sum()),
                "n_nan_flux": int(nan_flux[m].sum()),
                "flux_scale": float(seg_scale[i]),
                "sigma_factor": float(seg_sigma[i]),
            }
        )

    truth = {
        "star_id": star_id,
        "mission": mission,
        "simulator_version": SIMULATOR_VERSION,
        "simulated": True,
        "config": asdict(config),
        "star_key": star_key(mission, star_id),
        "star": {**star, "flux_level_e_per_s": nz.flux_level(star["mag"], mission), "u1": u[0], "u2": u[1]},
        "noise": {
            "sigma_ppm": sigma_star,
            "white_sigma_model_ppm": nz.white_sigma_ppm(star["mag"], mission),
            **red_p,
            **rot_p,
            **extra,
            "ramps": ramp_p,
            "n_outliers_flagged": int(np.count_nonzero(outlier_sigmas) - unflagged.sum()),
            "n_outliers_unflagged": int(unflagged.sum()),
            "cadence_days": info.cadence_days,
            "time_system": info.time_system,
        },
        "segments": seg_truth,
        "signals": sig_truth,
    }
    return SimulatedStar(star_id=star_id, mission=mission, segments=segments, truth=json_safe(truth))
