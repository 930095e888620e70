"""Observing baselines: cadence grids, data gaps and spacecraft quality flags per mission.

Everything here is the same for every star of a segment (as on the real spacecraft): times are
regular grids at the mission cadence, gaps are cadences whose PDCSAP flux is NaN, and momentum dumps
or thruster firings are flagged at fixed intervals. Times are days in mission time (BKJD for
Kepler/K2, BTJD for TESS); the time column itself is never NaN here.

Quality bits used (lightkurve's `KeplerQualityFlags` / `TessQualityFlags` names):
- Kepler/K2: 32 desaturation (momentum dump), 32768 no fine point, 65536 no data (downlink gaps),
  1048576 thruster firing (K2 roll correction, every ~6 h).
- TESS: 8 Earth point + 128 manual exclude (mid-sector downlink, as SPOC writes it), 32 + 128
  momentum dump, 128 manual exclude (scattered light after each orbit start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exo_assets.science.missions import mission_info

#: Approximate BKJD start/end of the Kepler long-cadence quarters (Q1 is the short first quarter).
KEPLER_QUARTERS: dict[int, tuple[float, float]] = {
    1: (131.51, 164.98),
    2: (169.76, 258.47),
    3: (260.23, 349.49),
    4: (352.38, 442.20),
    5: (443.49, 538.16),
    6: (539.46, 629.30),
    7: (630.18, 719.55),
    8: (735.36, 802.34),
    9: (808.52, 905.93),
    10: (906.85, 1000.27),
    11: (1001.21, 1098.32),
    12: (1099.42, 1182.02),
    13: (1182.76, 1273.06),
    14: (1274.15, 1371.33),
    15: (1373.48, 1471.14),
    16: (1472.12, 1558.01),
    17: (1559.23, 1591.00),
}
FIRST_KEPLER_QUARTER = 2  # Q1 is short and atypical: simulations start at Q2
KEPLER_DOWNLINK_DAYS = 1.0  # monthly data downlink, two per quarter
KEPLER_DESAT_DAYS = 3.0  # reaction-wheel momentum dumps

K2_CAMPAIGN = 5  # all simulated K2 stars get one C5-like campaign
K2_START_BKJD = 2304.5
K2_DOWNLINK_DAYS = 0.6  # one mid-campaign downlink
K2_DESAT_DAYS = 2.0
K2_THRUSTER_DAYS = 0.2452  # roll-correction thruster firing every ~5.9 h

TESS_S1_START_BTJD = 1325.30
TESS_SECTOR_STEP_DAYS = 27.4
TESS_SECTOR_SPAN_DAYS = 26.9
TESS_GAP_START_DAYS, TESS_GAP_END_DAYS = 13.2, 14.3  # mid-sector downlink, from the sector start
TESS_DESAT_DAYS = 3.125
TESS_DESAT_CADENCES = 5  # ~10 minutes of 2-min data flagged and NaN around each dump
TESS_SCATTERED_DAYS = 0.3  # manual-exclude after each orbit start

Q_ATTITUDE_TWEAK = 1
Q_EARTH_POINT = 8
Q_DESAT = 32
Q_TESS_MANUAL_EXCLUDE = 128
Q_KEPLER_COSMIC_RAY = 128
Q_TESS_COSMIC_RAY = 64
Q_KEPLER_IMPULSIVE = 2048
Q_TESS_IMPULSIVE = 512
Q_KEPLER_NO_FINE_POINT = 32768
Q_KEPLER_NO_DATA = 65536
Q_K2_THRUSTER = 1048576


@dataclass
class SegmentGrid:
    """The cadences of one quarter / campaign / sector before any star is simulated.

    Attributes:
        number: quarter, campaign or sector number.
        time: float64 days (BKJD/BTJD), regular at the mission cadence.
        quality: int32 spacecraft quality flags.
        nan_flux: bool, cadences whose flux the pipeline writes as NaN (gaps, dumps).
        restarts: times (days) where data resume: segment start and the end of each gap.
        desat_times: times (days) of momentum dumps.
    """

    number: int
    time: np.ndarray
    quality: np.ndarray
    nan_flux: np.ndarray
    restarts: list[float] = field(default_factory=list)
    desat_times: list[float] = field(default_factory=list)


def _grid(start: float, end: float, cadence: float) -> np.ndarray:
    n = int(np.floor((end - start) / cadence)) + 1
    return start + cadence * np.arange(n, dtype=np.float64)


def _flag_gap(seg: SegmentGrid, t0: float, t1: float, bits: int) -> None:
    m = (seg.time >= t0) & (seg.time < t1)
    seg.quality[m] |= bits
    seg.nan_flux[m] = True
    seg.restarts.append(float(t1))


def _flag_periodic(
    seg: SegmentGrid,
    first: float,
    step: float,
    bits: int,
    n_cad: int,
    nan: bool,
    cadence: float,
    record_desat: bool = True,
    jitter: float = 0.15,
) -> None:
    """Flag events every `step` days (+- jitter x step, fixed per segment: the same for every star)."""
    times = np.arange(seg.time[0] + first, seg.time[-1], step)
    wobble = np.random.default_rng([seg.number, int(step * 1e4), bits]).uniform(-jitter, jitter, times.size)
    times = times + wobble * step
    times = times[(times >= seg.time[0]) & (times <= seg.time[-1])]
    for t in times:
        i = int(round((t - seg.time[0]) / cadence))
        sl = slice(max(i, 0), min(i + n_cad, seg.time.size))
        seg.quality[sl] |= bits
        if nan:
            seg.nan_flux[sl] = True
    if record_desat:
        seg.desat_times.extend(float(t) for t in times)


def _new(number: int, time: np.ndarray) -> SegmentGrid:
    return SegmentGrid(
        number, time, np.zeros(time.size, np.int32), np.zeros(time.size, bool), [float(time[0])], []
    )


def kepler_segments(n_quarters: int) -> list[SegmentGrid]:
    """Kepler long-cadence quarters Q2, Q3, ... (at most Q17), each with its two monthly downlinks."""
    cad = mission_info("Kepler").cadence_days
    last = min(FIRST_KEPLER_QUARTER + max(int(n_quarters), 1) - 1, max(KEPLER_QUARTERS))
    out = []
    for q in range(FIRST_KEPLER_QUARTER, last + 1):
        start, end = KEPLER_QUARTERS[q]
        seg = _new(q, _grid(start, end, cad))
        length = end - start
        for frac in (1.0 / 3.0, 2.0 / 3.0):
            g0 = start + frac * length
            _flag_gap(seg, g0, g0 + KEPLER_DOWNLINK_DAYS, Q_KEPLER_NO_DATA)
        _flag_periodic(seg, 1.5, KEPLER_DESAT_DAYS, Q_DESAT | Q_KEPLER_NO_FINE_POINT, 1, True, cad)
        out.append(seg)
    return out


def k2_segments(campaign_days: float) -> list[SegmentGrid]:
    """One K2 campaign (C5-like times) with a mid-campaign downlink, dumps and 6-hourly thruster firings."""
    cad = mission_info("K2").cadence_days
    start = K2_START_BKJD
    end = start + max(float(campaign_days), 2.0)
    seg = _new(K2_CAMPAIGN, _grid(start, end, cad))
    mid = start + 0.5 * (end - start)
    _flag_gap(seg, mid, mid + K2_DOWNLINK_DAYS, Q_KEPLER_NO_DATA)
    _flag_periodic(seg, 1.0, K2_DESAT_DAYS, Q_DESAT | Q_KEPLER_NO_FINE_POINT, 1, True, cad)
    _flag_periodic(seg, 0.1, K2_THRUSTER_DAYS, Q_K2_THRUSTER, 1, False, cad, record_desat=False, jitter=0.0)
    return [seg]


def tess_segments(n_sectors: int) -> list[SegmentGrid]:
    """TESS 2-min sectors 1..n, each with the ~1.1-day mid-sector downlink gap, dumps, scattered light."""
    cad = mission_info("TESS").cadence_days
    out = []
    for s in range(1, max(int(n_sectors), 1) + 1):
        start = TESS_S1_START_BTJD + TESS_SECTOR_STEP_DAYS * (s - 1)
        seg = _new(s, _grid(start, start + TESS_SECTOR_SPAN_DAYS, cad))
        g0, g1 = start + TESS_GAP_START_DAYS, start + TESS_GAP_END_DAYS
        _flag_gap(seg, g0, g1, Q_EARTH_POINT | Q_TESS_MANUAL_EXCLUDE)
        for orbit_start in (start, g1):
            m = (seg.time >= orbit_start) & (seg.time < orbit_start + TESS_SCATTERED_DAYS)
            seg.quality[m] |= Q_TESS_MANUAL_EXCLUDE
            seg.nan_flux[m] = True
        _flag_periodic(
            seg, 1.0, TESS_DESAT_DAYS, Q_DESAT | Q_TESS_MANUAL_EXCLUDE, TESS_DESAT_CADENCES, True, cad
        )
        seg.restarts = [start, start + TESS_SCATTERED_DAYS, g1 + TESS_SCATTERED_DAYS]
        out.append(seg)
    return out


def mission_segments(
    mission: str, kepler_quarters: int, k2_campaign_days: float, tess_sectors: int
) -> list[SegmentGrid]:
    """The segments simulated for a mission, in time order."""
    if mission == "Kepler":
        return kepler_segments(kepler_quarters)
    if mission == "K2":
        return k2_segments(k2_campaign_days)
    if mission == "TESS":
        return tess_segments(tess_sectors)
    mission_info(mission)  # raises the standard error
    raise ValueError(mission)
