import numpy as np
import pytest

from exo_assets.science.catalogs import load_catalog
from exo_assets.science.lightcurves import (
    LightCurveError,
    read_header_identity,
    read_lightcurve_file,
    read_star,
)
from exo_assets_tests.conftest import KEPLER90_FILES, LHS3844_FILE, PI_MEN_FILE


def _fold_depth_profile(time, flux, period, epoch, duration):
    """Mean relative flux in bins of half a duration over +-3 durations around the catalog epoch."""
    phase = (time - epoch + 0.5 * period) % period - 0.5 * period
    edges = np.arange(-3.25, 3.26, 0.5) * duration
    centres = 0.5 * (edges[1:] + edges[:-1])
    idx = np.digitize(phase, edges) - 1
    means = np.array(
        [np.nanmean(flux[idx == i]) if np.any(idx == i) else np.nan for i in range(len(centres))]
    )
    return centres, means


def _normalised(lc):
    flux = lc.flux.copy()
    for s in np.unique(lc.segment):
        sel = lc.segment == s
        flux[sel] /= np.nanmedian(flux[sel])
    ok = np.isfinite(flux) & (lc.quality == 0)
    return lc.time[ok], flux[ok]


def test_kepler90_dr25_files_read_in_bkjd():
    lc, bad = read_star(KEPLER90_FILES)
    assert bad == []
    assert lc.star_id == "KIC 11442793" and lc.mission == "Kepler"
    assert sorted(set(lc.segment)) == [3, 4, 5]
    assert np.all(np.diff(lc.time) > 0)
    assert 250 < lc.time.min() < 270  # quarter 3 starts at BKJD ~260


@pytest.mark.parametrize("koi", ["KOI K00351.06", "KOI K00351.05", "KOI K00351.03"])  # Kepler-90 b, c, g
def test_kepler90_transit_at_phase_zero_at_catalog_ephemeris(koi):
    """BKJD times and catalog BKJD epochs agree: the folded transit sits at phase 0."""
    from exo_assets.science.cleaning import clean_light_curve

    row = load_catalog("Kepler").set_index("signal_id").loc[koi]
    lc, _ = read_star(KEPLER90_FILES)
    curve = clean_light_curve(lc, [(row.period_days, row.epoch, row.duration_days)])
    centres, means = _fold_depth_profile(
        curve.time, curve.flux, row.period_days, row.epoch, row.duration_days
    )
    deepest = centres[np.nanargmin(means)]
    assert abs(deepest) <= 0.5 * row.duration_days
    assert 1 - np.nanmin(means) > 0.5 * row.depth_ppm * 1e-6


def test_pi_men_c_transit_at_phase_zero_in_btjd():
    row = load_catalog("TESS").set_index("signal_id").loc["TOI 144.01"]
    lc = read_lightcurve_file(PI_MEN_FILE)
    assert lc.star_id == "TIC 261136679" and lc.mission == "TESS"
    assert 1325 < lc.time.min() < 1326  # sector 1 in BTJD
    time, flux = _normalised(lc)
    centres, means = _fold_depth_profile(time, flux, row.period_days, row.epoch, row.duration_days)
    assert abs(centres[np.nanargmin(means)]) <= 0.5 * row.duration_days
    # a shifted epoch (BJD offset mistake of half a period) would not put the dip at 0
    centres, means = _fold_depth_profile(
        time, flux, row.period_days, row.epoch + 0.5 * row.period_days, row.duration_days
    )
    assert abs(centres[np.nanargmin(means)]) > 0.5 * row.duration_days or np.nanmin(means) > 1 - 1e-4


def test_header_identity_of_real_files():
    assert read_header_identity(LHS3844_FILE) == ("TIC 410153553", "TESS")
    assert read_header_identity(KEPLER90_FILES[0]) == ("KIC 11442793", "Kepler")


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("corrupt.fits", "corrupt"),
        ("truncated.fits", "truncated"),
        ("empty.fits", "empty"),
        ("image.fits", "not a Kepler/K2/TESS light curve"),
    ],
)
def test_bad_files_raise_with_reason(bad_fits_dir, name, fragment):
    with pytest.raises(LightCurveError, match=fragment):
        read_lightcurve_file(bad_fits_dir / name)


def test_read_star_keeps_good_files_and_reports_bad(bad_fits_dir):
    lc, bad = read_star([bad_fits_dir / "good.fits", bad_fits_dir / "corrupt.fits"])
    assert lc is not None and len(lc) > 1000
    assert [name for name, _ in bad] == ["corrupt.fits"]
    none, bad = read_star([bad_fits_dir / "empty.fits"])
    assert none is None and "empty" in bad[0][1]


def test_stale_tess_ephemeris_is_refined_by_bls():
    """LHS 3844 b (TOI 136.01): the TOI-table epoch (BTJD ~2036) propagated back ~1,500 orbits to
    sector 1 misses the transit by ~0.15 in phase; prepare_star finds it and says so."""
    from exo_assets.science.prepare import prepare_star

    cat = load_catalog("TESS")
    rows = cat[cat["signal_id"] == "TOI 136.01"]
    row = rows.iloc[0]
    result = prepare_star([LHS3844_FILE], rows)
    assert result.status == "ok"
    eph = result.ephemerides.iloc[0]
    assert eph["epoch_source"] == "bls_refined"
    c = result.curve
    phase = (c.time - eph["epoch"] + 0.5 * row.period_days) % row.period_days - 0.5 * row.period_days
    depth = np.median(c.flux[np.abs(phase) > row.duration_days]) - np.mean(
        c.flux[np.abs(phase) < 0.25 * row.duration_days]
    )
    assert depth == pytest.approx(row.depth_ppm * 1e-6, rel=0.2)


def test_fresh_kepler_ephemerides_are_kept():
    from exo_assets.science.prepare import prepare_star

    cat = load_catalog("Kepler")
    result = prepare_star(KEPLER90_FILES, cat[cat["star_id"] == "KIC 11442793"])
    assert set(result.ephemerides["epoch_source"]) == {"catalog"}
