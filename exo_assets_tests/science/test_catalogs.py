import numpy as np
import pandas as pd
import pytest

from exo_assets.science import catalogs as cat


@pytest.mark.parametrize("mission", ["Kepler", "K2", "TESS"])
def test_catalog_schema_labels_and_no_leakage(mission):
    frame = cat.load_catalog(mission)
    assert list(frame.columns) == cat.CATALOG_COLUMNS
    assert set(frame["label"]) == {"CP", "PC", "FP"}
    assert frame["signal_id"].is_unique
    assert cat.leakage_columns(frame.columns) == []
    assert (frame["epoch_system"] == ("BTJD" if mission == "TESS" else "BKJD")).all()


def test_label_mapping_per_mission():
    tess = pd.Series(["CP", "KP", "PC", "APC", "FP", "FA", "??"])
    assert cat.map_labels(tess, "TESS").tolist()[:6] == ["CP", "CP", "PC", "PC", "FP", "FP"]
    assert pd.isna(cat.map_labels(tess, "TESS").iloc[6])
    k2 = pd.Series(["CONFIRMED", "CANDIDATE", "FALSE POSITIVE", "REFUTED"])
    assert cat.map_labels(k2, "K2").tolist() == ["CP", "PC", "FP", "FP"]
    kep = pd.Series(["CONFIRMED", "CANDIDATE", "FALSE POSITIVE"])
    assert cat.map_labels(kep, "Kepler").tolist() == ["CP", "PC", "FP"]


def test_catalog_counts_match_archive_export():
    # SOURCES.md: KOI FALSE POSITIVE 4,839 / CONFIRMED 2,746 / CANDIDATE 1,979.
    counts = cat.load_catalog("Kepler")["label"].value_counts()
    assert counts.to_dict() == {"FP": 4839, "CP": 2746, "PC": 1979}
    # TOI: CP+KP = 684+583, PC+APC = 4679+462, FP+FA = 1197+98.
    counts = cat.load_catalog("TESS")["label"].value_counts()
    assert counts.to_dict() == {"PC": 5141, "FP": 1295, "CP": 1267}


def test_units_kepler_row():
    frame = cat.load_catalog("Kepler").set_index("signal_id")
    row = frame.loc["KOI K00752.01"]  # Kepler-227 b: koi_duration 2.9575 h, time0bk 170.53875 BKJD
    assert row["star_id"] == "KIC 10797460"
    assert row["duration_days"] == pytest.approx(2.9575 / 24)
    assert row["epoch"] == pytest.approx(170.53875)


def test_tess_epoch_converted_to_btjd():
    frame = cat.load_catalog("TESS").set_index("signal_id")
    assert frame.loc["TOI 144.01", "star_id"] == "TIC 261136679"  # pi Men c
    assert 1000 < frame.loc["TOI 144.01", "epoch"] < 5000  # BTJD, not BJD


def test_k2_derived_depth_and_duration_are_flagged_and_plausible():
    frame = cat.load_catalog("K2")
    assert frame["depth_derived"].all() and frame["duration_derived"].all()
    assert frame["epoch"].isna().all()
    ok = frame["duration_days"].dropna()
    assert ok.between(0.01, 2.0).mean() > 0.95


@pytest.mark.parametrize(
    "column",
    [
        "koi_score",
        "koi_fpflag_ss",
        "koi_pdisposition",
        "koi_disposition",
        "tfopwg_disp",
        "toi_id",
        "my_fpflag_copy",
        "vetting_comment",
    ],
)
def test_leakage_guard_rejects_disposition_columns(column):
    with pytest.raises(cat.LeakageError):
        cat.assert_no_leakage(["period_days", column])


def test_leakage_guard_accepts_physics_columns():
    cat.assert_no_leakage(["period_days", "depth_ppm", "teff_k", "snr", "odd_even_sigma"])


def test_generation_hints_are_separate_from_catalog():
    hints = cat.load_generation_hints("Kepler")
    assert set(hints.columns) == {"signal_id", "fp_ss", "fp_co", "fp_nt", "fp_ec"}
    assert not set(hints.columns) & set(cat.load_catalog("Kepler").columns) - {"signal_id"}
    assert cat.load_generation_hints("TESS").empty


def test_validate_catalog_rows_gives_reasons():
    frame = pd.DataFrame({"period_days": [1.0, np.nan, -2.0, 3.0], "duration_days": [0.1, 0.1, 0.1, np.nan]})
    reasons = cat.validate_catalog_rows(frame)
    assert reasons[0] == ""
    assert "period" in reasons[1] and "period" in reasons[2]
    assert "duration" in reasons[3]


def test_select_targets_keeps_stars_whole_and_balances_labels():
    frame = cat.load_catalog("Kepler")
    sel = cat.select_targets(frame, 30, seed=1)
    assert sel["star_id"].nunique() == 30
    # every signal of a chosen star is kept
    full = frame[frame["star_id"].isin(sel["star_id"])]
    assert len(full) == len(sel)
    assert set(sel["label"]) == {"CP", "PC", "FP"}
    assert cat.select_targets(frame, 30, seed=1).equals(sel)
    assert not cat.select_targets(frame, 30, seed=2).equals(sel)
