"""The fitted vetting stage (models/vetting_fit.py) and the injection thresholds (bench/vetting.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from exo_assets.bench.vetting import choose_threshold, upper_threshold
from exo_assets.models.vetting import VettingConfig, apply_vetting
from exo_assets.models.vetting_fit import fit_stacker, fit_vetting, flag_matrix

CLASSES = ["CP", "PC", "FP"]
RULES = {
    "version": 2,
    "rules": [
        {"flag": "odd_even_depth", "feature": "odd_even_sigma", "op": ">", "threshold": 5.0, "weight": 1.0},
        {"flag": "other_dip", "feature": "max_other_sigma", "op": ">", "threshold": 5.0, "weight": 1.0},
    ],
}


def toy(seed, n=3000, informative=True):
    """Blend probabilities that are somewhat informative; `odd_even_sigma` fires on 40% of FPs and 1% of
    planets when informative (else at random); `max_other_sigma` always fires at random."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.3, 0.3, 0.4])
    logits = rng.normal(0, 1.0, (n, 3))
    logits[np.arange(n), y] += 1.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    fp = y == 2
    fire = np.where(fp, rng.random(n) < 0.4, rng.random(n) < 0.01) if informative else rng.random(n) < 0.1
    features = pd.DataFrame(
        {
            "odd_even_sigma": np.where(fire, 8.0, 1.0),
            "max_other_sigma": np.where(rng.random(n) < 0.1, 8.0, 1.0),
        }
    )
    stars = [f"star {i // 2}" for i in range(n)]
    return p, y, features, stars


def test_stacker_weights_informative_flag_only_and_stage_kept():
    p, y, features, stars = toy(0)
    config = VettingConfig.from_dict(RULES)
    flags = flag_matrix(features, config)
    fit = fit_stacker(p, flags, y, [2])
    assert fit.weights[0] > 1.0 and fit.weights[1] < 0.2
    fitted, report = fit_vetting(p, features, y, CLASSES, config, stars)
    assert report["kept"] and report["crossfit_gain"] > 0
    assert fitted.version == 2 and fitted.fitted["stage"] == "kept"
    out = apply_vetting(p, features, CLASSES, fitted).proba
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert np.all(out[flags[:, 0] > 0, 2] > p[flags[:, 0] > 0, 2])  # the informative flag raises P(FP)


def test_stage_dropped_when_flags_do_not_help():
    p, y, features, stars = toy(1, informative=False)
    fitted, report = fit_vetting(p, features, y, CLASSES, VettingConfig.from_dict(RULES), stars)
    if not report["kept"]:
        assert fitted.temperature == 1.0 and fitted.bias == 0.0 and all(r.weight == 0 for r in fitted.rules)
        np.testing.assert_array_equal(apply_vetting(p, features, CLASSES, fitted).proba, p)
    else:  # only a calibration gain can keep it, never a random flag's weight
        assert fitted.rules[0].weight < 0.3 and fitted.rules[1].weight < 0.3


def test_injection_thresholds_keep_planet_false_alarm_at_most_the_budget():
    rng = np.random.default_rng(3)
    values = np.r_[rng.normal(0, 1, 995), np.full(5, np.nan)]
    t = upper_threshold(values, 0.01)
    assert (values > t).sum() <= 10 and (values > t - 1e-6).sum() >= 10  # the most permissive such t
    low, high = choose_threshold("outside", values, 0.01)
    assert ((values < low) | (values > high)).sum() <= 10
    assert choose_threshold("<", values, 0.01) < -2
    assert upper_threshold(np.array([1.0, 2.0]), 0.01) == 2.0  # budget 0 of 2: above the largest planet
