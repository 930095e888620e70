"""Realism gauge (exo_assets.bench.sim2real): normalisation, outputs and the CLI wiring (no Dagster run)."""

import numpy as np
import pandas as pd
import pytest

from exo_assets.bench.sim2real import (
    astronet_normalise,
    planet_auc,
    prediction_frame,
    stored_inputs,
    transit_likeness,
)
from exo_assets.cli import build_parser


def _box_views(n=6, depth=0.01, noise=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    local = 1.0 + noise * rng.standard_normal((n, 201))
    local[:, 88:113] -= depth
    return local


def test_astronet_normalise_gives_median_zero_minimum_minus_one():
    v = astronet_normalise(_box_views())
    assert np.allclose(np.median(v, axis=1), 0.0, atol=1e-6) and np.allclose(v.min(axis=1), -1.0)
    flat = astronet_normalise(np.ones((1, 11)))
    assert np.all(flat == 0.0) and flat.dtype == np.float32


def test_transit_likeness_separates_a_dip_from_noise():
    dip = transit_likeness(astronet_normalise(_box_views()))
    noise = transit_likeness(astronet_normalise(_box_views(depth=0.0)))
    assert dip.min() > 0.9 and noise.max() < dip.min()


def test_prediction_frame_and_auc():
    meta = pd.DataFrame(
        {"kepid": [1, 2, 3, 4], "tce_plnt_num": [1, 1, 2, 1], "label": ["PC", "AFP", "NTP", "PC"]}
    )
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.3, 0.3, 0.4]])
    out = prediction_frame(meta, proba, astronet_normalise(_box_views(4)))
    assert list(out.columns) == ["kepid", "tce_plnt_num", "p_PC", "p_AFP", "p_NTP"]
    np.testing.assert_allclose(out[["p_PC", "p_AFP", "p_NTP"]].sum(axis=1), 1.0)
    assert planet_auc(meta["label"], out["p_PC"]) == pytest.approx(1.0)
    assert np.isnan(planet_auc(["PC", "PC"], [0.1, 0.2]))


def test_stored_inputs_fill_the_missing_channels():
    views = {"global": np.zeros((2, 2001)), "local": astronet_normalise(_box_views(2))}
    inp = stored_inputs(views)
    assert set(inp) == {"global", "local", "odd", "even", "secondary"}
    assert np.array_equal(inp["odd"], views["local"]) and not inp["secondary"].any()


def test_cli_has_sim2real():
    args = build_parser().parse_args(["sim2real", "--views", "a", "b", "--out", "o"])
    assert args.views == ["a", "b"] and args.out == "o" and callable(args.func)
