"""Physical TCE inputs (exo_assets.external.physics) and star-disjoint validation (honest)."""

import numpy as np
import pandas as pd
import pytest

from exo_assets.external import honest, physics
from exo_assets.models.blend import BlendConfig


def test_impute_logg_from_mass_and_radius_and_mass_from_logg():
    m, g, flag = physics.impute_stellar([1.0, 2.0, 1.0], [1.0, np.nan, np.nan], [np.nan, 3.84, np.nan])
    assert g[0] == pytest.approx(physics.LOGG_SUN)
    assert m[1] == pytest.approx(10 ** (3.84 - physics.LOGG_SUN) * 4.0)
    assert m[2] == pytest.approx(1.0) and g[2] == pytest.approx(physics.LOGG_SUN)  # both missing: M = clip(R)
    assert list(flag) == [0.0, 0.0, 1.0]


def test_imputed_mass_is_bounded_and_no_radius_stays_missing():
    m, g, flag = physics.impute_stellar([10.0, 0.05, np.nan], [np.nan] * 3, [np.nan] * 3)
    assert m[0] == physics.IMPUTED_MASS_BOUNDS[1] and m[1] == physics.IMPUTED_MASS_BOUNDS[0]
    assert np.isnan(m[2]) and np.isnan(g[2]) and flag[2] == 0.0


def test_earth_sun_physics():
    """An Earth transit of the Sun: Rp ~ 1 R_earth, transit density ~ solar, duration ratio ~ 1."""
    k = 1.0 / physics.RSUN_OVER_REARTH
    f = physics.physical_features([365.25], [13.0 / 24], [k**2 * 1e6], [1.0], [1.0], None, [5772.0])
    assert f["planet_radius_re"][0] == pytest.approx(1.0, rel=1e-6)
    assert f["star_density_cgs"][0] == pytest.approx(1.41, rel=0.02)
    assert abs(f["log10_density_ratio"][0]) < 0.05
    assert f["duration_ratio_expected"][0] == pytest.approx(1.0, abs=0.03)


def test_a_binary_star_looks_like_one():
    """A 10% deep, 5-hour eclipse at 1 d on a Sun-like star: Rp ~ 35 R_earth."""
    f = physics.physical_features([1.0], [5.0 / 24], [1e5], [1.0], [1.0], None, [5772.0])
    assert f["planet_radius_re"][0] > 30


def test_bad_inputs_become_nan_not_errors():
    f = physics.physical_features([-1.0, 3.0], [0.1, 0.0], [100.0, -5.0], [1.0, 1.0])
    assert f.loc[0, ["rho_star_transit_cgs", "duration_ratio_expected"]].isna().all()
    assert np.isnan(f.loc[1, "planet_radius_re"])


def test_read_tce_params_rejects_broken_files(tmp_path):
    p = tmp_path / "tce_params.csv"
    p.write_text("row_id,tic_id,Period\n1,2,3.0\n")
    with pytest.raises(ValueError, match="lacks columns"):
        physics.read_tce_params(p)
    cols = "row_id,tic_id,Tmag,Period,Duration,Transit_Depth,SN,Qingress,star_rad,star_mass,teff,logg\n"
    p.write_text(cols + "1,2,9,3,2,500,10,0.1,1,1,5800,4.4\n" + "1,2,9,3,2,500,10,0.1,1,1,5800,4.4\n")
    with pytest.raises(ValueError, match="repeated"):
        physics.read_tce_params(p)
    with pytest.raises(FileNotFoundError):
        physics.read_tce_params(tmp_path / "absent.csv")


def test_vetting_join_converts_hours_and_counts_unmatched(tmp_path):
    p = tmp_path / "tce_params.csv"
    p.write_text("row_id,tic_id,Tmag,Period,Duration,Transit_Depth,SN,Qingress,star_rad,star_mass,teff,logg\n"
                 "1,10,9,3.0,24.0,10000,10,0.1,1.0,1.0,5800,\n")
    feats = pd.DataFrame({"row_id": [1, 2], "tic_id": [10, 10], "period_days": [3.0, 3.0]})
    frame, info = physics.vetting_physics(feats, physics.read_tce_params(p))
    assert info == {"matched": 1, "unmatched": 1}
    assert frame["planet_radius_re"][0] == pytest.approx(0.1 * physics.RSUN_OVER_REARTH)
    assert frame["star_logg_cgs"][0] == pytest.approx(physics.LOGG_SUN)  # imputed from M and R
    assert np.isnan(frame.loc[1, "planet_radius_re"]) and np.isnan(frame.loc[1, "star_radius_rsun"])


def test_missingness_report_auc():
    miss = pd.DataFrame({"star_mass": [True, True, False, False]})
    rep = physics.missingness_report(miss, pd.Series(["J", "J", "PC", "PC"]), "PC")
    assert rep["auc_missing_count"] == 0.0 and rep["missing_rate_by_class"]["star_mass"]["J"] == 1.0


def test_star_disjoint_mask_and_choice_rows():
    mask = honest.star_disjoint_mask(["a", "b"], ["a", "c", "c", "b"])
    assert list(mask) == [False, True, True, False]
    rows, note = honest.choice_rows(mask, np.array([0, 1, 0, 1]), min_rows=2)
    assert list(rows) == list(mask) and "disjoint" in note
    rows, note = honest.choice_rows(mask, np.array([0, 1, 0, 1]), min_rows=5)  # too few: all rows, said so
    assert rows.all() and "optimistic" in note


def test_crossfit_never_lets_shared_star_rows_choose():
    rng = np.random.default_rng(0)
    n, k = 200, 3
    y = rng.integers(0, k, n)
    pb = rng.dirichlet(np.ones(k), n)
    pc = rng.dirichlet(np.ones(k), n)
    groups = np.array([f"s{i // 2}" for i in range(n)])
    choose = np.arange(n) < 120
    cfg = BlendConfig(min_gain_se=0.0)
    a, _, fa = honest.crossfit_disjoint(pb, pc, y, groups, choose, ["A", "B", "C"], cfg, 0)
    y2 = y.copy()
    y2[~choose] = (y2[~choose] + 1) % k  # change only the shared-star rows' labels
    b, _, fb = honest.crossfit_disjoint(pb, pc, y2, groups, choose, ["A", "B", "C"], cfg, 0)
    assert np.allclose(a, b) and fa.to_dict() == fb.to_dict()
    assert np.allclose(a.sum(axis=1), 1.0)


def test_average_members_checks_shapes():
    assert np.allclose(honest.average_members([np.ones((2, 3)), np.zeros((2, 3))]), 0.5)
    with pytest.raises(ValueError):
        honest.average_members([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError):
        honest.average_members([])
