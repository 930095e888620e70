"""Missingness augmentation of the booster's training rows (`exo_assets.models.missingness`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exo_assets.models.booster import (
    BOOSTER_EXCLUDED_FEATURES,
    BoosterConfig,
    booster_features,
    fit_booster_cv,
)
from exo_assets.models.missingness import (
    DEFAULT_GROUPS,
    MissingnessConfig,
    augment_missing,
)

COLUMNS = [
    "teff_k",
    "logg_cgs",
    "rho_star_catalog_cgs",
    "density_ratio",
    "duration_ratio",
    "radius_rsun",
    "mag",
    "depth_ppm",
]


def _rows(n=200):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, len(COLUMNS))) + 5.0, rng.integers(0, 3, n)


def test_originals_kept_and_copies_blank_whole_groups():
    X, y = _rows()
    Xa, ya = augment_missing(X, y, COLUMNS, MissingnessConfig(rate=0.5, copies=2, seed=3))
    assert (
        Xa.shape == (600, len(COLUMNS)) and np.array_equal(Xa[:200], X) and np.array_equal(ya, np.tile(y, 3))
    )
    copies = Xa[200:]
    assert np.isnan(copies[:, COLUMNS.index("teff_k")]).mean() == pytest.approx(0.5 + 0.5 * 0.15, abs=0.07)
    # the measured depth is never blanked; a blanked log g takes the density diagnostics with it
    assert not np.isnan(copies[:, COLUMNS.index("depth_ppm")]).any()
    logg_gone = np.isnan(copies[:, COLUMNS.index("logg_cgs")])
    assert np.isnan(copies[logg_gone, COLUMNS.index("rho_star_catalog_cgs")]).all()
    # the non-blanked values of a copy are the original values
    same = ~np.isnan(copies)
    assert np.array_equal(copies[same], np.tile(X, (2, 1))[same])


def test_deterministic_and_off_by_default():
    X, y = _rows(50)
    a = augment_missing(X, y, COLUMNS, MissingnessConfig(rate=0.3, seed=1))[0]
    b = augment_missing(X, y, COLUMNS, MissingnessConfig(rate=0.3, seed=1))[0]
    c = augment_missing(X, y, COLUMNS, MissingnessConfig(rate=0.3, seed=1), seed_offset=1)[0]
    assert np.array_equal(a, b, equal_nan=True) and not np.array_equal(a, c, equal_nan=True)
    Xo, yo = augment_missing(X, y, COLUMNS, MissingnessConfig())
    assert Xo.shape == X.shape and np.array_equal(yo, y)
    Xn, _ = augment_missing(X, y, ["a", "b", "c", "d", "e", "f", "g", "h"], MissingnessConfig(rate=1.0))
    assert Xn.shape == X.shape  # no group column present: nothing to blank


@pytest.mark.parametrize("kwargs", [{"rate": 1.5}, {"rate": -0.1}, {"all_missing_rate": 2.0}, {"copies": -1}])
def test_bad_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        MissingnessConfig(**kwargs)


def test_groups_cover_the_stellar_inputs_and_catalog_depth_is_not_a_booster_feature():
    covered = {c for g in DEFAULT_GROUPS for c in g}
    assert {"teff_k", "logg_cgs", "radius_rsun", "mag", "catalog_depth_ppm"} <= covered
    assert BOOSTER_EXCLUDED_FEATURES == ("catalog_depth_ppm",)
    assert booster_features(["a", "catalog_depth_ppm", "b"]) == ["a", "b"]


def test_cv_with_augmentation_predicts_every_row_once():
    """Folds stay star-grouped: the copies join a fold's training rows only, so OOF has one row per signal."""
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 3, n)
    X = pd.DataFrame(
        {
            "teff_k": rng.normal(5500, 500, n),
            "logg_cgs": y + rng.normal(0, 0.3, n),
            "depth_ppm": rng.normal(500, 100, n) + 200 * y,
        }
    )
    groups = np.arange(n) // 2
    folds = [(np.flatnonzero(groups % 3 != k), np.flatnonzero(groups % 3 == k)) for k in range(3)]
    config = BoosterConfig(num_boost_round=20, missing=MissingnessConfig(rate=0.5, copies=1))
    oof, info = fit_booster_cv(X, y, groups, folds, ["CP", "PC", "FP"], config)
    assert oof.shape == (n, 3) and np.allclose(oof.sum(axis=1), 1.0) and info["n_folds"] == 3
