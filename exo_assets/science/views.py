"""Phase-folded, binned views of a transit signal, after AstroNet (Shallue & Vanderburg 2018).

Pure functions on arrays, in the spirit of AstroNet's ``light_curve_util``:

- `phase_fold`: time (days) -> phase (days from mid-transit) in [-P/2, P/2).
- `bin_median`: AstroNet's ``median_filter``: median of y in ``num_bins`` bins of width
  ``bin_width`` centred at evenly spaced points (bins may overlap); empty bins are interpolated.
- `global_view`, `local_view`, `odd_even_local_views`, `secondary_view`: raw binned relative flux.
- `make_views`: all five views, normalised with one common scale (see below), as float32.

Normalisation convention (`make_views`)
---------------------------------------
AstroNet sets the out-of-transit median to 0 and the transit minimum to -1. Here every view
subtracts its *own* out-of-transit baseline (median of its bins at |phase| >= 1 duration, i.e.
more than half a duration outside the nominal T14 window; for the secondary view the phase is
measured from phase 0.5), and *all* views are divided by the *same* scale: the depth of the
local view, ``depth_scale = baseline_local - min(local bins within 1 duration of the centre)``.
The local view therefore reaches exactly -1, and odd/even/secondary/global keep their depth
relative to it (an eclipsing binary's secondary appears as a dip shallower than -1, unequal
odd/even depths stay unequal). ``Views.depth_scale`` keeps the raw depth (relative flux) so the
booster still sees the absolute depth.

Guard for flat, inverted and noise-only curves: the scale is ``max(depth, 3 x scatter)`` where
scatter is the robust sigma (1.4826 x MAD) of the local view's out-of-transit bins (1e-6 if both
are zero). A depth below 3 sigma is indistinguishable from the noise minimum (a noise-only view's
lowest bin sits ~2-2.5 sigma low), and dividing by it would blow the noise up; with the floor the
views change continuously from "transit at -1" to "noise at +-1/3". ``Views.scale_kind`` records
which term won ("depth" or "scatter").

Units: time, period, epoch t0 and duration are days in the mission's time system (BKJD/BTJD);
flux is relative (out-of-transit level ~1.0); phases in days.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exo_assets.science.stats import robust_std

#: The normalisation scale is never below this many robust sigmas of the local view's
#: out-of-transit bins (a noise-only curve's minimum bin sits ~2-2.5 sigma low).
NOISE_FLOOR_SIGMA = 3.0

#: Bins whose centre lies at least this many durations from the eclipse centre are out of transit.
OUT_OF_TRANSIT_DURATIONS = 1.0


def phase_fold(time: np.ndarray, period: float, t0: float) -> np.ndarray:
    """Phase of each time relative to mid-transit, in days, in [-period/2, period/2).

    Args:
        time: days (BKJD/BTJD).
        period: orbital period, days (> 0).
        t0: a mid-transit time, days, same system as `time`.
    """
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be finite and positive, got {period!r}")
    half = 0.5 * period
    return np.mod(np.asarray(time, dtype=np.float64) - t0 + half, period) - half


def transit_number(time: np.ndarray, period: float, t0: float) -> np.ndarray:
    """Integer transit (epoch) number of each time: round((time - t0) / period)."""
    return np.rint((np.asarray(time, dtype=np.float64) - t0) / period).astype(np.int64)


def bin_centres(x_min: float, x_max: float, num_bins: int, bin_width: float) -> np.ndarray:
    """Centres of `bin_median`'s bins (same units as x)."""
    spacing = (x_max - x_min - bin_width) / (num_bins - 1)
    return x_min + 0.5 * bin_width + spacing * np.arange(num_bins)


def bin_median(x: np.ndarray, y: np.ndarray, x_min: float, x_max: float, num_bins: int,
               bin_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Median of y in evenly spaced, possibly overlapping bins of x (AstroNet ``median_filter``).

    Bin i covers ``[x_min + i*s, x_min + i*s + bin_width)`` with spacing
    ``s = (x_max - x_min - bin_width) / (num_bins - 1)``, so the first bin starts at x_min and the
    last ends at x_max. Points outside [x_min, x_max) or non-finite are ignored. Empty bins are
    filled by linear interpolation between the nearest non-empty bin centres (constant beyond the
    outermost non-empty bins); a bin with a single point takes that point's value.

    Vectorised: every (point, bin) membership is listed once (one entry per point when bins do not
    overlap), then a single sort on ``bin index + scaled y`` orders each bin's values.

    Args:
        x: abscissa (e.g. phase in days), any order.
        y: values (e.g. relative flux).
        x_min, x_max: range covered by the bins (x units).
        num_bins: number of bins (>= 2).
        bin_width: width of each bin (x units); default (x_max - x_min) / num_bins.

    Returns:
        (values, counts): float64 medians (interpolated where counts == 0) and int64 number of
        points per bin.

    Raises:
        ValueError: bad arguments, or no finite point falls in any bin.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D arrays of equal length, got {x.shape} and {y.shape}")
    num_bins = int(num_bins)
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    if not (np.isfinite(x_min) and np.isfinite(x_max) and x_max > x_min):
        raise ValueError(f"need finite x_min < x_max, got {x_min!r}, {x_max!r}")
    span = x_max - x_min
    if bin_width is None:
        bin_width = span / num_bins
    if not (np.isfinite(bin_width) and 0 < bin_width <= span):
        raise ValueError(f"bin_width must be in (0, x_max - x_min], got {bin_width!r}")
    spacing = (span - bin_width) / (num_bins - 1)

    keep = np.isfinite(x) & np.isfinite(y) & (x >= x_min) & (x < x_max)
    u = x[keep] - x_min
    yk = y[keep]
    if spacing > 0:
        i_hi = np.minimum(np.floor(u / spacing).astype(np.int64), num_bins - 1)
        i_lo = np.maximum(np.floor((u - bin_width) / spacing).astype(np.int64) + 1, 0)
    else:  # every bin spans the whole range
        i_hi = np.full(u.size, num_bins - 1, dtype=np.int64)
        i_lo = np.zeros(u.size, dtype=np.int64)
    n_member = np.maximum(i_hi - i_lo + 1, 0)
    if n_member.sum() == 0:
        raise ValueError(f"all {num_bins} bins are empty: no finite point in [{x_min}, {x_max})")

    if np.all(n_member == 1):
        bin_id, yv = i_lo, yk
    else:  # overlapping bins: one entry per (point, bin) membership
        point = np.repeat(np.arange(u.size), n_member)
        first = np.cumsum(n_member) - n_member
        bin_id = i_lo[point] + (np.arange(point.size) - first[point])
        yv = yk[point]

    # One sort orders by bin, then by value within a bin (y scaled into [0, 0.5]).
    y_lo, y_hi = yv.min(), yv.max()
    scale = 0.5 / (y_hi - y_lo) if y_hi > y_lo else 0.0
    order = np.argsort(bin_id + (yv - y_lo) * scale)
    sorted_y = yv[order]
    counts = np.bincount(bin_id, minlength=num_bins).astype(np.int64)
    start = np.cumsum(counts) - counts
    values = np.full(num_bins, np.nan)
    full = counts > 0
    lo = start[full] + (counts[full] - 1) // 2
    hi = start[full] + counts[full] // 2
    values[full] = 0.5 * (sorted_y[lo] + sorted_y[hi])
    if not full.all():
        centres = bin_centres(x_min, x_max, num_bins, bin_width)
        values[~full] = np.interp(centres[~full], centres[full], values[full])
    return values, counts


@dataclass(frozen=True)
class ViewConfig:
    """Sizes of the views.

    Attributes:
        global_bins: bins of the global view (whole orbit, AstroNet 2001).
        local_bins: bins of the local, odd, even and secondary views (AstroNet 201).
        local_half_width_durations: the local view spans +- this many transit durations
            (capped at half a period).
        local_bin_width_factor: local bin width as a fraction of the transit duration.
        global_bin_width_factor: global bin width as a multiple of period / global_bins.
    """

    global_bins: int = 2001
    local_bins: int = 201
    local_half_width_durations: float = 4.0
    local_bin_width_factor: float = 0.16
    global_bin_width_factor: float = 1.0

    def local_half_width(self, period: float, duration: float) -> float:
        """Half width of the local view, days."""
        return min(self.local_half_width_durations * duration, 0.5 * period)


def _check_signal(period: float, duration: float) -> None:
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be finite and positive, got {period!r}")
    if not (np.isfinite(duration) and 0 < duration < period):
        raise ValueError(f"duration must be finite, positive and shorter than the period, got {duration!r}")


def global_view(time: np.ndarray, flux: np.ndarray, period: float, t0: float,
                config: ViewConfig = ViewConfig()) -> np.ndarray:
    """Median-binned relative flux over the whole orbit, phase -P/2 .. P/2 (transit at the centre).

    Returns float64 array of `config.global_bins` values (un-normalised relative flux).
    """
    phase = phase_fold(time, period, t0)
    width = config.global_bin_width_factor * period / config.global_bins
    width = min(width, period)
    return bin_median(phase, flux, -0.5 * period, 0.5 * period, config.global_bins, width)[0]


def _local(phase: np.ndarray, flux: np.ndarray, period: float, duration: float,
           config: ViewConfig) -> np.ndarray:
    half = config.local_half_width(period, duration)
    width = min(config.local_bin_width_factor * duration, 2 * half)
    near = np.abs(phase) < half
    return bin_median(phase[near], flux[near], -half, half, config.local_bins, width)[0]


def local_view(time: np.ndarray, flux: np.ndarray, period: float, t0: float, duration: float,
               config: ViewConfig = ViewConfig()) -> np.ndarray:
    """Median-binned relative flux within +- local_half_width_durations x duration of the transit.

    Args:
        duration: transit duration T14, days.
    Returns float64 array of `config.local_bins` values (un-normalised), transit at the centre.
    """
    _check_signal(period, duration)
    return _local(phase_fold(time, period, t0), np.asarray(flux, float), period, duration, config)


def odd_even_local_views(time: np.ndarray, flux: np.ndarray, period: float, t0: float, duration: float,
                         config: ViewConfig = ViewConfig()) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Local views of the odd-numbered and of the even-numbered transits.

    The transit number is round((time - t0) / period); the transit at t0 is number 0 (even).
    A parity without any point inside the local window gives None.
    """
    _check_signal(period, duration)
    flux = np.asarray(flux, float)
    phase = phase_fold(time, period, t0)
    odd = (transit_number(time, period, t0) % 2) == 1
    out = []
    for sel in (odd, ~odd):
        try:
            out.append(_local(phase[sel], flux[sel], period, duration, config))
        except ValueError:
            out.append(None)
    return out[0], out[1]


def secondary_view(time: np.ndarray, flux: np.ndarray, period: float, t0: float, duration: float,
                   config: ViewConfig = ViewConfig()) -> np.ndarray:
    """Local view centred at phase 0.5 (where a circular-orbit secondary eclipse would be)."""
    _check_signal(period, duration)
    phase = phase_fold(time, period, t0 + 0.5 * period)
    return _local(phase, np.asarray(flux, float), period, duration, config)


@dataclass
class Views:
    """The five normalised views of one signal (float32), see the module docstring.

    Attributes:
        global_: global view (`ViewConfig.global_bins`), whole orbit.
        local: local view (`ViewConfig.local_bins`), transit at the centre, minimum -1.
        odd, even: local views of odd / even transits (copy of `local` where a parity has no data).
        secondary: local-size view centred at phase 0.5.
        depth_scale: the raw scale the views were divided by (relative flux): the local-view depth
            when `scale_kind == "depth"`, 3 x the local-view out-of-transit bin scatter when "scatter".
        scale_kind: "depth" or "scatter".
        missing: names of views that had no data and were filled (e.g. ("odd",)).
    """

    global_: np.ndarray
    local: np.ndarray
    odd: np.ndarray
    even: np.ndarray
    secondary: np.ndarray
    depth_scale: float
    scale_kind: str = "depth"
    missing: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, np.ndarray]:
        """{"global", "local", "odd", "even", "secondary"} -> array."""
        return {"global": self.global_, "local": self.local, "odd": self.odd, "even": self.even,
                "secondary": self.secondary}


def _baseline(view: np.ndarray, centres: np.ndarray, duration: float) -> float:
    out = np.abs(centres) >= OUT_OF_TRANSIT_DURATIONS * duration
    if out.sum() < 3:  # local window narrower than the out-of-transit margin (very short period)
        return float("nan")
    return float(np.median(view[out]))


def make_views(time: np.ndarray, flux: np.ndarray, period: float, t0: float, duration: float,
               config: ViewConfig = ViewConfig(), other_signals=()) -> Views:
    """Global, local, odd, even and secondary views, normalised with the local view's depth.

    Args:
        time: days (BKJD/BTJD); flux: detrended relative flux (~1.0 out of transit);
        period, t0, duration: ephemeris (days).
        config: view sizes.
        other_signals: (period, epoch, duration) of the star's other known signals (days); their
            transits (+-0.75 duration) are dropped first (empty bins are interpolated).
    Raises:
        ValueError: invalid ephemeris, or no point at all near the transit.
    """
    _check_signal(period, duration)
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(flux)
    others = [tuple(map(float, o)) for o in other_signals]
    if others:
        from exo_assets.science.cleaning import transit_mask

        ok &= ~transit_mask(time, others, 1.5)
    time, flux = time[ok], flux[ok]

    phase = phase_fold(time, period, t0)
    glob = bin_median(phase, flux, -0.5 * period, 0.5 * period, config.global_bins,
                      min(config.global_bin_width_factor * period / config.global_bins, period))[0]
    local = _local(phase, flux, period, duration, config)
    odd_sel = (transit_number(time, period, t0) % 2) == 1
    parity = []
    missing = []
    for name, sel in (("odd", odd_sel), ("even", ~odd_sel)):
        try:
            parity.append(_local(phase[sel], flux[sel], period, duration, config))
        except ValueError:
            parity.append(local.copy())
            missing.append(name)
    try:
        secondary = _local(phase_fold(time, period, t0 + 0.5 * period), flux, period, duration, config)
    except ValueError:
        secondary = np.full(config.local_bins, np.nan)
        missing.append("secondary")

    half = config.local_half_width(period, duration)
    lwidth = min(config.local_bin_width_factor * duration, 2 * half)
    lc = bin_centres(-half, half, config.local_bins, lwidth)
    gc = bin_centres(-0.5 * period, 0.5 * period, config.global_bins,
                     min(config.global_bin_width_factor * period / config.global_bins, period))
    g_base = _baseline(glob, gc, duration)
    if not np.isfinite(g_base):
        g_base = float(np.median(glob))
    l_base = _baseline(local, lc, duration)
    if not np.isfinite(l_base):
        l_base = g_base

    def base(view):
        b = _baseline(view, lc, duration)
        return b if np.isfinite(b) else l_base

    core = np.abs(lc) <= OUT_OF_TRANSIT_DURATIONS * duration
    depth = l_base - float(np.min(local[core]))
    out = local[~core] if (~core).sum() >= 3 else local
    scatter = robust_std(out)
    floor = NOISE_FLOOR_SIGMA * scatter
    if np.isfinite(depth) and depth >= floor and depth > 0:
        scale, kind = depth, "depth"
    else:
        scale, kind = (floor if floor > 0 else 1e-6), "scatter"

    if "secondary" in missing:
        secondary = np.zeros(config.local_bins)
        sec_base = 0.0
    else:
        sec_base = base(secondary)

    def norm(view, b):
        return ((view - b) / scale).astype(np.float32)

    return Views(
        global_=norm(glob, g_base),
        local=norm(local, l_base),
        odd=norm(parity[0], base(parity[0])),
        even=norm(parity[1], base(parity[1])),
        secondary=norm(secondary, sec_base),
        depth_scale=float(scale),
        scale_kind=kind,
        missing=tuple(missing),
    )
