"""Blend of the booster and the CNN, fit on out-of-fold (OOF) predictions (Dagster-free).

Procedure of `fit_blend`:

1. Each branch is temperature-scaled on its own OOF probabilities (`calibration.fit_temperature`):
   p_b = softmax(log p_booster / T_b), p_c = softmax(log p_cnn / T_c).
2. The blend is a *linear pool* of the calibrated probabilities,

       p(alpha) = alpha * p_c + (1 - alpha) * p_b,

   with alpha searched on the grid linspace(0, alpha_max, alpha_grid) (alpha = 0 is always on the
   grid) to minimise the OOF multiclass log-loss; ties go to the smallest alpha. Rows of p(alpha)
   sum to 1 because both branches do.
3. "Do no harm": the chosen alpha is kept only when its OOF log-loss is strictly below that of the
   calibrated booster alone (alpha = 0) *and* the gain is at least `min_gain_se` standard errors of
   the paired per-row log-loss difference (a guard against picking up noise: a CNN that outputs
   noise can lower the in-sample log-loss by a hair through the selection of alpha alone). Otherwise
   alpha = 0. With `min_gain_se = 0` the rule is the plain "strictly below". Without a CNN
   (`p_cnn_oof is None`) alpha = 0.

Optional gating (`BlendConfig.gate_feature`, e.g. "transit_snr"): rows are split into bins of a gate
feature and each bin gets its own alpha. The search space is the same alpha grid, independently per
bin (the bins partition the rows, so per-bin minimisation is the exact minimum over the product
grid). Bin edges are the `gate_bins` quantiles of the finite OOF gate values (3 -> terciles), or the
explicit interior edges when `gate_bins` is a tuple. A row falls in bin i when
edges[i-1] <= value < edges[i] (bin 0 below edges[0], the last bin at or above edges[-1]). Each bin
obeys the do-no-harm rule on its own OOF rows. A bin with fewer than `min_rows_per_gate` OOF rows is
not searched: it takes the global alpha when that does not raise the bin's OOF log-loss, else 0.
Rows whose gate value is missing (NaN) form their own group handled the same way
(`gate_missing_alpha`). Since every group is no worse than the booster, neither is the whole.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from exo_assets.models.calibration import EPS, apply_temperature, fit_temperature, log_loss


@dataclass(frozen=True)
class BlendConfig:
    """Knobs of `fit_blend`.

    Attributes:
        alpha_max: largest CNN weight searched (alpha in [0, alpha_max]).
        alpha_grid: number of points of the linear alpha grid (>= 2).
        min_gain_se: the blend must beat the calibrated booster's OOF log-loss by at least this many
            standard errors of the paired per-row difference (0 = any strict improvement).
        gate_feature: feature whose bins get their own alpha (None = one global alpha).
        gate_bins: number of quantile bins of the OOF gate values (3 = terciles), or a tuple of
            explicit increasing interior edges.
        min_rows_per_gate: bins with fewer OOF rows are not searched (global alpha or 0, see module).
        temperature_bounds: search bounds of the temperature of each branch.
    """

    alpha_max: float = 1.0
    alpha_grid: int = 41
    min_gain_se: float = 2.0
    gate_feature: str | None = None
    gate_bins: int | tuple[float, ...] = 3
    min_rows_per_gate: int = 30
    temperature_bounds: tuple[float, float] = (0.05, 20.0)

    def __post_init__(self) -> None:
        if not (0.0 <= self.alpha_max <= 1.0):
            raise ValueError(f"alpha_max must be in [0, 1], got {self.alpha_max}")
        if int(self.alpha_grid) < 2:
            raise ValueError(f"alpha_grid must be >= 2, got {self.alpha_grid}")
        if self.min_gain_se < 0:
            raise ValueError(f"min_gain_se must be >= 0, got {self.min_gain_se}")
        if isinstance(self.gate_bins, int):
            if self.gate_bins < 1:
                raise ValueError(f"gate_bins must be >= 1, got {self.gate_bins}")
        else:
            edges = np.asarray(self.gate_bins, dtype=float)
            if edges.ndim != 1 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
                raise ValueError(
                    f"explicit gate_bins must be finite and strictly increasing, got {self.gate_bins}"
                )

    def grid(self) -> np.ndarray:
        """The alpha values searched."""
        return np.linspace(0.0, self.alpha_max, int(self.alpha_grid))


@dataclass
class BlendModel:
    """A fitted blend (JSON-serialisable through `to_dict` / `from_dict`).

    Attributes:
        classes: class names, in column order of the probabilities.
        t_booster, t_cnn: temperatures of the two branches (t_cnn = 1 without a CNN).
        alpha: global CNN weight; with gating it only serves as the fallback of unsearched groups
            (already copied into gate_alphas / gate_missing_alpha), the gate alphas are what applies.
        gate_feature: gate feature name, None without gating.
        gate_edges: interior bin edges of the gate feature (len = bins - 1).
        gate_alphas: alpha of each gate bin (len = bins).
        gate_missing_alpha: alpha of rows whose gate value is NaN.
        oof_logloss_booster: OOF log-loss of the calibrated booster alone.
        oof_logloss_cnn: OOF log-loss of the calibrated CNN alone (None without a CNN).
        oof_logloss_blend: OOF log-loss of the blend as applied (gating included).
        n_oof: number of OOF rows the blend was fit on.
        gate_counts: OOF rows per gate bin.
    """

    classes: list[str]
    t_booster: float = 1.0
    t_cnn: float = 1.0
    alpha: float = 0.0
    gate_feature: str | None = None
    gate_edges: list[float] = field(default_factory=list)
    gate_alphas: list[float] = field(default_factory=list)
    gate_missing_alpha: float = 0.0
    oof_logloss_booster: float = float("nan")
    oof_logloss_cnn: float | None = None
    oof_logloss_blend: float = float("nan")
    n_oof: int = 0
    gate_counts: list[int] = field(default_factory=list)

    @property
    def uses_cnn(self) -> bool:
        """True when some rows give the CNN a positive weight."""
        alphas = [*self.gate_alphas, self.gate_missing_alpha] if self.gate_feature else [self.alpha]
        return any(a > 0 for a in alphas)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict."""
        d = asdict(self)
        d["classes"] = [str(c) for c in self.classes]
        for key in (
            "t_booster",
            "t_cnn",
            "alpha",
            "gate_missing_alpha",
            "oof_logloss_booster",
            "oof_logloss_blend",
        ):
            d[key] = float(d[key])
        d["oof_logloss_cnn"] = None if self.oof_logloss_cnn is None else float(self.oof_logloss_cnn)
        d["gate_edges"] = [float(v) for v in self.gate_edges]
        d["gate_alphas"] = [float(v) for v in self.gate_alphas]
        d["gate_counts"] = [int(v) for v in self.gate_counts]
        d["n_oof"] = int(self.n_oof)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> BlendModel:
        """Inverse of `to_dict` (unknown keys are an error)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown BlendModel keys: {unknown}")
        return cls(**data)


def _gate_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each gate value (0 .. len(edges)); -1 for NaN."""
    values = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(edges, values, side="right")
    idx[~np.isfinite(values)] = -1
    return idx


def _row_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(proba[np.arange(len(y)), y], EPS, 1.0))


def _search_alpha(
    y: np.ndarray, p_b: np.ndarray, p_c: np.ndarray, grid: np.ndarray, min_gain_se: float
) -> float:
    """Grid alpha minimising log-loss of the linear pool, or 0 when it does not clearly beat the booster."""
    if len(y) == 0:
        return 0.0
    base = _row_losses(y, p_b)
    best_alpha, best_rows = 0.0, base
    best_loss = float(base.mean())
    for a in grid[1:]:
        rows = _row_losses(y, a * p_c + (1.0 - a) * p_b)
        loss = float(rows.mean())
        if loss < best_loss:
            best_alpha, best_rows, best_loss = float(a), rows, loss
    gain = base - best_rows
    if not best_loss < float(base.mean()):
        return 0.0
    if min_gain_se > 0:
        se = float(gain.std(ddof=1) / math.sqrt(len(gain))) if len(gain) > 1 else float("inf")
        if not float(gain.mean()) >= min_gain_se * se:
            return 0.0
    return best_alpha


def _check_proba(name: str, proba: np.ndarray, n_classes: int, n_rows: int | None = None) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise ValueError(f"{name} must have shape (n, {n_classes}), got {p.shape}")
    if n_rows is not None and p.shape[0] != n_rows:
        raise ValueError(f"{name} has {p.shape[0]} rows, expected {n_rows}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains non-finite values")
    return p


def fit_blend(
    p_booster_oof: np.ndarray,
    p_cnn_oof: np.ndarray | None,
    y: np.ndarray,
    classes: list[str],
    config: BlendConfig = BlendConfig(),
    gate_values: np.ndarray | None = None,
) -> BlendModel:
    """Fit temperatures and the CNN weight(s) on OOF predictions (see the module docstring).

    Args:
        p_booster_oof: (n, k) OOF booster probabilities.
        p_cnn_oof: (n, k) OOF CNN probabilities of the same rows, or None when there is no CNN.
        y: integer labels indexing `classes`.
        classes: class names (k).
        config: search space and do-no-harm margin.
        gate_values: (n,) gate feature values; required when `config.gate_feature` is set.
    """
    classes = [str(c) for c in classes]
    y = np.asarray(y, dtype=int)
    n = len(y)
    k = len(classes)
    if n and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must index classes 0..{k - 1}")
    p_b_raw = _check_proba("p_booster_oof", p_booster_oof, k, n)
    t_b = fit_temperature(p_b_raw, y, config.temperature_bounds)
    p_b = apply_temperature(p_b_raw, t_b)
    model = BlendModel(
        classes=classes,
        t_booster=float(t_b),
        n_oof=int(n),
        oof_logloss_booster=log_loss(y, p_b) if n else float("nan"),
    )
    if config.gate_feature is not None:
        model.gate_feature = config.gate_feature
        if gate_values is None:
            raise ValueError(f"gate_feature={config.gate_feature!r} needs gate_values")
        gate_values = np.asarray(gate_values, dtype=np.float64)
        if gate_values.shape != (n,):
            raise ValueError(f"gate_values must have shape ({n},), got {gate_values.shape}")
        if isinstance(config.gate_bins, int):
            finite = gate_values[np.isfinite(gate_values)]
            qs = np.arange(1, config.gate_bins) / config.gate_bins
            edges = np.unique(np.quantile(finite, qs)) if finite.size and qs.size else np.empty(0)
        else:
            edges = np.asarray(config.gate_bins, dtype=np.float64)
        model.gate_edges = [float(e) for e in edges]

    # gate_values is set (checked above) whenever the model has a gate feature
    if p_cnn_oof is None:
        if model.gate_feature is not None:
            assert gate_values is not None
            model.gate_alphas = [0.0] * (len(model.gate_edges) + 1)
            idx = _gate_index(gate_values, np.asarray(model.gate_edges))
            model.gate_counts = [int((idx == b).sum()) for b in range(len(model.gate_alphas))]
        model.oof_logloss_blend = model.oof_logloss_booster
        return model

    p_c_raw = _check_proba("p_cnn_oof", p_cnn_oof, k, n)
    t_c = fit_temperature(p_c_raw, y, config.temperature_bounds)
    p_c = apply_temperature(p_c_raw, t_c)
    model.t_cnn = float(t_c)
    model.oof_logloss_cnn = log_loss(y, p_c) if n else None
    grid = config.grid()
    model.alpha = _search_alpha(y, p_b, p_c, grid, config.min_gain_se)

    if model.gate_feature is not None:
        assert gate_values is not None
        edges = np.asarray(model.gate_edges)
        idx = _gate_index(gate_values, edges)

        def fallback(sel: np.ndarray) -> float:
            # Global alpha where it does not raise this group's OOF log-loss, else the booster alone
            # (a group with no OOF rows has nothing to check and takes the global alpha).
            if not sel.any() or model.alpha == 0:
                return float(model.alpha)
            pooled = model.alpha * p_c[sel] + (1 - model.alpha) * p_b[sel]
            return model.alpha if log_loss(y[sel], pooled) <= log_loss(y[sel], p_b[sel]) else 0.0

        alphas, counts = [], []
        for b in range(len(edges) + 1):
            sel = idx == b
            counts.append(int(sel.sum()))
            if sel.sum() >= config.min_rows_per_gate:
                alphas.append(_search_alpha(y[sel], p_b[sel], p_c[sel], grid, config.min_gain_se))
            else:
                alphas.append(fallback(sel))
        model.gate_alphas = [float(a) for a in alphas]
        model.gate_counts = counts
        model.gate_missing_alpha = float(fallback(idx == -1))

    blend = apply_blend(model, p_booster_oof, p_cnn_oof, gate_values)
    model.oof_logloss_blend = log_loss(y, blend) if n else float("nan")
    return model


def row_alphas(model: BlendModel, n: int, gate_values: np.ndarray | None = None) -> np.ndarray:
    """CNN weight of each of `n` rows (gated when the model has a gate feature)."""
    if model.gate_feature is None:
        return np.full(n, float(model.alpha))
    if gate_values is None:
        raise ValueError(f"this blend is gated on {model.gate_feature!r}: pass gate_values")
    gate_values = np.asarray(gate_values, dtype=np.float64)
    if gate_values.shape != (n,):
        raise ValueError(f"gate_values must have shape ({n},), got {gate_values.shape}")
    idx = _gate_index(gate_values, np.asarray(model.gate_edges, dtype=np.float64))
    table = np.asarray([*model.gate_alphas, model.gate_missing_alpha], dtype=np.float64)  # -1 -> missing
    return table[idx]


def apply_blend(
    model: BlendModel, p_booster: np.ndarray, p_cnn: np.ndarray | None, gate_values: np.ndarray | None = None
) -> np.ndarray:
    """Blended probabilities (n, k): alpha * T-scaled CNN + (1 - alpha) * T-scaled booster, per row.

    `p_cnn` may be None only when every alpha of the model is 0 (then the result is the calibrated
    booster).
    """
    k = len(model.classes)
    p_b = apply_temperature(_check_proba("p_booster", p_booster, k), model.t_booster)
    n = p_b.shape[0]
    if p_cnn is None:
        if model.uses_cnn:
            raise ValueError("this blend gives the CNN a positive weight: p_cnn is required")
        return p_b
    alphas = row_alphas(model, n, gate_values)
    p_c = apply_temperature(_check_proba("p_cnn", p_cnn, k, n), model.t_cnn)
    out = alphas[:, None] * p_c + (1.0 - alphas[:, None]) * p_b
    return out / out.sum(axis=1, keepdims=True)


def do_no_harm_holds(model: BlendModel) -> bool:
    """True when the blend's OOF log-loss is not above the calibrated booster's (1e-12 tolerance)."""
    return bool(model.oof_logloss_blend <= model.oof_logloss_booster + 1e-12)
