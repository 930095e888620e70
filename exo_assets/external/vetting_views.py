"""Views in the Astronet-Vetting shards' format (Yu et al. 2019) from a cleaned TESS light curve.

A pure function of (time, detrended relative flux, period, epoch, duration), so that a curve uploaded
to the API can be given to the model trained on the vetting shards. The format (Yu et al. 2019, AJ
158:25, section 3; their `astronet/data/preprocess.py`; AstroNet's median filter):

* global view: 201 bins over phase [-P/2, P/2), each bin 1.2 P / 201 wide (neighbours overlap);
* local view: 61 bins over [max(-P/2, -2 D), min(P/2, 2 D)), each 0.16 D wide;
* secondary view: 61 bins, 0.16 D wide, over +-4 D around the most likely secondary eclipse -- the
  phase (outside +-D of the primary, or +-D/2 when P < 1 d or D > P/2, and outside +-0.1 P) where a
  box of width D centred there has the largest deficit of flux (the box search of `find_secondary`);
* each bin is the median flux of its points (`exo_assets.science.views.bin_median`; empty bins are
  interpolated, where AstroNet used the whole-curve median); each view is then normalised on its own:
  median subtracted, divided by |minimum| (median 0, minimum -1; a dip is negative).

Units: time, period, epoch and duration in days (BTJD), flux relative (1 = out of transit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exo_assets.science.views import bin_median, phase_fold

GLOBAL_BINS, LOCAL_BINS, SECONDARY_BINS = 201, 61, 61
GLOBAL_BIN_WIDTH_PERIODS = 1.2 / 201
LOCAL_BIN_WIDTH_DURATIONS = 0.16
LOCAL_HALF_WIDTH_DURATIONS = 2.0
SECONDARY_HALF_WIDTH_DURATIONS = 4.0
#: The secondary is searched outside this fraction of the period around the primary.
SECONDARY_PHASE_LIMIT = 0.1


@dataclass(frozen=True)
class VettingViews:
    """The three views (float64) and the secondary's phase (days after the primary, in [0, P))."""

    global_view: np.ndarray
    local_view: np.ndarray
    secondary_view: np.ndarray
    secondary_phase_days: float

    def as_dict(self) -> dict[str, np.ndarray]:
        """{"global", "local", "secondary"}: the project's channel names (as the reader's)."""
        return {"global": self.global_view, "local": self.local_view, "secondary": self.secondary_view}


def normalise_view(view: np.ndarray) -> np.ndarray:
    """Median 0, minimum -1 (Yu et al.): (v - median) / |min(v - median)|.

    Raises:
        ValueError: a flat view (minimum equals the median) or a non-finite one.
    """
    v = np.asarray(view, dtype=np.float64) - np.median(view)
    low = np.min(v)
    if not np.isfinite(low) or low == 0:
        raise ValueError("view is flat or not finite; cannot normalise")
    return v / abs(low)


def secondary_search_points(phase, flux, period: float, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(phase in [0, P), flux) of the points outside the masked primary (see `find_secondary`)."""
    width = 1.0 if (period < 1.0 or duration > period / 2) else 2.0
    keep = (np.abs(phase) > duration * width / 2) & (np.abs(phase) > period * SECONDARY_PHASE_LIMIT)
    t = phase[keep]
    return np.where(t < 0, t + period, t), flux[keep]


def find_secondary(phase: np.ndarray, flux: np.ndarray, period: float, duration: float) -> float:
    """Phase (days in [0, P)) of the strongest box-shaped deficit of width `duration` away from the primary.

    Primary masked over |phase| <= mask_width D / 2 (mask_width 2; 1 when P < 1 d or D > P / 2) and
    |phase| <= 0.1 P. The statistic of a box holding a fraction r of the points with summed
    mean-subtracted flux s (over all points' count) is -s |s| / (r (1 - r)); grid step 0.1 D.
    Returns P / 2 when no box has a deficit.
    """
    t, f = secondary_search_points(phase, flux, period, duration)
    if t.size < 5:
        return period / 2
    order = np.argsort(t)
    t, f = t[order], f[order] - np.mean(f)
    grid = np.arange(t[0] + duration, t[-1] - duration, duration * 0.1)
    if grid.size == 0:
        return period / 2
    csum = np.concatenate([[0.0], np.cumsum(f)])
    n = t.size
    lo_in, hi_in = np.searchsorted(t, grid - duration / 2), np.searchsorted(t, grid + duration / 2)
    lo_out, hi_out = np.searchsorted(t, grid - duration), np.searchsorted(t, grid + duration)
    r = (hi_in - lo_in + 1) / n
    s = (csum[hi_in] - csum[lo_in]) / n
    with np.errstate(all="ignore"):
        stat = np.where((hi_out - lo_out) >= 5, -s * np.abs(s) / (r * (1 - r)), -np.inf)
    best = int(np.argmax(stat))
    return float(grid[best]) if stat[best] > 0 else period / 2


def resample_cadence(time, flux, cadence_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean flux in consecutive `cadence_days` bins of time (empty bins dropped): emulates the
    30-minute full-frame-image cadence of the QLP curves the vetting shards were made from."""
    time, flux = np.asarray(time, dtype=np.float64), np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(flux)
    time, flux = time[ok], flux[ok]
    if not (np.isfinite(cadence_days) and cadence_days > 0):
        raise ValueError(f"cadence_days must be positive, got {cadence_days!r}")
    idx = np.floor((time - time.min()) / cadence_days).astype(np.int64)
    counts = np.bincount(idx)
    full = counts > 0
    return (np.bincount(idx, time)[full] / counts[full], np.bincount(idx, flux)[full] / counts[full])


#: QLP full-frame-image cadence of sectors 1-5 (days): the curves of the vetting shards.
QLP_CADENCE_DAYS = 30.0 / 1440.0


def vetting_views(time, flux, period: float, epoch: float, duration: float,
                  cadence_days: float | None = QLP_CADENCE_DAYS) -> VettingViews:
    """The global (201), local (61) and secondary (61) views of one signal in the vetting shards' format.

    Args:
        time: days (BTJD), any order; flux: detrended relative flux (NaN allowed, ignored).
        period, epoch, duration: days (epoch: a mid-transit time in the same system as `time`).
        cadence_days: resample to this cadence first (`resample_cadence`; default the 30-min QLP
            cadence of the shards, which smears short transits); None keeps the curve's own cadence.
    Raises:
        ValueError: non-positive period or duration, or too few points for a view.
    """
    if not (np.isfinite(period) and period > 0 and np.isfinite(duration) and duration > 0):
        raise ValueError(f"period and duration must be positive, got {period!r}, {duration!r}")
    time, flux = np.asarray(time, dtype=np.float64), np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(flux)
    time, flux = time[ok], flux[ok]
    if cadence_days is not None:
        time, flux = resample_cadence(time, flux, cadence_days)
    phase = phase_fold(time, period, epoch)
    g, _ = bin_median(phase, flux, -period / 2, period / 2, GLOBAL_BINS, period * GLOBAL_BIN_WIDTH_PERIODS)
    half = LOCAL_HALF_WIDTH_DURATIONS * duration
    lo, hi = max(-period / 2, -half), min(period / 2, half)
    loc, _ = bin_median(phase, flux, lo, hi, LOCAL_BINS, min(LOCAL_BIN_WIDTH_DURATIONS * duration, hi - lo))
    t_sec = find_secondary(phase, flux, period, duration)
    t_s, f_s = secondary_search_points(phase, flux, period, duration)
    if t_s.size < 5:
        raise ValueError("too few points outside the primary for a secondary view")
    half_s = SECONDARY_HALF_WIDTH_DURATIONS * duration
    lo_s = max(t_sec - period / 2, t_sec - half_s, float(t_s.min()))
    hi_s = min(t_sec + period / 2, t_sec + half_s, float(t_s.max()))
    width_s = LOCAL_BIN_WIDTH_DURATIONS * duration
    if width_s >= hi_s - lo_s:
        width_s = (hi_s - lo_s) / 40
    sec, _ = bin_median(t_s, f_s, lo_s, hi_s, SECONDARY_BINS, width_s)
    return VettingViews(normalise_view(g), normalise_view(loc), normalise_view(sec), t_sec)
