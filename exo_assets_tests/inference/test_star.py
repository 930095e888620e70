"""What the engine looks up about a star (`inference.star`) and whether a transit was measured
(`inference.measurability`): pure functions on the shipped catalog."""

from __future__ import annotations

import math

import pytest

from exo_assets.inference.errors import MissionMismatch, check_mission
from exo_assets.inference.measurability import (
    MULTI_EVENT_COLUMNS,
    assess_transit,
    mark_single_transit,
)
from exo_assets.inference.star import (
    StarContext,
    catalog_star_id,
    match_signal,
    other_signals,
    resolve_stellar,
    star_context,
)


@pytest.mark.parametrize(
    "raw, mission, expected",
    [
        ("TIC 261136679", "TESS", "TIC 261136679"),
        ("tic261136679", "TESS", "TIC 261136679"),
        ("261136679", "TESS", "TIC 261136679"),
        ("KIC 011442793", "Kepler", "KIC 11442793"),
        ("11442793", "Kepler", "KIC 11442793"),
        ("kplr011442793", "Kepler", "KIC 11442793"),
        ("K2-18", "K2", "K2-18"),
        ("", "TESS", ""),
        (None, "Kepler", ""),
    ],
)
def test_catalog_star_id(raw, mission, expected):
    assert catalog_star_id(raw, mission) == expected


def test_kepler90_context_and_its_other_planets():
    ctx = star_context("KIC 11442793", "Kepler")
    assert ctx.found and len(ctx.signals) == 7 and ctx.stellar["teff_k"] == pytest.approx(5970.0)
    d = match_signal(ctx.signals, 59.74)
    assert d is not None and d.signal_id == "KOI K00351.03"
    assert match_signal(ctx.signals, 61.0) is None  # 2% off: not the same signal
    others = other_signals(ctx, 59.737144)
    assert len(others) == 6 and "KOI K00351.03" not in {o["signal_id"] for o in others}
    assert all(o["source"] == "catalog" for o in others)
    # a user-given other signal is kept and its catalog twin not added again
    mine = other_signals(ctx, 59.737144, given=[(7.008218, 137.67164, 0.1588)])
    assert len(mine) == 6 and mine[0]["source"] == "given"


def test_unknown_star_has_no_context():
    assert not star_context("TIC 1", "TESS").found
    assert not star_context("", "TESS").found and other_signals(StarContext(""), 3.0) == []


def test_stellar_inputs_given_then_catalog_then_header_then_missing():
    ctx = StarContext(
        "TIC 1",
        True,
        {"teff_k": 5000.0, "logg_cgs": float("nan"), "radius_rsun": float("nan"), "mag": float("nan")},
    )
    header = {"TEFF": 4000.0, "LOGG": 4.5, "TESSMAG": 9.0}
    values, sources = resolve_stellar({"radius_rsun": 0.9, "teff_k": float("nan")}, header, ctx)
    assert sources == {"teff_k": "catalog", "logg_cgs": "header", "radius_rsun": "given", "mag": "header"}
    assert values["teff_k"] == 5000.0 and values["mag"] == 9.0
    values, sources = resolve_stellar({}, {"TEFF": "n/a"}, StarContext(""))
    assert set(sources.values()) == {"missing"} and all(math.isnan(v) for v in values.values())


def test_mission_check():
    assert check_mission("TESS", "TESS") == "TESS" and check_mission(None, "Kepler") == "Kepler"
    assert check_mission("K2", "") == "K2"
    with pytest.raises(MissionMismatch, match="header says mission 'TESS'") as err:
        check_mission("Kepler", "TESS")
    assert err.value.status == 400 and err.value.code == "BAD_INPUT"


OK_FEATURES = {"n_transits": 3.0, "depth_ppm": 500.0, "ma_fit_status": "ok"}


@pytest.mark.parametrize(
    "status, features, measured, fragment",
    [
        ("ok", OK_FEATURES, True, ""),
        ("failed", {}, False, "could not be measured"),
        ("ok", {**OK_FEATURES, "n_transits": 0.0, "depth_ppm": float("nan")}, False, "no covered event"),
        ("ok", {**OK_FEATURES, "depth_ppm": float("nan")}, False, "too few"),
        (
            "ok",
            {**OK_FEATURES, "ma_fit_status": "failed: no convergence"},
            False,
            "fit failed (no convergence)",
        ),
    ],
)
def test_assess_transit(status, features, measured, fragment):
    a = assess_transit(status, "views: no data", features, {"depth_ppm": "too few in-transit cadences"})
    assert a.measured is measured and fragment in a.reason
    assert not a.single_transit


def test_single_transit_marks_the_multi_event_tests():
    a = assess_transit("ok", "", {**OK_FEATURES, "n_transits": 1.0}, {})
    assert a.measured and a.single_transit
    feats, reasons = mark_single_transit({c: 1.0 for c in MULTI_EVENT_COLUMNS} | {"depth_ppm": 5.0}, {})
    assert all(math.isnan(feats[c]) and "single transit" in reasons[c] for c in MULTI_EVENT_COLUMNS)
    assert feats["depth_ppm"] == 5.0
