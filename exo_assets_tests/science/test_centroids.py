"""Centroid test (science.centroids): in- vs out-of-transit shift, significance against off-transit phases."""

import numpy as np
import pytest

from exo_assets.science.centroids import (
    centroid_test,
    event_shift,
    null_phases,
    ring_outer,
)
from exo_assets.science.simulator.noise import ar1

P, T0, DUR = 3.3, 1.1, 0.15
TIME = np.arange(0.0, 90.0, 0.0204)
IN_TRANSIT = np.abs(((TIME - T0) / P + 0.5) % 1.0 - 0.5) * P < 0.5 * DUR


def _centroids(seed: int, shift=(0.0, 0.0), jitter=1e-3, white=2e-4):
    rng = np.random.default_rng(seed)
    col = 500.0 + ar1(rng, TIME.size, jitter, 0.99) + white * rng.standard_normal(TIME.size)
    row = 300.0 + ar1(rng, TIME.size, jitter, 0.99) + white * rng.standard_normal(TIME.size)
    return col + shift[0] * IN_TRANSIT, row + shift[1] * IN_TRANSIT


def test_event_shift_recovers_a_box_shift_under_slow_drift():
    values = 0.01 * TIME + 2e-4 * IN_TRANSIT  # a linear drift cancels event by event
    assert event_shift(TIME, values, P, T0, DUR) == pytest.approx(2e-4, rel=0.05)


def test_null_phases_avoid_transit_and_secondary():
    ph = null_phases(P, DUR, 50)
    guard = (ring_outer(P, DUR) + 0.5) * DUR / P
    assert len(ph) == 50 and np.all(np.minimum(ph, 1 - ph) > guard) and np.all(np.abs(ph - 0.5) > guard)


def test_shifted_centroid_is_significant_and_gives_the_source_offset():
    col, row = _centroids(0, shift=(-6e-4, 4e-4))
    res = centroid_test(TIME, col, row, P, T0, DUR, depth_ppm=300.0)
    assert res["status"] == "ok" and res["significance"] > 5 and res["p_value"] < 0.02
    assert res["shift_col_pix"] == pytest.approx(-6e-4, abs=1.5e-4)
    assert res["source_offset_pix"] == pytest.approx(np.hypot(6e-4, 4e-4) / 300e-6, rel=0.35)


def test_no_shift_false_alarms_are_rare_under_correlated_noise():
    """Without a shift the 2-D significance exceeds its nominal 1 % level (3.03 for 2 dof) rarely."""
    sig = [centroid_test(TIME, *_centroids(s), P, T0, DUR)["significance"] for s in range(60)]
    assert np.mean(np.array(sig) > 3.03) <= 0.05


def test_bad_ephemeris_is_reported():
    assert centroid_test(TIME, TIME, TIME, np.nan, T0, DUR)["status"] == "bad ephemeris"
