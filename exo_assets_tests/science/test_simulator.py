"""Tests of the catalog-seeded light-curve simulator (exo_assets.science.simulator)."""

from __future__ import annotations

import json
import time as _time
import warnings

import batman
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import median_filter

from exo_assets.science.catalogs import CATALOG_COLUMNS, load_catalog, load_generation_hints
from exo_assets.science.simulator import (
    DEFAULT_BITMASK,
    MECHANISMS,
    SimulatorConfig,
    read_truth,
    segment_path,
    simulate_star,
    target_number,
    truth_path,
    write_star_fits,
)
from exo_assets.science.simulator import noise as nz
from exo_assets.science.simulator.limb_darkening import quadratic_ld
from exo_assets.science.simulator.signals import FP_FLAG_WEIGHTS, choose_mechanism

KEPLER_CADENCE_MIN = 29.4244
ONE_QUARTER = SimulatorConfig(kepler_quarters=1)


def _rows(*overrides: dict, star_id="KIC 1000001", mission="Kepler") -> pd.DataFrame:
    """Catalog rows of one star; each dict overrides the defaults of one signal."""
    system = {"Kepler": "BKJD", "K2": "BKJD", "TESS": "BTJD"}[mission]
    out = []
    for i, over in enumerate(overrides or ({},)):
        row = {
            "signal_id": f"SIM {i + 1:02d}",
            "star_id": star_id,
            "mission": mission,
            "label": "CP",
            "period_days": 4.3,
            "epoch": 171.2 if mission != "TESS" else 1327.1,
            "epoch_system": system,
            "duration_days": 0.2,
            "depth_ppm": 2000.0,
            "impact": 0.3,
            "planet_radius_re": 4.0,
            "teff_k": 5700.0,
            "logg_cgs": 4.4,
            "radius_rsun": 1.0,
            "mag": 12.0,
            "ra_deg": 290.0,
            "dec_deg": 45.0,
            "depth_derived": False,
            "duration_derived": False,
            "imputed": "",
        }
        row.update(over)
        out.append(row)
    return pd.DataFrame(out)[CATALOG_COLUMNS]


def _hints(signal_id="SIM 01", ss=0, co=0, nt=0, ec=0) -> pd.DataFrame:
    flags = {"fp_ss": [ss], "fp_co": [co], "fp_nt": [nt], "fp_ec": [ec]}
    return pd.DataFrame({"signal_id": [signal_id], **flags})


def _stitched(star):
    """Time, flux normalised per segment, with every flagged or NaN cadence removed."""
    t, f = [], []
    for seg in star.segments:
        ok = np.isfinite(seg.flux) & (seg.quality == 0)
        t.append(seg.time[ok])
        f.append(seg.flux[ok] / np.nanmedian(seg.flux))
    return np.concatenate(t), np.concatenate(f)


def _local_detrend(t, f, centers, duration):
    """(dt, relative flux) around each center, divided by a quadratic fitted out of transit."""
    dts, rel = [], []
    for c in centers:
        win = np.abs(t - c) < 2.5 * duration
        oot = win & (np.abs(t - c) > 0.8 * duration)
        if oot.sum() < 8 or not (win & ~oot).any():
            continue
        coef = np.polyfit(t[oot] - c, f[oot], 2)
        dts.append(t[win] - c)
        rel.append(f[win] / np.polyval(coef, t[win] - c))
    return np.concatenate(dts), np.concatenate(rel)


def _robust_sigma(x):
    return 1.4826 * np.median(np.abs(x - np.median(x)))


def _centers(t, t0, period):
    return t0 + period * np.arange(np.floor((t[0] - t0) / period), np.ceil((t[-1] - t0) / period) + 1)


def _batman_model(t, truth, mission):
    p = batman.TransitParams()
    p.t0, p.per, p.rp = truth["t0"], truth["period"], truth["rp_rs"]
    p.a, p.inc = truth["a_rs"], truth["inc_deg"]
    p.ecc, p.w, p.u, p.limb_dark = 0.0, 90.0, [truth["u1"], truth["u2"]], "quadratic"
    if mission == "TESS":
        return batman.TransitModel(p, t).light_curve(p)
    return batman.TransitModel(p, t, supersample_factor=15, exp_time=KEPLER_CADENCE_MIN / 1440).light_curve(p)


# --- determinism -------------------------------------------------------------------------------


def test_same_inputs_give_identical_arrays_and_truth():
    rows = _rows({}, {"signal_id": "SIM 02", "period_days": 9.1, "depth_ppm": 500.0, "epoch": 175.0})
    a = simulate_star(rows, "Kepler", ONE_QUARTER)
    # row order is irrelevant
    b = simulate_star(rows.iloc[::-1].reset_index(drop=True), "Kepler", ONE_QUARTER)
    for sa, sb in zip(a.segments, b.segments, strict=True):
        for name in ("time", "flux", "flux_err", "quality", "sap_flux", "centroid_col"):
            np.testing.assert_array_equal(getattr(sa, name), getattr(sb, name))
    assert a.truth == b.truth


def test_different_seed_gives_different_noise():
    rows = _rows()
    a = simulate_star(rows, "Kepler", ONE_QUARTER)
    b = simulate_star(rows, "Kepler", SimulatorConfig(seed=1, kepler_quarters=1))
    np.testing.assert_array_equal(a.segments[0].time, b.segments[0].time)
    ok = np.isfinite(a.segments[0].flux)
    assert not np.allclose(a.segments[0].flux[ok], b.segments[0].flux[ok])


def test_a_signal_does_not_change_when_another_is_added():
    one = simulate_star(_rows(), "Kepler", ONE_QUARTER)
    two = simulate_star(_rows({}, {"signal_id": "SIM 02", "period_days": 13.0}), "Kepler", ONE_QUARTER)
    a, b = one.truth["signals"]["SIM 01"], two.truth["signals"]["SIM 01"]
    for key in ("rp_rs", "b", "a_rs", "t0", "depth_ppm", "mechanism"):
        assert a[key] == b[key]


def test_rows_of_two_stars_are_rejected():
    rows = pd.concat([_rows(), _rows(star_id="KIC 2")])
    with pytest.raises(ValueError, match="one star"):
        simulate_star(rows, "Kepler")


# --- injected planets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mission,star_id,over,config",
    [
        ("Kepler", "KIC 1000001", {}, SimulatorConfig(kepler_quarters=2)),
        ("Kepler", "KIC 1000002", {"depth_ppm": 300.0, "mag": 13.0}, SimulatorConfig()),  # SNR ~ 50
        (
            "TESS",
            "TIC 1000001",
            {"mag": 9.0, "depth_ppm": 3000.0, "duration_days": 0.12, "period_days": 2.7},
            SimulatorConfig(),
        ),
        ("K2", "EPIC 211000001", {"epoch": np.nan, "impact": np.nan, "mag": 11.0}, SimulatorConfig()),
    ],
)
def test_injected_transit_depth_is_recovered(mission, star_id, over, config):
    star = simulate_star(_rows(over, star_id=star_id, mission=mission), mission, config)
    truth = star.truth["signals"]["SIM 01"]
    assert truth["mechanism"] == "planet"
    assert truth["depth_ppm"] == pytest.approx(over.get("depth_ppm", 2000.0), rel=1e-3)
    assert truth["expected_snr"] > 20  # white and red noise over all in-transit cadences
    if mission == "K2":  # a NaN epoch is drawn within the first period of the data (b comes from T14)
        assert "epoch" in truth["drawn"]
        assert star.segments[0].time[0] <= truth["t0"] < star.segments[0].time[0] + truth["period"]
    t, f = _stitched(star)
    dt, rel = _local_detrend(t, f, _centers(t, truth["t0"], truth["period"]), truth["duration_days"])
    core = np.abs(dt) < 0.35 * truth["duration_days"]
    measured = 1.0 - np.mean(rel[core])
    # the model depth averaged over the same cadences (limb darkening and exposure smearing included)
    model = 1.0 - _batman_model(np.ascontiguousarray(dt[core] + truth["t0"]), truth, mission)
    expected = np.mean(model)
    assert expected == pytest.approx(truth["depth_ppm"] * 1e-6, rel=0.15)
    assert measured == pytest.approx(expected, rel=0.10)


def test_depth_matches_catalog_through_limb_darkening_and_impact():
    """b and a/R* come from the star's density and the catalog T14 (the catalog b is only recorded);
    the depth and T14 are the catalog's whatever b that gives."""
    for duration in (0.08, 0.12, 0.2):
        star = simulate_star(
            _rows({"impact": 0.6, "depth_ppm": 800.0, "duration_days": duration}), "Kepler", ONE_QUARTER
        )
        truth = star.truth["signals"]["SIM 01"]
        assert truth["catalog_impact"] == pytest.approx(0.6)
        assert 0.0 <= truth["b"] < 1.0 + truth["rp_rs"]
        assert truth["depth_ppm"] == pytest.approx(800.0, rel=1e-3)
        assert truth["duration_days"] == pytest.approx(duration, rel=0.02)


def test_noise_level_matches_truth_sigma():
    star = simulate_star(_rows({"depth_ppm": 50.0}), "Kepler", ONE_QUARTER)
    seg = star.segments[0]
    ok = np.isfinite(seg.flux) & (seg.quality == 0)
    p2p = _robust_sigma(np.diff(seg.flux[ok] / np.nanmedian(seg.flux))) / np.sqrt(2) * 1e6
    assert p2p == pytest.approx(star.truth["noise"]["sigma_ppm"], rel=0.15)


def test_precision_model_follows_the_documented_numbers():
    kp12, kp14 = nz.white_sigma_ppm(12.0, "Kepler"), nz.white_sigma_ppm(14.0, "Kepler")
    assert 60 <= kp12 <= 100
    assert 2.3 <= kp14 / kp12 <= 3.3
    assert 900 <= nz.white_sigma_ppm(10.0, "TESS") <= 1500
    assert nz.white_sigma_ppm(12.0, "K2") > kp12


# --- false positives ---------------------------------------------------------------------------


def _find(rows, hints, predicate, mission="Kepler", config=ONE_QUARTER):
    for seed in range(40):
        star = simulate_star(rows, mission, SimulatorConfig(**{**config.__dict__, "seed": seed}), hints=hints)
        if predicate(star.truth["signals"]["SIM 01"]):
            return star
    raise AssertionError("no seed produced the wanted configuration")


def _mean_depth(t, f, centers, duration, half=0.15):
    dt, rel = _local_detrend(t, f, centers, duration)
    core = np.abs(dt) < half * duration
    x = 1.0 - rel[core]
    return x.mean(), _robust_sigma(rel[np.abs(dt) > 0.8 * duration]) / np.sqrt(core.sum())


def test_eb_at_half_period_shows_odd_even_difference_and_secondary():
    rows = _rows({"label": "FP", "depth_ppm": 8000.0, "period_days": 3.1, "duration_days": 0.15})
    star = _find(rows, _hints(ss=1), lambda tr: tr["variant"].startswith("half_period"))
    tr = star.truth["signals"]["SIM 01"]
    assert tr["mechanism"] == "eb" and tr["true_period"] == pytest.approx(2 * tr["period"])
    assert tr["secondary_phase"] == pytest.approx(0.5)
    t, f = _stitched(star)
    odd = _mean_depth(t, f, _centers(t, tr["t0"], tr["true_period"]), tr["duration_days"])
    even = _mean_depth(t, f, _centers(t, tr["t0"] + tr["period"], tr["true_period"]), tr["duration_days"])
    assert abs(odd[0] - even[0]) > 5 * np.hypot(odd[1], even[1])  # odd/even differ at the catalog period
    assert even[0] > 5 * even[1]  # the secondary at phase 0.5 of the true period is a significant dip
    assert odd[0] > even[0]


def test_eb_at_true_period_shows_secondary_eclipse():
    rows = _rows({"label": "FP", "depth_ppm": 20000.0, "period_days": 3.1, "duration_days": 0.15})
    star = _find(
        rows,
        _hints(ss=1),
        lambda tr: tr["variant"].startswith("true_period") and tr["secondary_depth_ppm"] > 1500,
    )
    tr = star.truth["signals"]["SIM 01"]
    assert abs(tr["secondary_phase"] - 0.5) < 0.08
    t, f = _stitched(star)
    t_sec = tr["t0"] + tr["secondary_phase"] * tr["true_period"]
    sec = _mean_depth(t, f, _centers(t, t_sec, tr["true_period"]), tr["duration_days"])
    assert sec[0] > 5 * sec[1]
    assert sec[0] == pytest.approx(tr["secondary_depth_ppm"] * 1e-6, rel=0.3)


def test_background_eb_is_diluted_to_catalog_depth_and_moves_the_centroid():
    rows = _rows({"label": "FP", "depth_ppm": 3000.0, "mag": 11.0})
    star = simulate_star(rows, "Kepler", SimulatorConfig(kepler_quarters=2), hints=_hints(co=1))
    tr = star.truth["signals"]["SIM 01"]
    assert tr["mechanism"] == "background_eb"
    assert tr["dilution"] < 0.5 and tr["depth_ppm"] == pytest.approx(3000.0, rel=1e-3)
    assert tr["centroid_offset_pix"] > 0
    t = np.concatenate([s.time for s in star.segments])
    col = np.concatenate([s.centroid_col - np.nanmedian(s.centroid_col) for s in star.segments])
    row = np.concatenate([s.centroid_row - np.nanmedian(s.centroid_row) for s in star.segments])
    ok = np.isfinite(col)
    phase = ((t - tr["t0"]) / tr["true_period"] + 0.5) % 1.0 - 0.5
    inside = ok & (np.abs(phase * tr["true_period"]) < 0.15 * tr["duration_days"])
    near = ok & ~inside & (np.abs(phase * tr["true_period"]) < 2 * tr["duration_days"])
    shift = np.hypot(col[inside].mean() - col[near].mean(), row[inside].mean() - row[near].mean())
    assert shift > 0.3 * tr["depth_ppm"] * 1e-6 * tr["centroid_offset_pix"]


@pytest.mark.parametrize(
    "flags,expected",
    [
        ({"ss": 1}, {"eb"}),
        ({"ss": 1, "co": 1}, {"eb"}),
        ({"co": 1}, {"background_eb"}),
        ({"ec": 1}, {"background_eb"}),
        ({"nt": 1}, {"variability", "systematic", "single_event"}),
    ],
)
def test_kepler_flags_choose_the_mechanism(flags, expected):
    rows = _rows({"label": "FP"})
    star = simulate_star(rows, "Kepler", ONE_QUARTER, hints=_hints(**flags))
    tr = star.truth["signals"]["SIM 01"]
    assert tr["mechanism"] in expected and tr["source"].startswith("hint:")


def test_drawn_mechanisms_follow_kepler_flag_frequencies():
    counts = {"eb": 0, "background_eb": 0, "nt": 0}
    n = 3000
    for i in range(n):
        mech, source = choose_mechanism("FP", None, np.random.default_rng(i))
        assert source.startswith("drawn:")
        counts[mech if mech in counts else "nt"] += 1
    total = sum(FP_FLAG_WEIGHTS.values())
    for mech, flag in (("eb", "ss"), ("background_eb", "co"), ("nt", "nt")):
        assert counts[mech] / n == pytest.approx(FP_FLAG_WEIGHTS[flag] / total, abs=0.03)
    assert choose_mechanism("CP", {"fp_ss": 1}, np.random.default_rng(0))[0] == "planet"
    assert choose_mechanism("PC", None, np.random.default_rng(0))[0] == "planet"


def test_not_transit_like_mechanisms():
    # a short period, so that variability survives detrending and is not swapped for a systematic
    rows = _rows({"label": "FP", "period_days": 0.9, "duration_days": 0.1, "depth_ppm": 3000.0})
    seen = {}
    for seed in range(60):
        config = SimulatorConfig(seed=seed, kepler_quarters=1)
        star = simulate_star(rows, "Kepler", config, hints=_hints(nt=1))
        tr = star.truth["signals"]["SIM 01"]
        key = (
            tr["mechanism"]
            if tr["mechanism"] != "systematic" or tr["variant"] == "momentum_dump"
            else "other"
        )
        seen.setdefault(key, (star, tr))
    assert {"variability", "systematic", "single_event"} <= set(seen)
    star, tr = seen["single_event"]
    assert tr["n_events"] == 1
    t, f = _stitched(star)
    centers = _centers(t, tr["t0"], tr["period"])
    dips = [_mean_depth(t, f, [c], tr["duration_days"])[0] for c in centers if np.any(np.abs(t - c) < 0.05)]
    assert max(dips) > 0.5 * tr["depth_ppm"] * 1e-6 and sorted(dips)[-2] < 0.3 * tr["depth_ppm"] * 1e-6
    star, tr = seen["systematic"]
    seg = star.segments[0]
    flagged = seg.time[(seg.quality & 32) > 0]
    assert any(
        np.min(np.abs(flagged - (c - 0.25 * tr["duration_days"]))) < 0.03
        for c in _centers(seg.time, tr["t0"], tr["period"])
    )


# --- baselines, quality, NaN handling ---------------------------------------------------------


def test_segments_cadences_and_gaps_per_mission():
    kep = simulate_star(_rows(), "Kepler")
    assert [s.number for s in kep.segments] == [2, 3, 4, 5]
    t = np.concatenate([s.time for s in kep.segments])
    assert np.all(np.diff(t) > 0) and 16_000 < t.size < 19_000
    assert np.median(np.diff(kep.segments[0].time)) * 1440 == pytest.approx(KEPLER_CADENCE_MIN, abs=0.01)
    assert kep.segments[0].time[0] == pytest.approx(169.76)

    tess = simulate_star(_rows(star_id="TIC 7", mission="TESS"), "TESS", SimulatorConfig(tess_sectors=2))
    assert [s.number for s in tess.segments] == [1, 2]
    assert tess.segments[0].time[-1] < tess.segments[1].time[0]
    s1 = tess.segments[0]
    assert np.median(np.diff(s1.time)) * 1440 == pytest.approx(2.0, abs=1e-6)
    gap = (s1.time > s1.time[0] + 13.3) & (s1.time < s1.time[0] + 14.2)
    assert gap.sum() > 600 and np.all(np.isnan(s1.flux[gap])) and np.all(s1.quality[gap] & 136 == 136)

    k2 = simulate_star(_rows({"epoch": np.nan}, star_id="EPIC 211000001", mission="K2"), "K2")
    assert [s.number for s in k2.segments] == [5]
    assert k2.segments[0].time[-1] - k2.segments[0].time[0] == pytest.approx(80.0, abs=0.05)


def test_quality_flags_and_outliers():
    star = simulate_star(_rows({"depth_ppm": 50.0}), "Kepler", ONE_QUARTER)
    seg = star.segments[0]
    finite = np.isfinite(seg.flux)
    flagged = finite & (seg.quality != 0)
    assert 0.003 < flagged.mean() < 0.03
    assert np.all(seg.quality[~finite] != 0)  # every NaN cadence is flagged
    f = seg.flux[finite] / np.nanmedian(seg.flux)
    resid = (f - median_filter(f, 15, mode="nearest")) * 1e6 / star.truth["noise"]["sigma_ppm"]
    big = np.abs(resid) > 10
    assert big.sum() >= 1 and np.all(seg.quality[finite][big] & 2048)  # big outliers are flagged impulsive
    assert seg.quality.dtype == np.int32


def test_nan_catalog_values_are_filled_and_recorded():
    rows = _rows(
        {
            "depth_ppm": np.nan,
            "duration_days": np.nan,
            "impact": np.nan,
            "teff_k": np.nan,
            "logg_cgs": np.nan,
            "mag": np.nan,
            "radius_rsun": np.nan,
        }
    )
    star = simulate_star(rows, "Kepler", ONE_QUARTER)
    tr = star.truth["signals"]["SIM 01"]
    assert {"depth_ppm", "duration_days"} <= set(tr["drawn"])
    assert set(star.truth["star"]["filled"]) == {"teff_k", "logg_cgs", "radius_rsun", "mag"}
    json.dumps(star.truth, allow_nan=False)


def test_real_catalog_stars_of_each_mission_simulate_cleanly():
    for mission in ("Kepler", "K2", "TESS"):
        cat = load_catalog(mission)
        hints = load_generation_hints(mission)
        multi = cat["star_id"].value_counts().index[0]  # the star with the most signals
        for sid in [multi, *cat["star_id"].drop_duplicates().sample(4, random_state=0)]:
            rows = cat[cat["star_id"] == sid]
            star = simulate_star(rows, mission, SimulatorConfig(kepler_quarters=1), hints=hints)
            assert set(star.truth["signals"]) == set(rows["signal_id"])
            assert {s["mechanism"] for s in star.truth["signals"].values()} <= set(MECHANISMS)
            json.dumps(star.truth, allow_nan=False)
            for seg in star.segments:
                assert np.isfinite(seg.flux).mean() > 0.8


def test_limb_darkening_table():
    u_kep, u_tess = quadratic_ld(5750, 4.44, "Kepler"), quadratic_ld(5750, 4.44, "TESS")
    assert u_kep[0] > u_tess[0]  # the redder TESS band is less limb-darkened
    for teff in (2500, 3300, 4800, 6100, 9000, 20000, float("nan")):
        for mission in ("Kepler", "K2", "TESS"):
            u1, u2 = quadratic_ld(teff, 4.0, mission)
            assert u1 > 0 and u1 + u2 < 1 and u1 + 2 * u2 > 0


def test_default_bitmask_matches_lightkurve():
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    assert DEFAULT_BITMASK["Kepler"] == DEFAULT_BITMASK["K2"] == KeplerQualityFlags.DEFAULT_BITMASK
    assert DEFAULT_BITMASK["TESS"] == TessQualityFlags.DEFAULT_BITMASK


# --- FITS files --------------------------------------------------------------------------------


def _lk_read(path, **kw):
    import lightkurve as lk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lk.read(str(path), **kw)


def test_kepler_fits_round_trip_with_lightkurve(tmp_path):
    import lightkurve as lk

    star = simulate_star(_rows(star_id="KIC 11442793"), "Kepler", SimulatorConfig(kepler_quarters=2))
    paths = write_star_fits(star, tmp_path)
    assert paths == [segment_path("KIC 11442793", "Kepler", q, tmp_path) for q in (2, 3)]
    assert paths[0].relative_to(tmp_path).as_posix() == (
        "mastDownload/Kepler/kplr011442793_lc_Q2/kplr011442793-q02_llc.fits"
    )
    assert not list(tmp_path.rglob("*.tmp"))
    seg = star.segments[0]
    lc = _lk_read(paths[0], quality_bitmask="none")
    assert isinstance(lc, lk.KeplerLightCurve)
    assert lc.time.format == "bkjd" and lc.time.scale == "tdb"
    np.testing.assert_allclose(lc.time.value, seg.time, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lc.flux.value, seg.flux.astype(np.float32), rtol=1e-6)  # flux = PDCSAP
    assert lc.meta["FLUX_ORIGIN"] == "pdcsap_flux"
    np.testing.assert_array_equal(np.asarray(lc.quality.value), seg.quality)
    assert lc.meta["OBJECT"] == "KIC 11442793" and lc.meta["KEPLERID"] == 11442793
    assert lc.meta["QUARTER"] == 2 and lc.meta["SIMULATD"] is True and lc.meta["MISSION"] == "Kepler"
    assert lc.meta["TEFF"] == 5700 and lc.meta["KEPMAG"] == 12.0
    masked = _lk_read(paths[0])  # lightkurve's default bitmask drops exactly the default-flagged cadences
    keep = (seg.quality & DEFAULT_BITMASK["Kepler"]) == 0
    np.testing.assert_allclose(masked.time.value, seg.time[keep], atol=1e-9)
    assert np.all(np.isfinite(masked.flux.value))
    assert not (seg.quality[keep] == 0).all()  # some flagged cadences (cosmic rays, outliers) survive


def test_tess_and_named_k2_host_fits(tmp_path):
    import lightkurve as lk
    from astropy.io import fits

    from exo_assets.science.lightcurves import read_header_identity

    tess = simulate_star(_rows(star_id="TIC 261136679", mission="TESS"), "TESS")
    (path,) = write_star_fits(tess, tmp_path)
    assert path.name == "tess-s0001-0000000261136679-0000-s_lc.fits"
    lc = _lk_read(path, quality_bitmask="none")
    assert isinstance(lc, lk.TessLightCurve) and lc.time.format == "btjd"
    np.testing.assert_allclose(lc.time.value, tess.segments[0].time, atol=1e-9)
    assert lc.meta["TICID"] == 261136679 and lc.meta["SECTOR"] == 1 and lc.meta["TESSMAG"] == 12.0
    with fits.open(path) as hdul:
        hdul.verify("exception")  # standard-conforming FITS (astropy's verification)
        assert [h.name for h in hdul] == ["PRIMARY", "LIGHTCURVE", "APERTURE"]
        assert hdul[1].header["BJDREFI"] == 2457000 and "QUALITY" in hdul[1].columns.names
        assert hdul[1].header["TIMESYS"] == "TDB" and hdul[1].header["TIMEREF"] == "SOLARSYSTEM"
        np.testing.assert_array_equal(hdul[1].data["QUALITY"], tess.segments[0].quality)
        assert hdul[0].header["SIMULATD"] and "SIMULATED" in str(hdul[0].header["COMMENT"])
    assert read_header_identity(path) == ("TIC 261136679", "TESS")

    k2 = simulate_star(_rows({"epoch": np.nan, "logg_cgs": np.nan}, star_id="K2-18", mission="K2"), "K2")
    (path,) = write_star_fits(k2, tmp_path)
    epic = target_number("K2-18", "K2")
    assert 290_000_000 <= epic < 300_000_000
    assert path.name == f"ktwo{epic:09d}-c05_llc.fits"
    lc = _lk_read(path, quality_bitmask="none")
    assert isinstance(lc, lk.KeplerLightCurve) and lc.meta["MISSION"] == "K2"
    assert lc.meta["OBJECT"] == "K2-18" and lc.meta["CAMPAIGN"] == 5
    assert read_header_identity(path) == ("K2-18", "K2")
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert hdul[1].header["BJDREFI"] == 2454833 and "SAP_QUALITY" in hdul[1].columns.names
        assert "LOGG" in hdul[0].header and hdul[0].header["LOGG"] is None  # blank, as in real files
        assert hdul[0].header["KEPLERID"] == epic and hdul[0].header["TEFF"] == 5700.0


def test_truth_json_is_written_beside_the_cache(tmp_path):
    star = simulate_star(_rows(), "Kepler", ONE_QUARTER)
    write_star_fits(star, tmp_path)
    assert truth_path("KIC 1000001", "Kepler", tmp_path) == tmp_path / "truth" / "Kepler" / "KIC_1000001.json"
    assert read_truth("KIC 1000001", "Kepler", tmp_path) == star.truth
    assert not list((tmp_path / "mastDownload").rglob("*.json"))


def test_kepler_star_simulates_and_writes_fast(tmp_path):
    rows = _rows({}, {"signal_id": "SIM 02", "period_days": 11.0, "label": "FP"})
    simulate_star(rows, "Kepler")  # warm-up (imports, batman)
    best = np.inf
    for i in range(3):
        t0 = _time.perf_counter()
        star = simulate_star(rows, "Kepler", SimulatorConfig(seed=i))
        write_star_fits(star, tmp_path / str(i))
        best = min(best, _time.perf_counter() - t0)
    assert sum(s.time.size for s in star.segments) > 16_000
    assert best < 0.5
