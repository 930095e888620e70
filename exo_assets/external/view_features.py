"""Physical features derived from binned views alone (for external sets that ship no light curves).

Every function is vectorised over rows: a view is an array ``(n_signals, n_bins)`` following the
project's convention (transit at the centre bin, out-of-transit median 0, transit a dip towards -1;
see `exo_assets.science.views`). Nothing here needs the raw curve; whatever a view cannot tell is
NaN (never a guess).

Geometry
--------
- Local-size views (local, secondary, odd, even) span ``+- half_width_durations`` transit
  durations around the centre; a bin is ``2 * half_width_durations / n_bins`` durations wide. The
  AstroNet-Vetting / Triage shards use 61 bins over +-2 durations (measured: the median PC/EB
  local view is ~15-16 bins wide at its base); the project's own views use 201 bins over +-4.
- The global view spans one period; its transit covers ``n_bins * duration / period`` bins, so
  its in/out-of-transit split needs period and duration (2 bins either side when unknown).
- Out of transit: at least 1 duration from the centre (as in `exo_assets.science.views`).
  Depth: baseline - minimum within 1 duration of the centre. Scatter: robust sigma
  (1.4826 x MAD) of the out-of-transit bins.

Scale caveat: when the views were normalised independently (AstroNet shards: every view has its
own minimum -1), depths are comparable only *within* a view; cross-view depth ratios (secondary
vs primary, global vs local, odd vs even) are then NaN, and the significance ratios
(``*_depth_snr``, ``gv_lv_snr_ratio``), which do not depend on the scale, are given instead.
Pass ``views_share_scale=True`` for views made by `exo_assets.science.views.make_views`
(one common scale), where the cross-view depth ratios are derivable.

Column names avoid the leakage-guard substrings of `exo_assets.science.catalogs.LEAKAGE_PATTERNS`.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from exo_assets.science.catalogs import assert_no_leakage

#: Local-size views of the AstroNet-format shards span +- this many durations (measured).
EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS = 2.0
#: Robust sigma of a normal distribution from the MAD.
MAD_TO_SIGMA = 1.4826
#: The depth used to normalise a view is never below this many out-of-transit sigmas
#: (same floor as `exo_assets.science.views.NOISE_FLOOR_SIGMA`).
NOISE_FLOOR_SIGMA = 3.0
#: A view is never scaled so that a dip away from its centre goes deeper than -this.
MAX_OFF_CENTRE_DEPTH = 10.0

#: Feature column -> (unit, meaning).
VIEW_FEATURE_SCHEMA: dict[str, tuple[str, str]] = {
    "lv_depth": ("view units", "local view: out-of-transit median - minimum within 1 duration of the centre "
                 "(1 after the project normalisation unless the 3-sigma noise floor set the scale)"),
    "lv_depth_snr": ("sigma", "local depth / local out-of-transit scatter"),
    "lv_oot_scatter": ("view units", "robust sigma of the local view's out-of-transit bins"),
    "lv_inner_outer_depth_ratio": ("", "mean depth of the inner half of the transit (|dt| <= D/4) / mean depth of "
                                   "the outer half (D/4 < |dt| <= D/2); box ~1, V ~3 (clipped to [0, 10])"),
    "lv_vshape": ("", "1 - (bins below 90% of the depth) / (bins below 50% of the depth); box ~0, V -> 1"),
    "lv_width50_durations": ("durations", "local-view width below half depth, in catalog durations"),
    "lv_bins_below_half": ("bins", "number of local bins below -0.5 x local depth"),
    "lv_asymmetry": ("", "(mean depth over the ingress half - over the egress half of the transit) / depth"),
    "lv_min_offset_durations": ("durations", "distance of the local view's minimum from the centre"),
    "gv_oot_scatter": ("view units", "robust sigma of the global view's out-of-transit bins"),
    "gv_depth_snr": ("sigma", "global-view depth at the transit / its out-of-transit scatter"),
    "gv_lv_snr_ratio": ("", "gv_depth_snr / lv_depth_snr (scale-free comparison of the two views)"),
    "gv_lv_depth_ratio": ("", "global / local depth at the transit (NaN unless the views share one scale)"),
    "gv_min_offset_phase": ("phase", "distance of the global view's minimum from the transit, in phase (0-0.5)"),
    "gv_oot_bins_below_half": ("bins", "global out-of-transit bins below -0.5 x global transit depth "
                               "(other dips: secondary eclipses, systematics)"),
    "sv_depth": ("view units", "secondary view: baseline - minimum within 1 duration of its centre"),
    "sv_depth_snr": ("sigma", "secondary depth / secondary out-of-eclipse scatter"),
    "sv_depth_rel_primary": ("", "secondary depth / local depth (NaN unless the views share one scale)"),
    "oe_depth_diff_sigma": ("sigma", "|odd depth - even depth| / combined scatter (NaN without odd/even views)"),
    "duty_cycle": ("", "duration / period"),
}
VIEW_FEATURE_COLUMNS: list[str] = list(VIEW_FEATURE_SCHEMA)

assert_no_leakage(VIEW_FEATURE_COLUMNS)


def bin_offsets(n_bins: int, half_width: float) -> np.ndarray:
    """Centre offset of each of `n_bins` evenly spaced bins spanning [-half_width, half_width]."""
    edges = np.linspace(-half_width, half_width, n_bins + 1)
    return 0.5 * (edges[:-1] + edges[1:])


def nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Row-wise median ignoring NaN (NaN for an all-NaN row); one sort, faster than np.nanmedian."""
    srt = np.sort(np.asarray(values, dtype=np.float64), axis=1)  # NaN sort last
    k = np.isfinite(srt).sum(axis=1)
    lo = np.clip((k - 1) // 2, 0, None)[:, None]
    hi = np.clip(k // 2, 0, srt.shape[1] - 1)[:, None]
    med = 0.5 * (np.take_along_axis(srt, lo, 1)[:, 0] + np.take_along_axis(srt, hi, 1)[:, 0])
    return np.where(k > 0, med, np.nan)


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if mask is None:
        return v
    if np.ndim(mask) == 1:
        return v[:, np.asarray(mask, bool)]
    return np.where(mask, v, np.nan)


def robust_sigma(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Row-wise 1.4826 x MAD of `values` (n, bins), over the bins where `mask` is True.

    `mask` may be 1-D (same bins for every row) or 2-D (per row). Rows without a usable bin get NaN.
    """
    sub = _masked(values, mask)
    if sub.shape[1] == 0:
        return np.full(sub.shape[0], np.nan)
    med = nanmedian_rows(sub)
    return MAD_TO_SIGMA * nanmedian_rows(np.abs(sub - med[:, None]))


@contextmanager
def _quiet():
    """Silence numpy's 'All-NaN slice' / 'Mean of empty slice' warnings (such rows give NaN, as wanted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    sub = _masked(values, mask)
    return nanmedian_rows(sub) if sub.shape[1] else np.full(sub.shape[0], np.nan)


def _masked_min(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    sub = np.where(np.broadcast_to(mask, values.shape), values, np.inf)
    out = sub.min(axis=1)
    return np.where(np.isfinite(out), out, np.nan)


def local_masks(n_bins: int, half_width_durations: float) -> tuple[np.ndarray, np.ndarray]:
    """(out_of_transit, core) bin masks of a local-size view: |dt| >= 1 duration and |dt| <= 1 duration."""
    off = np.abs(bin_offsets(n_bins, half_width_durations))
    return off >= 1.0, off <= 1.0


def global_masks(n_bins: int, period_days=None, duration_days=None, n_rows: int = 1):
    """Per-row (out_of_transit, core) masks (n_rows, n_bins) of a global view spanning one period.

    The transit's half-extent is max(1, n_bins x duration / period) bins from the centre bin; rows
    without a usable period/duration use 2 bins. Capped at a quarter of the view.
    """
    idx = np.abs(np.arange(n_bins) - n_bins // 2)[None, :]
    if period_days is None or duration_days is None:
        half = np.full(n_rows, 2.0)
    else:
        p = np.asarray(period_days, dtype=np.float64)
        d = np.asarray(duration_days, dtype=np.float64)
        with np.errstate(all="ignore"):
            half = n_bins * d / p
        half = np.where(np.isfinite(half) & (half > 0), np.maximum(half, 1.0), 2.0)
    half = np.minimum(half, n_bins / 4.0)[:, None]
    return idx >= half, idx <= half


def depth_and_scatter(view: np.ndarray, out_mask: np.ndarray, core_mask: np.ndarray):
    """Row-wise (baseline, depth, scatter): out-of-transit median, baseline - core minimum, robust sigma."""
    v = np.asarray(view, dtype=np.float64)
    base = _masked_median(v, out_mask)
    depth = base - _masked_min(v, core_mask)
    scatter = robust_sigma(v, out_mask)
    return base, depth, scatter


def noise_floored_scale(depth: np.ndarray, scatter: np.ndarray, full_depth: np.ndarray | None = None):
    """(scale, kind): the normalisation divisor per row and which term set it.

    scale = max(depth, 3 sigma [as `make_views`], full_depth / MAX_OFF_CENTRE_DEPTH), 1e-6 where all
    vanish. ``full_depth`` (baseline - minimum over the whole view) bounds an off-centre dip at
    -MAX_OFF_CENTRE_DEPTH: without it a view whose centre is flat and noiseless (seen in the shards:
    scatter ~1e-3 of the view's own -1 dip elsewhere) would be blown up to -1000.
    kind: 0 depth, 1 noise floor, 2 off-centre floor.
    """
    d = np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=0.0)
    floor = NOISE_FLOOR_SIGMA * np.nan_to_num(np.asarray(scatter, dtype=np.float64), nan=0.0)
    if full_depth is None:
        far = np.zeros_like(d)
    else:
        far = np.nan_to_num(np.asarray(full_depth, dtype=np.float64), nan=0.0) / MAX_OFF_CENTRE_DEPTH
    scale = np.maximum(np.maximum(d, floor), far)
    kind = np.where(scale == d, 0, np.where(scale == floor, 1, 2))
    kind = np.where(d > 0, kind, np.where(scale == far, 2, 1))
    scale = np.where(scale > 0, scale, 1e-6)
    return scale, kind


def _safe_div(a, b):
    with np.errstate(all="ignore"):
        out = np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64)
    return np.where(np.isfinite(out), out, np.nan)


def _local_shape_features(v: np.ndarray, half_width_durations: float) -> dict[str, np.ndarray]:
    n_rows, n = v.shape
    off = bin_offsets(n, half_width_durations)
    bin_dur = 2.0 * half_width_durations / n
    out_m, core_m = local_masks(n, half_width_durations)
    base, depth, scatter = depth_and_scatter(v, out_m, core_m)
    d = v - base[:, None]  # baseline 0, dips negative
    depth_ok = np.where(depth > 0, depth, np.nan)
    rel = -d / depth_ok[:, None]  # 1 at the deepest core bin
    absoff = np.abs(off)
    inner = absoff <= 0.25
    outer = (absoff > 0.25) & (absoff <= 0.5)
    in_tr = absoff <= 0.5
    with _quiet():
        mean_inner = np.nanmean(np.where(inner, rel, np.nan), axis=1)
        mean_outer = np.nanmean(np.where(outer, rel, np.nan), axis=1)
    io_ratio = _safe_div(mean_inner, np.maximum(mean_outer, 0.1))
    io_ratio = np.where(mean_inner > 0, np.clip(io_ratio, 0.0, 10.0), np.nan)
    # Count bins below a level within the core (|dt| <= 1 duration), so distant noise dips do not count.
    core_rel = np.where(core_m, rel, -np.inf)
    w50 = (core_rel >= 0.5).sum(axis=1).astype(np.float64)
    w90 = (core_rel >= 0.9).sum(axis=1).astype(np.float64)
    vshape = np.where(w50 > 0, 1.0 - _safe_div(w90, w50), np.nan)
    ingress = in_tr & (off < 0)
    egress = in_tr & (off > 0)
    with _quiet():
        asym = np.nanmean(np.where(ingress, rel, np.nan), axis=1) - np.nanmean(np.where(egress, rel, np.nan), axis=1)
    nan_rows = ~np.isfinite(depth_ok)
    w50 = np.where(nan_rows, np.nan, w50)
    return {
        "lv_depth": depth,
        "lv_depth_snr": _safe_div(depth, scatter),
        "lv_oot_scatter": scatter,
        "lv_inner_outer_depth_ratio": io_ratio,
        "lv_vshape": vshape,
        "lv_width50_durations": w50 * bin_dur,
        "lv_bins_below_half": w50,
        "lv_asymmetry": np.where(nan_rows, np.nan, asym),
        "lv_min_offset_durations": np.abs(off[np.argmin(v, axis=1)]),
    }


def compute_view_features(views: dict[str, np.ndarray], period_days=None, duration_days=None,
                          local_half_width_durations: float = EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS,
                          views_share_scale: bool = False) -> pd.DataFrame:
    """All `VIEW_FEATURE_COLUMNS` for every row of `views` (float64 DataFrame, NaN where not derivable).

    Args:
        views: name -> (n, bins) array; any of "global", "local", "secondary", "odd", "even".
            Missing views give NaN for their features. Views must follow the project's sign
            convention (dip negative; see `exo_assets.external.tfrecord_reader.unify_views`).
        period_days, duration_days: per-row ephemeris (arrays of length n) for the global view's
            transit window and the duty cycle; None -> a 2-bin window and NaN duty cycle.
        local_half_width_durations: half-span of the local-size views, in durations.
        views_share_scale: True when all views were divided by one common scale (project
            `make_views`); enables the cross-view depth ratios.
    """
    present = {k: np.asarray(v, dtype=np.float64) for k, v in views.items() if v is not None}
    if not present:
        raise ValueError("no views given")
    n_rows = next(iter(present.values())).shape[0]
    for k, v in present.items():
        if v.ndim != 2 or v.shape[0] != n_rows:
            raise ValueError(f"view {k!r} must be (n={n_rows}, bins), got {v.shape}")
    nan = np.full(n_rows, np.nan)
    out: dict[str, np.ndarray] = {c: nan.copy() for c in VIEW_FEATURE_COLUMNS}

    lv_depth = lv_scatter = None
    if "local" in present:
        out.update(_local_shape_features(present["local"], local_half_width_durations))
        lv_depth, lv_scatter = out["lv_depth"], out["lv_oot_scatter"]

    if "global" in present:
        g = present["global"]
        n = g.shape[1]
        out_m, core_m = global_masks(n, period_days, duration_days, n_rows)
        base, depth, scatter = depth_and_scatter(g, out_m, core_m)
        out["gv_oot_scatter"] = scatter
        out["gv_depth_snr"] = _safe_div(depth, scatter)
        centre = n // 2
        out["gv_min_offset_phase"] = np.abs(np.argmin(g, axis=1) - centre) / n
        depth_ok = np.where(depth > 0, depth, np.nan)
        below = (g - base[:, None]) <= -0.5 * depth_ok[:, None]
        out["gv_oot_bins_below_half"] = np.where(np.isfinite(depth_ok), (below & out_m).sum(axis=1), np.nan)
        if lv_depth is not None:
            out["gv_lv_snr_ratio"] = _safe_div(out["gv_depth_snr"], out["lv_depth_snr"])
            if views_share_scale:
                out["gv_lv_depth_ratio"] = _safe_div(depth, lv_depth)

    if "secondary" in present:
        s = present["secondary"]
        out_m, core_m = local_masks(s.shape[1], local_half_width_durations)
        _, depth, scatter = depth_and_scatter(s, out_m, core_m)
        out["sv_depth"] = depth
        out["sv_depth_snr"] = _safe_div(depth, scatter)
        if views_share_scale and lv_depth is not None:
            out["sv_depth_rel_primary"] = _safe_div(depth, lv_depth)

    if "odd" in present and "even" in present:
        o, e = present["odd"], present["even"]
        out_m, core_m = local_masks(o.shape[1], local_half_width_durations)
        _, d_o, s_o = depth_and_scatter(o, out_m, core_m)
        _, d_e, s_e = depth_and_scatter(e, out_m, core_m)
        out["oe_depth_diff_sigma"] = _safe_div(np.abs(d_o - d_e), np.sqrt(s_o**2 + s_e**2))

    if period_days is not None and duration_days is not None:
        out["duty_cycle"] = _safe_div(duration_days, period_days)

    frame = pd.DataFrame(out, columns=VIEW_FEATURE_COLUMNS)
    return frame.astype("float64")
