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
  (`stats.robust_std_rows`, 1.4826 x MAD) of the out-of-transit bins.

Scale caveat: when the views were normalised independently (AstroNet shards: every view has its
own minimum -1), depths are comparable only *within* a view; cross-view depth ratios (secondary
vs primary, global vs local, odd vs even) are then NaN, and the significance ratios
(``*_depth_snr``, ``gv_lv_snr_ratio``), which do not depend on the scale, are given instead.
Pass ``views_share_scale=True`` for views made by `exo_assets.science.views.make_views`
(one common scale), where the cross-view depth ratios are derivable.

Feature groups (`VIEW_FEATURE_SCHEMA` gives each column's unit and meaning): local-view depth, S/N,
shape (V-ness, width, asymmetry), the transit profile at several widths, time-reversal symmetry,
ingress/egress slopes, template correlations and a least-squares trapezoid grid; out-of-transit red
noise, outliers and gaps; in the global view (where primary and secondary share one scale) the
deepest other dip relative to the primary, phase-0.5 depth, harmonics at P and P/2 and smooth
variability; the secondary view's S/N and shape. `derived_scalar_features` adds transforms of the
allowed shard scalars (`DERIVED_SCALAR_SCHEMA`).

Column names avoid the leakage-guard substrings of `exo_assets.science.catalogs.LEAKAGE_PATTERNS`.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from exo_assets.science.catalogs import assert_no_leakage
from exo_assets.science.stats import masked_rows, nanmedian_rows, robust_std_rows
from exo_assets.science.views import NOISE_FLOOR_SIGMA  # a view's depth scale is never below this many sigmas

#: Local-size views of the AstroNet-format shards span +- this many durations (measured).
EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS = 2.0
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
    # --- local-view profile at several widths (view units: baseline 0, unified depth 1) -------------
    **{f"lv_mean_within_{_tag}": ("view units", f"local view: mean over |dt| <= {_w} durations (transit profile)")
       for _tag, _w in (("0p125", 0.125), ("0p25", 0.25), ("0p375", 0.375), ("0p5", 0.5), ("0p75", 0.75),
                        ("1p0", 1.0))},
    "lv_mean_ring_1p0_1p5": ("view units", "local view: mean over 1 < |dt| <= 1.5 durations (shoulders)"),
    "lv_mean_ring_1p5_2p0": ("view units", "local view: mean over 1.5 < |dt| <= 2 durations (far baseline)"),
    "lv_symmetry_rms": ("sigma", "rms of (view - time-reversed view) within 1 duration / out-of-transit scatter"),
    "lv_symmetry_corr": ("", "correlation of the view within 1 duration with its time reversal"),
    "lv_ingress_slope": ("view units / bin", "mean gradient over -0.75 < dt < -0.25 durations (ingress)"),
    "lv_egress_slope": ("view units / bin", "mean gradient over 0.25 < dt < 0.75 durations (egress)"),
    "lv_corr_box": ("", "correlation with a box of width 1 duration"),
    "lv_corr_vee": ("", "correlation with a V of full width 1 duration"),
    "lv_corr_box_wide": ("", "correlation with a box of width 1.5 durations"),
    "lv_corr_box_narrow": ("", "correlation with a box of width 0.5 duration"),
    "lv_oot_lag1": ("", "lag-1 autocorrelation of the out-of-transit bins (red noise / variability ~1)"),
    "lv_oot_std_over_sigma": ("", "standard deviation / robust sigma of the out-of-transit bins (outliers)"),
    "lv_oot_frac_above_3sigma": ("", "share of out-of-transit bins above +3 sigma (brightenings)"),
    "lv_oot_max": ("view units", "highest out-of-transit bin"),
    "lv_oot_min": ("view units", "lowest out-of-transit bin (other dips next to the transit)"),
    "lv_repeat_frac": ("", "share of adjacent local bins with identical values (gaps filled by the pipeline)"),
    "gv_repeat_frac": ("", "share of adjacent global bins with identical values"),
    # --- trapezoid template fits (least squares on a grid of widths x flat-bottom fractions) --------
    "lv_tfit_snr": ("sigma", "local view: best matched-filter S/N over the trapezoid grid"),
    "lv_tfit_width": ("durations", "total width of the best trapezoid"),
    "lv_tfit_flat": ("", "flat-bottom fraction of the best trapezoid (0 = V, 1 = box)"),
    "lv_tfit_resid": ("sigma", "rms residual of the best trapezoid fit / out-of-transit scatter"),
    "lv_tfit_box_minus_v": ("sigma", "best box S/N - best V S/N (positive: flat-bottomed)"),
    "lv_tfit_amp": ("view units", "depth of the best trapezoid"),
    "sv_tfit_snr": ("sigma", "secondary view: best matched-filter S/N over the trapezoid grid"),
    "sv_tfit_width": ("durations", "total width of the best secondary trapezoid"),
    "sv_tfit_flat": ("", "flat-bottom fraction of the best secondary trapezoid"),
    "sv_tfit_resid": ("sigma", "rms residual of the best secondary fit / its scatter"),
    "sv_tfit_box_minus_v": ("sigma", "secondary: best box S/N - best V S/N"),
    "sv_tfit_amp": ("view units", "depth of the best secondary trapezoid"),
    # --- global view: variability, other dips, phase 0.5, harmonics --------------------------------
    "gv_oot_lag1": ("", "lag-1 autocorrelation of the global out-of-transit bins (smooth variability ~1)"),
    "gv_oot_std_over_sigma": ("", "standard deviation / robust sigma of the global out-of-transit bins"),
    "gv_oot_min_sigma": ("sigma", "deepest global out-of-transit bin below the baseline, in sigma"),
    "gv_oot_max_sigma": ("sigma", "highest global out-of-transit bin above the baseline, in sigma"),
    "gv_oot_n_below_3sigma": ("bins", "global out-of-transit bins below -3 sigma"),
    "gv_oot_n_above_3sigma": ("bins", "global out-of-transit bins above +3 sigma"),
    "gv_phase_half_sigma": ("sigma", "mean of the 6 global bins at phase 0.5 (view edges) below 0, in sigma"),
    "gv_centre_mean": ("view units", "mean of the 3 central global bins"),
    "gv_smooth_std_over_sigma": ("", "std of the 9-bin running mean of the out-of-transit bins / sigma "
                                 "(white noise ~1/3, slow variability larger)"),
    "gv_cos1_sigma": ("sigma", "amplitude of cos(2 pi phase) fit to the out-of-transit bins / sigma"),
    "gv_sin1_sigma": ("sigma", "|amplitude| of sin(2 pi phase) / sigma"),
    "gv_cos1_amp": ("view units", "amplitude of cos(2 pi phase)"),
    "gv_cos2_sigma": ("sigma", "amplitude of cos(4 pi phase) (ellipsoidal variation) / sigma"),
    "gv_sin2_sigma": ("sigma", "|amplitude| of sin(4 pi phase) / sigma"),
    "gv_cos2_amp": ("view units", "amplitude of cos(4 pi phase)"),
    "gv_sec_rel_primary": ("", "global view: deepest out-of-transit bin / primary depth, both on the global "
                           "view's one scale (secondary eclipse or other dip relative to the transit)"),
    "gv_sec_sigma": ("sigma", "that deepest out-of-transit bin below the baseline, in sigma"),
    "gv_sec_phase": ("phase", "distance of that bin from the transit (0-0.5)"),
    "gv_sec3_rel_primary": ("", "as gv_sec_rel_primary on the 3-bin running mean (wider eclipses)"),
    "gv_sec3_sigma": ("sigma", "as gv_sec_sigma on the 3-bin running mean (sigma / sqrt 3)"),
    "gv_sec3_phase": ("phase", "as gv_sec_phase on the 3-bin running mean"),
    "gv_max_rel_primary": ("", "highest out-of-transit bin above the baseline / primary depth"),
    # --- secondary view ---------------------------------------------------------------------------
    "sv_centre_sigma": ("sigma", "secondary view: - mean over |dt| <= 0.5 duration / its scatter"),
    "sv_centre_mean": ("view units", "secondary view: mean over |dt| <= 0.5 duration"),
    "sv_corr_local": ("", "correlation of the secondary view with the local view (same eclipse shape)"),
    "sv_corr_box": ("", "correlation of the secondary view with a box of width 1 duration"),
    "sv_min_offset_durations": ("durations", "distance of the secondary view's minimum from its centre"),
    "sv_oot_lag1": ("", "lag-1 autocorrelation of the secondary view's out-of-eclipse bins"),
}
VIEW_FEATURE_COLUMNS: list[str] = list(VIEW_FEATURE_SCHEMA)

#: Features derived from the allowed shard scalars (not from the views): column -> (unit, meaning).
DERIVED_SCALAR_SCHEMA: dict[str, tuple[str, str]] = {
    "log10_period": ("log10 d", "log10 of the orbital period"),
    "log10_duration": ("log10 d", "log10 of the transit duration"),
    "duration_over_expected": ("", "duration / (13 h x (P / 365.25 d)^(1/3)): the central-transit duration "
                               "for a Sun-like main-sequence host; >> 1 giant or diluted binary host"),
    "log10_snr": ("log10", "log10 of the pipeline S/N"),
    "snr_per_transit": ("", "S/N / sqrt(max(1, 27 d / P)): S/N of one transit in a 27-day sector"),
    "tmag_mag": ("mag", "TESS magnitude undoing the vetting shards' affine rescaling ((x + 10.55) / 0.552)"),
    "log10_depth_proxy": ("log10", "log10 S/N + 0.2 Tmag - 0.5 log10(duty cycle): rises with the depth at fixed "
                          "noise (photon noise ~10^(0.2 Tmag)); the shards' own depth is quantised"),
}
DERIVED_SCALAR_COLUMNS: list[str] = list(DERIVED_SCALAR_SCHEMA)

assert_no_leakage(VIEW_FEATURE_COLUMNS + DERIVED_SCALAR_COLUMNS)

#: Trapezoid grid of the template fits: total widths (durations) x flat-bottom fractions.
TEMPLATE_WIDTHS_DURATIONS: tuple[float, ...] = (0.3, 0.5, 0.7, 0.85, 1.0, 1.2, 1.6)
TEMPLATE_FLAT_FRACTIONS: tuple[float, ...] = (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)
#: Sun-like central-transit duration at P = 1 yr (hours), for `duration_over_expected`.
SUN_LIKE_DURATION_1YR_HOURS = 13.0
#: Affine rescaling of Tmag in the vetting shards (measured against tces.csv; see tfrecord_reader).
VETTING_TMAG_SCALE, VETTING_TMAG_OFFSET = 0.552, -10.55


def bin_offsets(n_bins: int, half_width: float) -> np.ndarray:
    """Centre offset of each of `n_bins` evenly spaced bins spanning [-half_width, half_width]."""
    edges = np.linspace(-half_width, half_width, n_bins + 1)
    return 0.5 * (edges[:-1] + edges[1:])


@contextmanager
def _quiet():
    """Silence numpy's 'All-NaN slice' / 'Mean of empty slice' warnings (such rows give NaN, as wanted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    sub = masked_rows(values, mask)
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
    scatter = robust_std_rows(v, out_mask)
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


def row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two (n, bins) arrays (b may broadcast); NaN for a flat row."""
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return _safe_div((a * b).sum(axis=1), np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)))


def lag1_autocorr(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise lag-1 autocorrelation over the bins where `mask` (1-D or 2-D) is True.

    Only pairs of adjacent bins that are both in the mask count (the in-transit gap is skipped).
    """
    x = np.where(np.broadcast_to(mask, values.shape), np.asarray(values, dtype=np.float64), np.nan)
    with _quiet():
        x = x - np.nanmean(x, axis=1, keepdims=True)
    pair = x[:, 1:] * x[:, :-1]
    return _safe_div(np.nansum(pair, axis=1), np.nansum(x * x, axis=1))


def trapezoid_templates(n_bins: int, half_width_durations: float):
    """(templates (K, n_bins), widths (K,), flat fractions (K,)): unit-depth dips (-1 at the bottom).

    Grid: `TEMPLATE_WIDTHS_DURATIONS` x `TEMPLATE_FLAT_FRACTIONS`; a trapezoid of total width w has a
    flat bottom of width f x w and linear ingress/egress (f = 0: V, f = 1: box).
    """
    off = np.abs(bin_offsets(n_bins, half_width_durations))
    temps, widths, flats = [], [], []
    for w in TEMPLATE_WIDTHS_DURATIONS:
        for f in TEMPLATE_FLAT_FRACTIONS:
            half, flat_half = w / 2.0, f * w / 2.0
            if f >= 1.0:
                t = (off <= half).astype(np.float64)
            else:
                t = np.clip((half - off) / (half - flat_half), 0.0, 1.0)
            temps.append(-t)
            widths.append(w)
            flats.append(f)
    return np.asarray(temps), np.asarray(widths), np.asarray(flats)


def template_fit_features(view: np.ndarray, scatter: np.ndarray, half_width_durations: float,
                          prefix: str) -> dict[str, np.ndarray]:
    """Least-squares fits of the trapezoid grid to each row (amplitude free, mean removed).

    S/N of a template = fitted depth x ||template|| / scatter (matched filter, white noise).
    Returns ``{prefix}_tfit_{snr,width,flat,resid,box_minus_v,amp}`` (see VIEW_FEATURE_SCHEMA).
    """
    v = np.asarray(view, dtype=np.float64)
    temps, widths, flats = trapezoid_templates(v.shape[1], half_width_durations)
    tc = temps - temps.mean(axis=1, keepdims=True)
    norm2 = (tc * tc).sum(axis=1)
    vc = v - v.mean(axis=1, keepdims=True)
    amp = (vc @ tc.T) / norm2  # depth of each template (positive for a dip)
    sig = np.where(np.isfinite(scatter) & (scatter > 0), scatter, np.nan)
    snr = amp * np.sqrt(norm2)[None, :] / sig[:, None]
    rows = np.arange(len(v))
    k = np.argmax(np.nan_to_num(snr, nan=-np.inf), axis=1)
    resid = vc - amp[rows, k][:, None] * tc[k]
    ok = np.isfinite(sig)
    box, vee = flats >= 1.0, flats <= 0.0
    out = {
        "snr": snr[rows, k], "width": widths[k], "flat": flats[k],
        "resid": np.sqrt((resid ** 2).mean(axis=1)) / sig,
        "box_minus_v": snr[:, box].max(axis=1) - snr[:, vee].max(axis=1),
        "amp": amp[rows, k],
    }
    return {f"{prefix}_tfit_{name}": np.where(ok, val, np.nan) for name, val in out.items()}


def _local_profile_features(v: np.ndarray, half_width_durations: float) -> dict[str, np.ndarray]:
    n = v.shape[1]
    off = bin_offsets(n, half_width_durations)
    ao = np.abs(off)
    out_m, core_m = local_masks(n, half_width_durations)
    sig = robust_std_rows(v, out_m)
    sig_ok = np.where(sig > 0, sig, np.nan)
    out: dict[str, np.ndarray] = {}
    for tag, w in (("0p125", 0.125), ("0p25", 0.25), ("0p375", 0.375), ("0p5", 0.5), ("0p75", 0.75), ("1p0", 1.0)):
        sel = ao <= max(w, 0.5 * 2.0 * half_width_durations / n)  # at least the centre bin
        out[f"lv_mean_within_{tag}"] = v[:, sel].mean(axis=1)
    for name, lo, hi in (("lv_mean_ring_1p0_1p5", 1.0, 1.5), ("lv_mean_ring_1p5_2p0", 1.5, 2.0)):
        sel = (ao > lo) & (ao <= hi)
        out[name] = v[:, sel].mean(axis=1) if sel.any() else np.full(len(v), np.nan)
    core = v[:, core_m]
    out["lv_symmetry_rms"] = np.sqrt(((core - core[:, ::-1]) ** 2).mean(axis=1)) / sig_ok
    out["lv_symmetry_corr"] = row_corr(core, core[:, ::-1])
    grad = np.gradient(v, axis=1)
    ing, egr = (off < -0.25) & (off > -0.75), (off > 0.25) & (off < 0.75)
    out["lv_ingress_slope"] = grad[:, ing].mean(axis=1) if ing.any() else np.full(len(v), np.nan)
    out["lv_egress_slope"] = grad[:, egr].mean(axis=1) if egr.any() else np.full(len(v), np.nan)
    for name, tmpl in (("lv_corr_box", -(ao <= 0.5).astype(np.float64)),
                       ("lv_corr_vee", -np.clip(1.0 - ao / 0.5, 0.0, None)),
                       ("lv_corr_box_wide", -(ao <= 0.75).astype(np.float64)),
                       ("lv_corr_box_narrow", -(ao <= 0.25).astype(np.float64))):
        out[name] = row_corr(v, tmpl)
    oot = v[:, out_m]
    out["lv_oot_lag1"] = lag1_autocorr(v, out_m)
    out["lv_oot_std_over_sigma"] = oot.std(axis=1) / sig_ok
    out["lv_oot_frac_above_3sigma"] = np.where(np.isfinite(sig_ok), (oot > 3.0 * sig[:, None]).mean(axis=1), np.nan)
    out["lv_oot_max"] = oot.max(axis=1)
    out["lv_oot_min"] = oot.min(axis=1)
    out["lv_repeat_frac"] = (np.diff(v, axis=1) == 0).mean(axis=1)
    out.update(template_fit_features(v, sig, half_width_durations, "lv"))
    return out


def _harmonic_fit(g: np.ndarray, out_mask: np.ndarray, harmonic: int) -> np.ndarray:
    """Per row (offset, cos, sin) least-squares amplitudes of the out-of-transit global bins."""
    n = g.shape[1]
    phase = 2.0 * np.pi * (np.arange(n) - n // 2) / n
    basis = np.stack([np.ones(n), np.cos(harmonic * phase), np.sin(harmonic * phase)], axis=1)  # (n, 3)
    w = np.broadcast_to(out_mask, g.shape).astype(np.float64)
    gram = np.einsum("rj,jk,jl->rkl", w, basis, basis)
    rhs = np.einsum("rj,jk,rj->rk", w, basis, np.nan_to_num(g))
    coef = np.full((len(g), 3), np.nan)
    ok = np.abs(np.linalg.det(gram)) > 1e-9
    if ok.any():
        coef[ok] = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
    return coef


def _global_extra_features(g: np.ndarray, out_m: np.ndarray, core_m: np.ndarray) -> dict[str, np.ndarray]:
    n_rows, n = g.shape
    base = _masked_median(g, out_m)
    d = g - base[:, None]
    sig = robust_std_rows(g, out_m)
    sig_ok = np.where(sig > 0, sig, np.nan)
    prim = -_masked_min(d, core_m)
    prim_ok = np.where(prim > 0, prim, np.nan)
    oot = np.where(out_m, d, np.nan)
    out: dict[str, np.ndarray] = {}
    with _quiet():
        out["gv_oot_lag1"] = lag1_autocorr(g, out_m)
        out["gv_oot_std_over_sigma"] = np.nanstd(oot, axis=1) / sig_ok
        out["gv_oot_min_sigma"] = -np.nanmin(oot, axis=1) / sig_ok
        out["gv_oot_max_sigma"] = np.nanmax(oot, axis=1) / sig_ok
    finite_sig = np.isfinite(sig_ok)
    out["gv_oot_n_below_3sigma"] = np.where(finite_sig, (oot < -3.0 * sig[:, None]).sum(axis=1), np.nan)
    out["gv_oot_n_above_3sigma"] = np.where(finite_sig, (oot > 3.0 * sig[:, None]).sum(axis=1), np.nan)
    edges = np.concatenate([d[:, :3], d[:, -3:]], axis=1)
    out["gv_phase_half_sigma"] = -edges.mean(axis=1) / sig_ok
    c = n // 2
    out["gv_centre_mean"] = d[:, max(c - 1, 0):c + 2].mean(axis=1)
    # 9-bin running mean of the out-of-transit bins (transit bins set to the baseline 0 first).
    smooth = uniform_filter1d(np.where(out_m, np.nan_to_num(d), 0.0), 9, axis=1, mode="wrap")
    with _quiet():
        out["gv_smooth_std_over_sigma"] = np.nanstd(np.where(out_m, smooth, np.nan), axis=1) / sig_ok
    for h in (1, 2):
        coef = _harmonic_fit(d, out_m, h)
        out[f"gv_cos{h}_sigma"] = coef[:, 1] / sig_ok
        out[f"gv_sin{h}_sigma"] = np.abs(coef[:, 2]) / sig_ok
        out[f"gv_cos{h}_amp"] = coef[:, 1]
    # Deepest out-of-transit point (secondary eclipse or another dip), raw and 3-bin smoothed (cyclic).
    smooth3 = (np.roll(d, 1, axis=1) + d + np.roll(d, -1, axis=1)) / 3.0
    for tag, arr, sig_scale in (("sec", d, 1.0), ("sec3", smooth3, np.sqrt(3.0))):
        masked = np.where(out_m, arr, np.inf)
        j = masked.argmin(axis=1)
        low = -masked[np.arange(n_rows), j]
        low = np.where(np.isfinite(low), low, np.nan)
        out[f"gv_{tag}_rel_primary"] = low / prim_ok
        out[f"gv_{tag}_sigma"] = low * sig_scale / sig_ok
        out[f"gv_{tag}_phase"] = np.where(np.isfinite(low), np.abs(j - c) / n, np.nan)
    with _quiet():
        out["gv_max_rel_primary"] = np.nanmax(oot, axis=1) / prim_ok
    out["gv_repeat_frac"] = (np.diff(g, axis=1) == 0).mean(axis=1)
    return out


def _secondary_extra_features(s: np.ndarray, local: np.ndarray | None,
                              half_width_durations: float) -> dict[str, np.ndarray]:
    n = s.shape[1]
    off = bin_offsets(n, half_width_durations)
    ao = np.abs(off)
    out_m, _ = local_masks(n, half_width_durations)
    sig = robust_std_rows(s, out_m)
    sig_ok = np.where(sig > 0, sig, np.nan)
    centre = s[:, ao <= max(0.5, half_width_durations / n)].mean(axis=1)
    out = {
        "sv_centre_sigma": -centre / sig_ok,
        "sv_centre_mean": centre,
        "sv_corr_local": row_corr(s, local) if local is not None and local.shape == s.shape
        else np.full(len(s), np.nan),
        "sv_corr_box": row_corr(s, -(ao <= 0.5).astype(np.float64)),
        "sv_min_offset_durations": ao[np.argmin(s, axis=1)],
        "sv_oot_lag1": lag1_autocorr(s, out_m),
    }
    out.update(template_fit_features(s, sig, half_width_durations, "sv"))
    return out


def derived_scalar_features(period_days=None, duration_days=None, snr=None, tmag_rescaled=None,
                            n_rows: int | None = None) -> pd.DataFrame:
    """`DERIVED_SCALAR_COLUMNS` from the allowed shard scalars (float64; NaN where an input is absent).

    Args:
        period_days, duration_days: orbital period and transit duration (days).
        snr: pipeline signal-to-noise ratio.
        tmag_rescaled: the vetting shards' affinely rescaled Tmag (None for sets without it).
        n_rows: number of rows when every input is None.
    """
    arrays = [a for a in (period_days, duration_days, snr, tmag_rescaled) if a is not None]
    n = len(arrays[0]) if arrays else int(n_rows or 0)
    nan = np.full(n, np.nan)

    def arr(x):
        return nan.copy() if x is None else np.asarray(x, dtype=np.float64)

    p, d, sn, tr = arr(period_days), arr(duration_days), arr(snr), arr(tmag_rescaled)
    pos = lambda x: np.where(x > 0, x, np.nan)  # noqa: E731
    with np.errstate(all="ignore"):
        tmag = (tr - VETTING_TMAG_OFFSET) / VETTING_TMAG_SCALE
        duty = pos(d) / pos(p)
        out = {
            "log10_period": np.log10(pos(p)),
            "log10_duration": np.log10(pos(d)),
            "duration_over_expected": pos(d) * 24.0 / (SUN_LIKE_DURATION_1YR_HOURS * np.cbrt(pos(p) / 365.25)),
            "log10_snr": np.log10(pos(sn)),
            "snr_per_transit": sn / np.sqrt(np.maximum(1.0, 27.0 / pos(p))),
            "tmag_mag": tmag,
            "log10_depth_proxy": np.log10(pos(sn)) + 0.2 * tmag - 0.5 * np.log10(np.minimum(duty, 1.0)),
        }
    frame = pd.DataFrame({k: np.where(np.isfinite(v), v, np.nan) for k, v in out.items()},
                         columns=DERIVED_SCALAR_COLUMNS)
    return frame.astype("float64")


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
        out.update(_local_profile_features(present["local"], local_half_width_durations))
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
        out.update(_global_extra_features(g, out_m, core_m))
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
        out.update(_secondary_extra_features(s, present.get("local"), local_half_width_durations))

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
