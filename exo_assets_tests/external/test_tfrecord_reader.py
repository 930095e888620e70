"""AstroNet-format TFRecord reader (exo_assets.external) on small shards written here.

The shards mimic the two real external sets (astronet_vetting and tess_toi_views): field names and
types, the TOI set's duplicate record pairs and its opposite view sign. Nothing here reads
/work/shared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exo_assets.external import tfrecord_reader as R
from exo_assets.science.view_features import (
    DERIVED_SCALAR_COLUMNS,
    VIEW_FEATURE_COLUMNS,
    bin_offsets,
    compute_view_features,
    derived_scalar_features,
)
from exo_assets.science.catalogs import LeakageError, leakage_columns

from tfrecord.writer import TFRecordWriter  # noqa: E402  (a hard dependency: never skipped)

RNG_SEED = 7


# ------------------------------------------------------------------------------------------ helpers


def _dip(n_bins: int, half_width: float, depth: float = 1.0, shape: str = "box", centre: float = 0.0):
    """A transit-like dip (baseline 0) on bins spanning +-half_width durations; transit width 1 duration."""
    off = bin_offsets(n_bins, half_width) - centre
    x = np.abs(off) / 0.5  # 1 at the transit edge
    if shape == "box":
        prof = (x <= 1.0).astype(float)
    else:  # V: linear from the edge to the centre
        prof = np.clip(1.0 - x, 0.0, None)
    return -depth * prof


def _astronet_norm(view):
    """AstroNet shard normalisation: median 0, minimum -1."""
    v = view - np.median(view)
    return v / abs(v.min())


def _views(rng, noise=0.03, shape="box", secondary_depth=0.0):
    g = _dip(201, 10.0, 1.0, shape) + rng.normal(0, noise, 201)  # spans one period = 20 durations
    loc = _dip(61, 2.0, 1.0, shape) + rng.normal(0, noise, 61)
    sec = _dip(61, 2.0, secondary_depth, "box") + rng.normal(0, noise, 61)
    return _astronet_norm(g), _astronet_norm(loc), _astronet_norm(sec)


def _vetting_record(rng, tic, row, disp, toi_bytes=False, depth_change=0.1, shape="box"):
    g, loc, sec = _views(rng, shape=shape, secondary_depth=0.5 if disp == "EB" else 0.0)
    return {
        "global_view": (g.astype(np.float32), "float"),
        "local_view": (loc.astype(np.float32), "float"),
        "secondary_view": (sec.astype(np.float32), "float"),
        "Period": (2.0 + row, "float"), "Duration": (0.1, "float"), "Transit_Depth": (-51882.87, "float"),
        "SN": (20.0, "float"), "Tmag": (-4.5, "float"), "Qingress": (0.2, "float"),
        "depth_change": (depth_change, "float"), "Sectors": (3, "int"), "is_multi": (0.0, "float"),
        "camera": (1, "int"), "ccd": (2, "int"), "Epoc": (1330.5, "float"), "tic_id": (tic, "int"),
        "row_id": (row, "int"), "Disposition": (disp.encode(), "byte"),
        "toi_id": ((b"?.01", "byte") if toi_bytes else (0.01, "float")),
    }


def _toi_pair(rng, tic, row, period):
    """Two consecutive records: transit views (a PEAK, as in the real set) then a noise view."""
    g, loc, _ = _views(rng)
    # Real TOI views: sign flipped and scaled so the lowest *noise* bin is -1 (transit peak ~+5..+10).
    g, loc = -g / 0.2, -loc / 0.2
    g, loc = _astronet_norm(g), _astronet_norm(loc)
    ng, nl = _astronet_norm(rng.normal(0, 1, 201)), _astronet_norm(rng.normal(0, 1, 61))
    scal = {
        "Period": (period, "float"), "Duration": (0.12, "float"), "Transit Depth": (3000.0, "float"),
        "SN": (25.0, "float"), "Sectors": (36, "int"), "is_multi": (0.0, "float"), "camera": (2, "int"),
        "ccd": (2, "int"), "Epoc": (2281.27, "float"), "tic_id": (tic, "int"), "row_id": (row, "int"),
        "toi_id": (0.01, "float"), "Disposition": (1, "int"),
    }
    first = {"global_view": (g.astype(np.float32), "float"), "local_view": (loc.astype(np.float32), "float"), **scal}
    second = {"global_view": (ng.astype(np.float32), "float"), "local_view": (nl.astype(np.float32), "float"), **scal}
    return [first, second]


def _write(path, records):
    writer = TFRecordWriter(str(path))
    for rec in records:
        writer.write(rec)
    writer.close()
    return str(path)


@pytest.fixture
def vetting_shards(tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    recs = [
        _vetting_record(rng, 1001, 0, "PC"),
        _vetting_record(rng, 1002, 1, "EB", toi_bytes=True),
        _vetting_record(rng, 1003, 2, "J", depth_change=1.5e25),
        _vetting_record(rng, 1001, 3, "PC"),  # same star, another signal
    ]
    val = [_vetting_record(rng, 1004, 1, "J"), _vetting_record(rng, 1005, 5, "O")]  # row_id 1 repeats: tic differs
    return [_write(tmp_path / "train-00000-of-00001", recs), _write(tmp_path / "val-00000-of-00001", val)]


TOI_SIGNALS = [  # tic, row, shard period
    (2001, 0, 3.0),  # catalog CP (KP)
    (2002, 1, 5.0),  # catalog PC (APC), period 0.5% off
    (2003, 2, 7.0),  # catalog FP (FA) but period 3% off -> unmatched
    (2004, 3, 9.0),  # TIC not in the catalog
    (2005, 4, 11.0),  # catalog FP
]


@pytest.fixture
def toi_shards(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 1)
    recs = [r for tic, row, p in TOI_SIGNALS for r in _toi_pair(rng, tic, row, p)]
    return [_write(tmp_path / "train-00000-of-00002", recs[:6]), _write(tmp_path / "val-00000-of-00001", recs[6:])]


@pytest.fixture
def toi_catalog(tmp_path):
    """A raw TOI-archive-style catalog (tid, pl_orbper, tfopwg_disp), with a comment header."""
    path = tmp_path / "toi_small.csv"
    frame = pd.DataFrame({
        "toi": [1.01, 2.01, 3.01, 5.01, 5.02],
        "tid": [2001, 2002, 2003, 2005, 2005],
        "tfopwg_disp": ["KP", "APC", "FA", "FP", "PC"],
        "pl_orbper": [3.0, 5.025, 7.21, 11.05, 40.0],
    })
    with open(path, "w") as fh:
        fh.write("# a comment line, as in archive exports\n")
        frame.to_csv(fh, index=False)
    return path


# -------------------------------------------------------------------------------------------- reading


def test_read_vetting_shards_scalars_and_views(vetting_shards):
    scalars, views = R.read_shards(vetting_shards)
    assert len(scalars) == 6
    assert set(views) == {"global_view", "local_view", "secondary_view"}
    assert views["global_view"].shape == (6, 201) and views["local_view"].shape == (6, 61)
    assert all(v.dtype == np.float32 for v in views.values())
    assert scalars["Disposition"].tolist() == ["PC", "EB", "J", "PC", "J", "O"]  # bytes decoded
    assert scalars["toi_id"].iloc[1] == "?.01" and scalars["toi_id"].iloc[0] == pytest.approx(0.01)
    assert scalars["split"].tolist() == ["train"] * 4 + ["val"] * 2
    assert scalars["record_index"].tolist() == [0, 1, 2, 3, 0, 1]
    assert R.detect_dataset(list(scalars.columns) + list(views)) == "vetting"


def test_vetting_schema_labels_ids_and_outliers(vetting_shards):
    es = R.load_external(vetting_shards)
    f = es.features
    assert es.classes == ["PC", "EB", "J"]
    assert f["label"].tolist() == ["PC", "EB", "J", "PC", "J"]  # class O dropped
    assert es.meta["dropped"] == {"class O not used (only PC/EB/J)": 1}
    assert f["signal_id"].is_unique and f["star_id"].iloc[0] == "TIC 1001"
    assert list(f.columns[: len(R.ID_COLUMNS)]) == R.ID_COLUMNS
    assert set(f["provenance"]) == {"astronet_vetting"} and set(f["mission"]) == {"TESS"}
    assert np.isnan(f.loc[2, "depth_change"]) and es.meta["clipped_to_nan_abs_gt_1e6"] == {"depth_change": 1}
    assert f["period_days"].tolist() == pytest.approx([2.0, 3.0, 4.0, 5.0, 3.0])
    assert es.channels == ["global", "local", "secondary"]
    assert es.meta["channels_absent"] == ["odd", "even"]
    assert es.meta["view_sign_detected"] == 1
    for view in es.views.values():
        assert view.dtype == np.float32 and view.shape[0] == len(f)
    # Project convention: centre minimum -1, out-of-transit median ~0.
    loc = es.views["local"]
    assert np.allclose(loc[:, 15:46].min(axis=1), -1.0, atol=1e-5)
    assert np.all(np.abs(np.median(loc[:, :10], axis=1)) < 0.1)


def test_toi_duplicates_first_kept_sign_flipped_and_catalog_labels(toi_shards, toi_catalog):
    scalars, views = R.read_shards(toi_shards)
    assert len(scalars) == 10 and "secondary_view" not in views
    assert R.detect_dataset(scalars.columns) == "toi"
    es = R.to_project_schema(scalars, views, labels_from=toi_catalog)
    pairs = es.meta["duplicate_pairs"]
    assert pairs["records"] == 10 and pairs["kept"] == 5 and pairs["runs_by_length"] == {2: 5}
    assert pairs["runs_with_differing_scalars"] == 0
    assert pairs["runs_where_a_later_record_has_a_stronger_central_signal"] == 0
    f = es.features
    assert f["tic_id"].tolist() == [2001, 2002, 2005]
    assert f["label"].tolist() == ["CP", "PC", "FP"]  # KP->CP, APC->PC; 2005 closest period is the FP
    assert es.meta["dropped"] == {
        "second record of a consecutive duplicate (noise view)": 5,
        "no catalog period within 1%": 1,
        "TIC id not in the TOI catalog": 1,
    }
    assert es.meta["view_sign_detected"] == -1
    # Kept records are the transit (first) ones: after the flip their centre is a dip at -1.
    loc = es.views["local"]
    assert np.allclose(loc[:, 15:46].min(axis=1), -1.0, atol=1e-5)
    assert np.all(loc[:, 28:33].mean(axis=1) < -0.7)
    assert np.all(np.abs(np.median(loc[:, :12], axis=1)) < 0.1)
    assert es.channels == ["global", "local"] and "secondary" in es.meta["channels_absent"]
    assert "transit_depth_ppm" in f and "transit_depth_rescaled" not in f
    assert f["sv_depth_snr"].isna().all()


def test_toi_labels_from_normalised_catalog_frame(toi_shards):
    cat = pd.DataFrame({"star_id": ["TIC 2001", "TIC 2005"], "period_days": [2.985, 11.0], "label": ["CP", "FP"]})
    es = R.load_external(toi_shards, labels_from=cat)
    assert es.features["label"].tolist() == ["CP", "FP"]


def test_labels_from_catalog_period_tolerance():
    cat = pd.DataFrame({"star_id": ["TIC 1", "TIC 1", "TIC 2"], "period_days": [10.0, 20.0, 5.0],
                        "label": ["PC", "FP", "CP"]})
    labels, reasons, ambiguous = R.labels_from_catalog([1, 1, 1, 2, 3], [10.09, 20.3, 15.0, 5.0, 1.0], cat)
    assert labels[0] == "PC" and pd.isna(labels[1]) and pd.isna(labels[2]) and labels[3] == "CP" and pd.isna(labels[4])
    assert list(reasons) == ["", "no catalog period within 1%", "no catalog period within 1%", "",
                             "TIC id not in the TOI catalog"]
    assert ambiguous == 0


def test_dedupe_reports_a_stronger_later_record(toi_shards):
    scalars, views = R.read_shards(toi_shards)
    views = {k: v.copy() for k, v in views.items()}
    views["local_view"][[0, 1]] = views["local_view"][[1, 0]]  # pair 0 stored noise-first
    _, _, report = R.dedupe_consecutive(scalars, views)
    assert report["runs_where_a_later_record_has_a_stronger_central_signal"] == 1


# ----------------------------------------------------------------------------------------------- sign


def test_detect_view_sign_and_unify_flip_a_peak_to_a_dip():
    rng = np.random.default_rng(3)
    dips = np.stack([_dip(61, 2.0, 0.5 + 0.1 * i) + rng.normal(0, 0.02, 61) for i in range(5)]) + 0.3
    assert R.detect_view_sign({"local": dips}) == 1
    assert R.detect_view_sign({"local_view": -dips}) == -1
    unified, info = R.unify_views({"local_view": -dips}, -1)
    loc = unified["local"]
    assert loc.dtype == np.float32
    assert np.allclose(loc.min(axis=1), -1.0, atol=1e-6) and np.all(np.abs(np.argmin(loc, axis=1) - 30) <= 8)
    assert np.all(np.abs(np.median(loc[:, np.abs(bin_offsets(61, 2.0)) >= 1.0], axis=1)) < 1e-6)
    assert info["local"] == {"noise_floor": 0, "off_centre_floor": 0}
    with pytest.raises(ValueError):
        R.unify_views({"local": dips}, 0)


def test_unify_bounds_an_off_centre_dip():
    v = np.zeros((1, 61))
    v[0, 55] = -1.0  # deep dip far from the centre, flat noiseless centre
    v[0, 30] = -1e-4
    unified, info = R.unify_views({"local": v}, 1)
    assert unified["local"].min() == pytest.approx(-10.0)
    assert info["local"]["off_centre_floor"] == 1


# -------------------------------------------------------------------------------------------- leakage


def test_model_feature_columns_refuses_leakage(vetting_shards):
    es = R.load_external(vetting_shards)
    cols = R.model_feature_columns(es.features)
    assert cols == es.model_features()
    assert not set(cols) & set(R.ID_COLUMNS) and not set(cols) & R.FORBIDDEN_COLUMNS
    assert set(cols) >= {"period_days", "duration_days", "snr", "qingress", "depth_change", "lv_vshape"}
    assert not leakage_columns(cols) and not leakage_columns(VIEW_FEATURE_COLUMNS)
    for bad in ["toi_id", "Sectors", "camera", "ccd", "row_id", "tic_id", "Epoc", "Disposition", "label",
                "star_id", "koi_score"]:
        with pytest.raises(LeakageError):
            R.model_feature_columns(es.features, ["period_days", bad])
    with pytest.raises(ValueError, match="not allowed"):
        R.model_feature_columns(es.features, ["RAnd"])
    assert R.model_feature_columns(es.features, ["snr", "lv_vshape"]) == ["snr", "lv_vshape"]
    assert all(c in R.ALLOWED_SCALARS or c in VIEW_FEATURE_COLUMNS or c in DERIVED_SCALAR_COLUMNS for c in cols)
    assert not leakage_columns(DERIVED_SCALAR_COLUMNS)
    # Columns that no row can fill (cross-view ratios of independently normalised views) are left out.
    assert "gv_lv_depth_ratio" not in cols and "oe_depth_diff_sigma" not in cols
    assert {"log10_period", "duration_over_expected", "tmag_mag", "lv_tfit_flat", "gv_sec_rel_primary"} <= set(cols)


# --------------------------------------------------------------------------------------- bad shards


def test_missing_truncated_and_corrupt_shards_name_the_file(vetting_shards, tmp_path):
    good = open(vetting_shards[0], "rb").read()
    truncated = tmp_path / "train-trunc"
    truncated.write_bytes(good[: len(good) // 2])
    random_bytes = tmp_path / "train-random"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096))
    flipped = bytearray(good)
    flipped[200] ^= 0xFF  # inside the first record's payload -> data CRC mismatch
    flipped_path = tmp_path / "train-flipped"
    flipped_path.write_bytes(bytes(flipped))
    empty = tmp_path / "train-empty"
    empty.write_bytes(b"")
    missing = tmp_path / "train-missing"
    cases = {truncated: "truncated", random_bytes: "corrupt", flipped_path: "CRC", empty: "no records",
             missing: "not found"}
    for path, word in cases.items():
        with pytest.raises(R.TFRecordError, match=word) as err:
            R.read_shards([vetting_shards[1], str(path)])
        assert str(path) in str(err.value)
    with pytest.raises(ValueError):
        R.read_shards([])


def test_detect_dataset_rejects_unknown_features():
    with pytest.raises(ValueError, match="not an AstroNet"):
        R.detect_dataset(["flux", "time"])


# ------------------------------------------------------------------------------------- view features


def test_view_features_box_versus_v_and_secondary():
    rng = np.random.default_rng(11)
    n = 40
    box = np.stack([_dip(61, 2.0, 1.0, "box") + rng.normal(0, 0.02, 61) for _ in range(n)])
    vee = np.stack([_dip(61, 2.0, 1.0, "V") + rng.normal(0, 0.02, 61) for _ in range(n)])
    sec_eb = np.stack([_dip(61, 2.0, 0.4) + rng.normal(0, 0.02, 61) for _ in range(n)])
    sec_none = rng.normal(0, 0.02, (n, 61))
    glob = np.stack([_dip(201, 10.0) + rng.normal(0, 0.02, 201) for _ in range(n)])
    period, duration = np.full(n, 2.0), np.full(n, 0.1)
    fb = compute_view_features({"local": box, "global": glob, "secondary": sec_eb}, period, duration)
    fv = compute_view_features({"local": vee, "global": glob, "secondary": sec_none}, period, duration)
    assert list(fb.columns) == VIEW_FEATURE_COLUMNS and len(fb) == n
    assert (fv["lv_vshape"].median() > fb["lv_vshape"].median() + 0.3)
    assert fv["lv_inner_outer_depth_ratio"].median() > 2.0 > 1.3 > fb["lv_inner_outer_depth_ratio"].median()
    assert fb["lv_width50_durations"].median() == pytest.approx(1.0, abs=0.15)
    assert fv["lv_width50_durations"].median() == pytest.approx(0.5, abs=0.15)
    assert fb["lv_depth"].median() == pytest.approx(1.0, abs=0.05)
    assert fb["lv_depth_snr"].median() > 30 and fb["lv_oot_scatter"].median() == pytest.approx(0.02, rel=0.3)
    assert abs(fb["lv_asymmetry"].median()) < 0.05 and fb["lv_min_offset_durations"].median() < 0.5
    assert fb["sv_depth_snr"].median() > 10 > 4 > fv["sv_depth_snr"].median()
    assert fb["gv_depth_snr"].median() > 30
    assert fb["gv_min_offset_phase"].max() <= 0.03  # inside the box (duty cycle 0.05)
    assert fb["gv_oot_bins_below_half"].max() == 0
    assert fb["duty_cycle"].tolist() == pytest.approx([0.05] * n)
    for col in ("oe_depth_diff_sigma", "sv_depth_rel_primary", "gv_lv_depth_ratio"):
        assert fb[col].isna().all()  # not derivable from independently normalised views without odd/even
    # Odd/even views and a shared scale make the cross-view features derivable.
    odd, even = box, 0.5 * box
    f2 = compute_view_features({"local": box, "odd": odd, "even": even, "secondary": 0.3 * sec_eb},
                               views_share_scale=True)
    assert f2["oe_depth_diff_sigma"].median() > 10
    assert f2["sv_depth_rel_primary"].median() == pytest.approx(0.12, abs=0.03)
    assert f2["duty_cycle"].isna().all() and f2["gv_depth_snr"].isna().all()


def test_view_features_asymmetry_and_offset_signs():
    ingress_heavy = _dip(61, 2.0, 1.0, "box") + np.where(bin_offsets(61, 2.0) < 0, -0.3, 0.0) * (
        np.abs(bin_offsets(61, 2.0)) <= 0.5)
    off_centre = _dip(61, 2.0, 1.0, "box", centre=1.2)
    f = compute_view_features({"local": np.stack([ingress_heavy, off_centre])})
    assert f.loc[0, "lv_asymmetry"] > 0.1
    assert f.loc[1, "lv_min_offset_durations"] > 0.6


def test_view_features_flat_rows_give_nan_not_errors():
    f = compute_view_features({"local": np.zeros((3, 61)), "global": np.zeros((3, 201))})
    assert f["lv_vshape"].isna().all() and f["lv_depth_snr"].isna().all()
    with pytest.raises(ValueError):
        compute_view_features({})


def test_view_shape_templates_separate_box_from_v():
    rng = np.random.default_rng(12)
    n = 30
    box = np.stack([_dip(61, 2.0, 1.0, "box") + rng.normal(0, 0.03, 61) for _ in range(n)])
    vee = np.stack([_dip(61, 2.0, 1.0, "V") + rng.normal(0, 0.03, 61) for _ in range(n)])
    fb, fv = compute_view_features({"local": box}), compute_view_features({"local": vee})
    assert fb["lv_tfit_flat"].median() >= 2 / 3 > 1 / 3 >= fv["lv_tfit_flat"].median()
    assert fb["lv_tfit_box_minus_v"].median() > 0 > fv["lv_tfit_box_minus_v"].median()
    assert fb["lv_tfit_width"].median() == pytest.approx(1.0, abs=0.2)  # box 1 duration wide
    assert fb["lv_tfit_snr"].median() > 50 and fb["lv_tfit_resid"].median() < 2.0
    assert fb["lv_corr_box"].median() > 0.95 > fv["lv_corr_box"].median()
    assert fv["lv_corr_vee"].median() > 0.95 > fb["lv_corr_vee"].median()
    # Profile: the box is ~-1 everywhere inside |dt| <= 0.375, the V only at its tip.
    assert fb["lv_mean_within_0p375"].median() == pytest.approx(-1.0, abs=0.05)
    assert fv["lv_mean_within_0p375"].median() > -0.7
    assert fb["lv_mean_ring_1p5_2p0"].abs().median() < 0.02
    # Symmetric shapes; white noise has no lag-1 correlation, a slow wave has.
    assert fb["lv_symmetry_corr"].median() > 0.9 and fb["lv_symmetry_rms"].median() < 3.0
    assert abs(fb["lv_oot_lag1"].median()) < 0.3


def test_global_view_secondary_eclipse_and_ellipsoidal_variation():
    rng = np.random.default_rng(13)
    n, nb = 20, 201
    phase = (np.arange(nb) - nb // 2) / nb
    primary = np.where(np.abs(phase) <= 0.01, -1.0, 0.0)
    secondary = np.where(np.abs(np.abs(phase) - 0.5) <= 0.01, -0.4, 0.0)
    ellipsoidal = -0.2 * np.cos(4 * np.pi * phase)

    def rows(profile):
        return np.stack([profile + rng.normal(0, 0.02, nb) for _ in range(n)])

    period, duration = np.full(n, 10.0), np.full(n, 0.2)  # transit within +-2 bins of the centre
    fe = compute_view_features({"global": rows(primary + secondary)}, period, duration)
    fl = compute_view_features({"global": rows(primary + ellipsoidal)}, period, duration)
    fp = compute_view_features({"global": rows(primary)}, period, duration)
    assert fe["gv_sec_rel_primary"].median() == pytest.approx(0.4, abs=0.06)  # one scale: 0.4 of the primary
    assert fe["gv_sec_phase"].median() > 0.45 and fe["gv_sec_sigma"].median() > 10
    assert fe["gv_phase_half_sigma"].median() > 5 > 2 > fp["gv_phase_half_sigma"].median()
    assert fp["gv_sec_rel_primary"].median() < 0.15 and fp["gv_sec_sigma"].median() < 5
    assert fl["gv_cos2_amp"].median() == pytest.approx(-0.2, abs=0.03)
    assert abs(fp["gv_cos2_amp"].median()) < 0.02 and abs(fe["gv_cos1_amp"].median()) < 0.02
    assert fl["gv_oot_lag1"].median() > 0.5 > abs(fp["gv_oot_lag1"].median())
    assert fl["gv_smooth_std_over_sigma"].median() > 0.5 > fp["gv_smooth_std_over_sigma"].median()


def test_derived_scalars_units_and_missing_inputs():
    f = derived_scalar_features(period_days=[365.25, 1.0, -1.0], duration_days=[13 / 24, 0.1, 0.1],
                                snr=[100.0, 10.0, 10.0], tmag_rescaled=[0.552 * 10 - 10.55, np.nan, 0.0])
    assert list(f.columns) == DERIVED_SCALAR_COLUMNS
    assert f.loc[0, "duration_over_expected"] == pytest.approx(1.0)  # a Sun-like host at 1 yr
    assert f.loc[0, "tmag_mag"] == pytest.approx(10.0)
    assert f.loc[0, "log10_period"] == pytest.approx(np.log10(365.25))
    assert f.loc[1, "snr_per_transit"] == pytest.approx(10.0 / np.sqrt(27.0))
    assert np.isnan(f.loc[1, "tmag_mag"]) and np.isnan(f.loc[1, "log10_depth_proxy"])
    assert np.isnan(f.loc[2, "log10_period"]) and np.isnan(f.loc[2, "duration_over_expected"])  # P <= 0
    g = derived_scalar_features(n_rows=2)  # a set without these scalars: all NaN, right shape
    assert g.shape == (2, len(DERIVED_SCALAR_COLUMNS)) and g.isna().all().all()
