"""The model trained on real TESS labels (the vetting set, PC / EB / J) applied to an uploaded curve.

The `external_benchmark` asset (partition "vetting") stores the booster (+ CNN members when used),
the blend's temperatures / alpha, the feature columns and the star-disjoint validation figures
(`artifacts.real_label_files`). Here one cleaned, detrended TESS curve becomes one row of the
training table (`real_label_row`), exactly as `tfrecord_reader.to_project_schema` built the shards'
rows, and the stored model scores it (`RealLabelModel.predict`); `real_label_block` is the labelled
block of /api/predict and exo-predict.

Inputs of the row, and how each is obtained from the curve (units as in the training table):

* views: `vetting_views` (global 201 / local 61 / secondary 61 bins; 30-minute resampling as the QLP
  curves of sectors 1-5), then the reader's `unify_views` with the dip sign (+1);
* period_days, duration_days (d): the request's ephemeris (duration: given / catalog / BLS);
* snr: QLP-like S/N = depth / sigma_30min x sqrt(number of in-transit 30-min points) (approximation of
  QLP's BLS S/N, computed on the 30-min resampled cleaned curve);
* qingress: half the V-shape of a trapezoid fitted to the 30-min resampled folded curve (no
  supersampling, like a fit to QLP's 30-min data): ingress time / T14;
* transit_depth_rescaled, tmag_rescaled: the shards' affine rescalings (SOURCES.md / tfrecord_reader)
  of the trapezoid depth (ppm) and the TESS magnitude (request > catalog > FITS header);
* depth_change: QLP's statistic is not reproduced: NaN (LightGBM's missing-value branch);
* physics (`external.physics.physical_features`): depth_ppm = the trapezoid depth, the star's radius,
  log g, Teff (request > catalog > header; mass imputed physically as in training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from exo_assets.models.blend import BlendModel
    from exo_assets.models.booster import BoosterModel

#: The shards' view format (what the served model was trained on; `vetting_views` reproduces it).
VETTING_VIEW_FORMAT: dict = {
    "global_bins": 201,
    "local_bins": 61,
    "secondary_bins": 61,
    "global": "phase [-P/2, P/2), bins 1.2 P / 201 wide",
    "local": "+-2 durations, bins 0.16 D wide",
    "secondary": "+-4 durations around the strongest box deficit outside the primary, bins 0.16 D wide",
    "cadence": "resampled to 30 min (QLP full-frame cadence, sectors 1-5)",
    "normalisation": "median 0, minimum -1 (Yu et al. 2019), then the reader's unify_views",
    "function": "exo_assets.external.vetting_views.vetting_views",
}
#: What each external set is, for the block's `trained_on` line.
SET_DESCRIPTIONS: dict[str, str] = {
    "vetting": "TESS QLP vetting set (Yu et al. 2019), sectors 1-5",
    "toi": "TESS TOI views (Hultstrand/TESS_ExoFinder), sectors 1-48",
    "dr24": "Kepler DR24 TCEs (Shallue & Vanderburg 2018)",
}


def served_view_format(dataset: str) -> dict:
    """The view format stored with a real-label model of `dataset` (only the vetting one is served)."""
    if dataset == "vetting":
        return dict(VETTING_VIEW_FORMAT)
    return {"note": f"{dataset} views (reader format); not served"}


def trained_on_text(dataset: str, n: dict) -> str:
    """E.g. "TESS QLP vetting set (Yu et al. 2019), 13,000 training signals, sectors 1-5"."""
    desc = SET_DESCRIPTIONS.get(dataset, dataset)
    head, _, tail = desc.rpartition(", ")
    counts = f"{int(n.get('train', 0)):,} training signals (+{int(n.get('val', 0)):,} validation)"
    return f"{head}, {counts}, {tail}" if head else f"{desc}, {counts}"


#: The shards' affine rescalings (tfrecord_reader.SCALAR_MAPS):
#: Transit_Depth = a x ppm + b, Tmag = c x mag + d.
DEPTH_RESCALE = (3.79e-7, -51882.9)
TMAG_RESCALE = (0.552, -10.55)
#: Cadences (days) of the curves the model was trained on (QLP 30 min) or that reproduce them (SPOC 2 min).
TESS_CADENCES_DAYS = {"2-min": 2.0 / 1440.0, "30-min": 30.0 / 1440.0}
#: Command that materializes the model (in the block when it is absent).
MATERIALIZE_COMMAND = "exo-assets materialize-external --set vetting --dir ../shared/data/astronet_vetting"
#: Block key in the prediction JSON.
BLOCK_KEY = "real_label_model"


@dataclass
class RealLabelModel:
    """The stored real-label model: booster, CNN members (empty when the blend gives them no weight and
    the booster does not stack them), blend and the attrs entry `spec` (`artifacts.real_label_files`)."""

    booster: BoosterModel
    blend: BlendModel
    cnns: list
    spec: dict
    lineage: dict = field(default_factory=dict)

    @classmethod
    def from_bundle(cls, bundle, lineage: dict | None = None) -> RealLabelModel:
        """From an `external_benchmark` bundle. Raises KeyError when it holds no model, ValueError when
        the class orders disagree."""
        from exo_assets.models.artifacts import read_real_label

        parts = read_real_label(bundle)
        classes = list(parts["spec"]["classes"])
        if list(parts["booster"].classes) != classes or list(parts["blend"].classes) != classes:
            raise ValueError(f"real-label model: class orders differ ({parts['booster'].classes}, {classes})")
        return cls(parts["booster"], parts["blend"], parts["cnns"], parts["spec"], dict(lineage or {}))

    @property
    def classes(self) -> list[str]:
        return list(self.spec["classes"])

    def predict(self, row: pd.DataFrame, views: dict[str, np.ndarray]) -> np.ndarray:
        """(n, k) blended probabilities of feature rows `row` and unified views (name -> (n, bins))."""
        from exo_assets.external.honest import average_members
        from exo_assets.external.stacking import stack_frame
        from exo_assets.models.blend import apply_blend

        p_cnn = None
        if self.cnns:
            inputs = {k: np.asarray(v, dtype=np.float32) for k, v in views.items()}
            inputs["scalars"] = row.reindex(columns=self.spec["cnn_scalar_columns"]).to_numpy(np.float64)
            p_cnn = average_members([c.predict_proba(inputs) for c in self.cnns])
        x = row.reset_index(drop=True)
        if self.spec.get("stacked"):
            if p_cnn is None:  # what stack_frame raises for missing probabilities
                raise ValueError("real-label model: stacked on CNN members but holds none")
            x = pd.concat([x, stack_frame(p_cnn, self.classes)], axis=1)
        x = x.reindex(columns=self.booster.features)
        p_b = self.booster.predict_proba(x, calibrated=False)
        return apply_blend(self.blend, p_b, p_cnn if self.blend.uses_cnn else None)


def _trapezoid(phase: np.ndarray, flux: np.ndarray, duration: float) -> tuple[float, float, float]:
    """(depth ppm, T14 d, V-shape) of a trapezoid fitted to folded 30-min points within +-2.5 D (no
    supersampling: a fit to the binned data as QLP's). NaNs when the fit fails."""
    from exo_assets.science.diagnostics.trapezoid import _fit_trapezoid

    near = np.abs(phase) < 2.5 * duration
    out = np.abs(phase) > duration
    if near.sum() < 8 or out.sum() < 3:
        return math.nan, math.nan, math.nan
    base = float(np.median(flux[out & near])) if (out & near).any() else float(np.median(flux[out]))
    sig = 1.4826 * float(np.median(np.abs(flux[out] - np.median(flux[out])))) or 1e-4
    try:
        res = _fit_trapezoid(
            phase[near], flux[near] / base, np.full(int(near.sum()), sig), duration, np.zeros(1)
        )
    except Exception:  # noqa: BLE001 - a numerical failure: the row gets NaNs (LightGBM routes them)
        return math.nan, math.nan, math.nan
    _, _, depth, t14, v = (float(p) for p in res.x)
    return (depth * 1e6, t14, v) if res.success else (math.nan, math.nan, math.nan)


def curve_scalars(time, flux, period: float, epoch: float, duration: float) -> dict:
    """The QLP-like scalars of one cleaned curve (see the module docstring): depth_ppm, snr, qingress,
    t14_days, from the curve resampled to 30 min and folded on (period, epoch) (days)."""
    from exo_assets.external.vetting_views import QLP_CADENCE_DAYS, resample_cadence
    from exo_assets.science.views import phase_fold

    t, f = resample_cadence(time, flux, QLP_CADENCE_DAYS)
    phase = phase_fold(t, period, epoch)
    depth, t14, v = _trapezoid(phase, f, duration)
    out_m = np.abs(phase) > duration
    sigma = 1.4826 * float(np.median(np.abs(f[out_m] - np.median(f[out_m])))) if out_m.sum() > 2 else math.nan
    n_in = int(np.sum(np.abs(phase) < 0.5 * duration))
    snr = depth * 1e-6 / sigma * math.sqrt(n_in) if sigma > 0 and n_in > 0 else math.nan
    return {
        "depth_ppm": depth,
        "snr": snr,
        "qingress": v / 2.0,
        "t14_days": t14,
        "n_in_transit_30min": n_in,
        "sigma_30min_ppm": sigma * 1e6,
    }


def real_label_row(
    time, flux, period: float, epoch: float, duration: float, stellar: dict | None = None
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict]:
    """One row of the vetting training table from a cleaned, detrended TESS curve.

    Args:
        time (d, BTJD), flux (relative, detrended); period, epoch, duration (d).
        stellar: radius_rsun, logg_cgs, teff_k, mag (TESS mag), NaN / absent where unknown.
    Returns:
        (one-row feature table, unified views name -> (1, bins) float32, the QLP-like scalars used).
    Raises:
        ValueError: the views cannot be made (too few points, flat curve).
    """
    from exo_assets.external.physics import physical_features
    from exo_assets.external.tfrecord_reader import unify_views
    from exo_assets.external.vetting_views import vetting_views
    from exo_assets.science.view_features import (
        EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS,
        compute_view_features,
        derived_scalar_features,
    )

    st = {k: float(v) if v is not None else math.nan for k, v in (stellar or {}).items()}
    raw = vetting_views(time, flux, period, epoch, duration).as_dict()
    p, d = np.array([float(period)]), np.array([float(duration)])
    views, _ = unify_views(
        {k: v[None, :] for k, v in raw.items()}, 1, p, d, EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS
    )
    sc = curve_scalars(time, flux, period, epoch, duration)
    tmag = st.get("mag", math.nan)
    row = pd.DataFrame(
        {
            "period_days": p,
            "duration_days": d,
            "transit_depth_rescaled": [
                float(np.float32(DEPTH_RESCALE[0] * sc["depth_ppm"] + DEPTH_RESCALE[1]))
            ],
            "snr": [sc["snr"]],
            "tmag_rescaled": [TMAG_RESCALE[0] * tmag + TMAG_RESCALE[1]],
            "qingress": [sc["qingress"]],
            "depth_change": [math.nan],
        }
    )
    vf = compute_view_features(views, p, d, EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS, views_share_scale=False)
    derived = derived_scalar_features(
        row["period_days"], row["duration_days"], row["snr"], row["tmag_rescaled"]
    )
    phys = physical_features(
        p,
        d,
        [sc["depth_ppm"]],
        [st.get("radius_rsun", math.nan)],
        None,
        [st.get("logg_cgs", math.nan)],
        [st.get("teff_k", math.nan)],
        row["snr"],
        [tmag],
    )
    row = pd.concat([row, vf, derived, phys], axis=1)
    return row, views, sc


def cadence_note(time, mission: str) -> str | None:
    """None for a TESS curve at 2-min or 30-min cadence, else what differs from the training curves."""
    t = np.asarray(time, dtype=np.float64)
    dt = float(np.median(np.diff(np.sort(t[np.isfinite(t)])))) if t.size > 1 else math.nan
    if mission != "TESS":
        return f"the input is a {mission} curve, not TESS: the model was trained on TESS QLP signals only"
    if any(abs(dt - c) < 0.1 * c for c in TESS_CADENCES_DAYS.values()):
        return None
    return (
        f"the input's cadence is {dt * 1440:.1f} min, not TESS 2-min or 30-min: the views are made at 30 min "
        "as the training curves, but noise and S/N may differ from QLP's"
    )


#: What the served row approximates (the block's `approximations`).
APPROXIMATIONS = (
    "S/N: depth / 30-min robust scatter x sqrt(in-transit 30-min points), not QLP's BLS S/N",
    "Qingress: half the V-shape of a trapezoid fit to the 30-min folded curve (QLP: its own trapezoid fit)",
    "depth: that trapezoid's depth (ppm) for Transit_Depth (shards: QLP's depth, rescaled) and the physics",
    "depth_change: not reproduced (missing value)",
    "stellar values: request > shipped TOI catalog > FITS header (training: TIC-8); "
    "mass imputed from log g and R",
)


def _validation(spec: dict) -> dict:
    """The served stage's star-disjoint validation figures (the blend; the booster when absent)."""
    stages = spec.get("validation") or {}
    figs = stages.get("blend") or stages.get("booster") or {}
    keep = ("n", "vetting_ap", "vetting_precision_at_recall_0.82", "triage_ap", "log_loss", "macro_f1")
    out = {k: figs[k] for k in keep if k in figs}
    out["ci95"] = {k: v for k, v in (figs.get("ci95") or {}).items() if k in keep}
    out["rows"] = "star-disjoint validation signals (star not in the training shards), cross-fitted"
    return out


def real_label_block(
    model: RealLabelModel | None,
    time,
    flux,
    period: float,
    epoch: float,
    duration: float,
    stellar: dict | None,
    mission: str,
    load_error: str = "",
) -> dict:
    """The labelled block of a prediction: the real-label model's PC / EB / J probabilities for the signal.

    Never raises: no model -> status "not_materialized" with the command; a model that failed to load ->
    "unavailable"; a curve the views cannot be made from -> "failed" with the reason.
    """
    title = "model trained on real TESS labels (PC planet candidate / EB eclipsing binary / J junk)"
    if model is None:
        if load_error:
            return {"status": "unavailable", "title": title, "reason": load_error}
        return {
            "status": "not_materialized",
            "title": title,
            "reason": f"no real-label model is materialized: run `{MATERIALIZE_COMMAND}` with the server's "
            "DAGSTER_HOME",
            "command": MATERIALIZE_COMMAND,
        }
    spec = model.spec
    block = {
        "status": "ok",
        "title": title,
        "trained_on": spec.get("trained_on", ""),
        "classes": model.classes,
        "validation": _validation(spec),
    }
    note = cadence_note(time, mission)
    if note:
        block["note"] = note
    try:
        row, views, sc = real_label_row(time, flux, period, epoch, duration, stellar)
        proba = model.predict(row, views)[0]
    except (ValueError, KeyError, RuntimeError) as err:
        return {**block, "status": "failed", "reason": f"the signal could not be scored: {err}"}
    probs = {c: float(p) for c, p in zip(model.classes, proba, strict=True)}
    block.update(
        {
            "probs": probs,
            "prediction": max(probs, key=probs.__getitem__),
            "inputs": {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in sc.items()},
            "missing_features": [
                c for c in model.booster.features if c in row and not np.isfinite(float(row[c].iloc[0]))
            ],
            "approximations": list(APPROXIMATIONS),
            "model_files": {
                "booster_trees": int(model.booster.booster.num_trees()),
                "cnn_members": len(model.cnns),
            },
        }
    )
    return block


def block_for_prediction(model_set, checked, measured, resolved) -> dict:
    """`real_label_block` for the engine: the cleaned curve, the ephemeris the views were folded on, the
    resolved stellar inputs and the model set's real-label model (or why it is absent)."""
    stellar = {k: resolved.values.get(k) for k in ("radius_rsun", "logg_cgs", "teff_k", "mag")}
    return real_label_block(
        getattr(model_set, "real_label", None),
        measured.curve.time,
        measured.curve.flux,
        checked.period,
        measured.t0_views,
        measured.duration,
        stellar,
        checked.curve.mission,
        getattr(model_set, "real_label_error", ""),
    )
