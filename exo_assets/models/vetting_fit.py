"""Fitting the vetting stage on out-of-fold predictions (Dagster-free).

The vetting flags (thresholds set on simulated injections, `exo-assets bench vetting`) are combined
with the blend by a non-negative logistic stacker fitted on the blend's OOF probabilities:

    logits = temperature x log p_blend
    logits[:, negative classes] += bias + sum_j weight_j x flag_j        (weight_j >= 0)
    p' = softmax(logits)

fitted by minimising the multiclass log-loss (L-BFGS-B, analytic gradient, a small L2 penalty on the
weights). The temperature re-calibrates the probabilities together with the flags, so a flag cannot
undo the blend's calibration as a hand-set penalty did; weights are >= 0 (a flag can only push
towards false positive). The flags repeat features the booster already sees, so the stage is kept
only where it helps on stars it was not fitted on: fitted on one star-disjoint half of the OOF rows
and applied to the other (both ways, `crossfit.star_halves`), its log-loss must be lower than the
blend's (gain > 0); otherwise it is dropped (all weights 0, temperature 1, bias 0: the identity).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from exo_assets.models.calibration import EPS
from exo_assets.models.crossfit import compare, crossfit, star_halves
from exo_assets.models.vetting import VettingConfig, apply_vetting

L2 = 1e-3  # penalty on the weights (per row-averaged loss)
WEIGHT_MAX = 10.0


def flag_matrix(features: pd.DataFrame, config: VettingConfig) -> np.ndarray:
    """(n, rules) float matrix of the rules' flags (NaN feature or missing column -> 0)."""
    cols = []
    for rule in config.rules:
        if rule.feature in features.columns:
            v = pd.to_numeric(features[rule.feature], errors="coerce").to_numpy(dtype=np.float64)
            cols.append(rule.triggered(v))
        else:
            cols.append(np.zeros(len(features), dtype=bool))
    return np.column_stack(cols).astype(float) if cols else np.zeros((len(features), 0))


def _loss_grad(theta, logp, flags, y, neg):
    """Mean NLL and gradient of theta = (temperature, bias, weights...)."""
    tau, bias, w = theta[0], theta[1], theta[2:]
    z = tau * logp
    z[:, neg] += (bias + flags @ w)[:, None]
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(np.clip(q[np.arange(n), y], EPS, 1.0))) + L2 * float(w @ w)
    r = q.copy()
    r[np.arange(n), y] -= 1.0  # dNLL/dz per row
    g_neg = r[:, neg].sum(axis=1)
    grad = np.empty_like(theta)
    grad[0] = np.mean(np.sum(r * logp, axis=1))
    grad[1] = np.mean(g_neg)
    grad[2:] = flags.T @ g_neg / n + 2 * L2 * w
    return loss, grad


@dataclass(frozen=True)
class StackerFit:
    """temperature, bias and one weight per rule."""

    temperature: float
    bias: float
    weights: tuple[float, ...]


def fit_stacker(proba: np.ndarray, flags: np.ndarray, y: np.ndarray, neg_idx: list[int]) -> StackerFit:
    """Non-negative logistic stacker (see the module docstring) on blend probabilities and flags."""
    from scipy.optimize import minimize

    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0))
    flags = np.asarray(flags, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    r = flags.shape[1]
    theta0 = np.r_[1.0, 0.0, np.full(r, 0.1)]
    bounds = [(0.2, 5.0), (-5.0, 5.0)] + [(0.0, WEIGHT_MAX)] * r
    res = minimize(
        _loss_grad, theta0, args=(logp, flags, y, neg_idx), jac=True, method="L-BFGS-B", bounds=bounds
    )
    th = res.x
    return StackerFit(float(th[0]), float(th[1]), tuple(float(v) for v in th[2:]))


def with_fit(config: VettingConfig, fit: StackerFit, fitted: dict) -> VettingConfig:
    """`config` (version 2) carrying the fitted temperature, bias and weights, and the record `fitted`."""
    rules = tuple(replace(rule, weight=w) for rule, w in zip(config.rules, fit.weights, strict=True))
    return replace(
        config,
        version=2,
        rules=rules,
        temperature=fit.temperature,
        bias=fit.bias,
        fitted={**config.fitted, **fitted},
    )


def identity(config: VettingConfig, fitted: dict) -> VettingConfig:
    """The dropped stage: every weight 0, temperature 1, bias 0 (probabilities unchanged)."""
    return with_fit(config, StackerFit(1.0, 0.0, tuple(0.0 for _ in config.rules)), fitted)


def fit_vetting(
    proba: np.ndarray,
    features: pd.DataFrame,
    y: np.ndarray,
    classes: list[str],
    config: VettingConfig,
    star_ids,
    min_gain: float = 0.0,
) -> tuple[VettingConfig, dict]:
    """Fit the stage on OOF rows, or drop it where it does not lower the cross-fitted log-loss.

    Args:
        proba: (n, k) blend OOF probabilities; features: n rows with the rules' features; y: labels
            (indices into `classes`); config: rules with the mission's thresholds (`for_mission`);
        star_ids: star of each row (the cross-fit halves are star-disjoint).
        min_gain: the cross-fitted gain in mean log-loss (nats) must exceed this to keep the stage.
    Returns:
        (fitted config, report) where report holds the cross-fitted comparison, the flag rates and
        whether the stage was kept.
    """
    neg_idx = [classes.index(c) for c in config.negative_classes if c in classes]
    flags = flag_matrix(features, config)
    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    halves = star_halves(star_ids)

    def fit(train):
        cfg = with_fit(config, fit_stacker(p[train], flags[train], y[train], neg_idx), {})
        return lambda rows: (
            apply_vetting(
                p[rows],
                features.iloc[np.flatnonzero(rows)].reset_index(drop=True),
                classes,
                cfg,
                allow_missing=True,
            ).proba
        )

    crossed = crossfit(fit, halves, len(y), p.shape[1])
    cmp = compare(y, p, crossed, tolerance_se=0.0)
    keep = bool(np.isfinite(cmp.gain) and cmp.gain > min_gain)
    full = fit_stacker(p, flags, y, neg_idx)
    report = {
        "kept": keep,
        "rows": int(len(y)),
        "crossfit_log_loss_blend": cmp.log_loss_ref,
        "crossfit_log_loss_vetting": cmp.log_loss_new,
        "crossfit_gain": cmp.gain,
        "crossfit_gain_se": cmp.gain_se,
        "flag_rate": {r.flag: float(flags[:, i].mean()) for i, r in enumerate(config.rules)},
        "fit_on_all_rows": {
            "temperature": full.temperature,
            "bias": full.bias,
            "weights": dict(zip([r.flag for r in config.rules], full.weights, strict=True)),
        },
    }
    record = {
        "stage": "kept" if keep else "dropped: no cross-fitted log-loss gain",
        "weights_fitted_on": f"{len(y)} OOF rows (blend), non-negative logistic stacker, star-disjoint "
        f"cross-fit gain {cmp.gain:+.4f} ± {cmp.gain_se:.4f} nats",
    }
    return (with_fit(config, full, record) if keep else identity(config, record)), report
