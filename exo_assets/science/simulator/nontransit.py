"""Not-transit-like false positives that survive detrending, as the mission pipelines' detections did.

A catalog "not transit-like" signal (Kepler flag nt) was *detected* by the mission pipeline after its
own detrending, with the catalog depth (ppm) and duration T14 (days). A simulated one must survive
this project's detrending the same way (a time-windowed biweight, window 3 T14 clipped to
0.5-3 d, with the catalog events masked over 1.5 T14; `exo_assets.science.cleaning`), else the
pipeline measures ~nothing where the catalog says a dip was found, a giveaway real data never has.
Every injector therefore scales its amplitude so that the dip left after detrending is the
catalog depth (`detrended_fraction`, a window-mean proxy of the biweight), capped at a plausible
raw amplitude.

Mechanisms (truth["mechanism"] / truth["variant"]):
- "variability": "sinusoidal" (pulsation / rotation, one harmonic), "spot" (quasi-periodic spot
  modulation with a second harmonic) or "ellipsoidal" (cos 2 phi with unequal minima) at the
  catalog period, minimum at the epoch; chosen only where at least 15 % of the raw amplitude
  survives the detrending (short periods; otherwise a systematic is injected).
- "systematic": at every catalog event, "momentum_dump" (a flagged reaction-wheel desaturation,
  bit 32, followed by a pointing excursion: sharp drop, exponential recovery over ~T14/3),
  "scattered_light" (a smooth asymmetric dip: slow onset, faster decay, TESS-like) or
  "sensitivity_drop" (a sudden drop that recovers linearly within ~T14).
- "single_event": one event only, "transit_like" (a transit-shaped dip) or "spsd" (a sudden
  pixel sensitivity dropout: step down, exponential recovery over 0.5-1.5 T14, up to 30 % of it
  slower), with depth = catalog depth x the number of events with data (capped), so the folded
  depth is the catalog's.
- "contact" eclipsing binaries (`contact_binary_delta`, used by the EB injector for sub-day
  periods): continuous W UMa-like variation with two unequal minima per orbit.
"""

from __future__ import annotations

import numpy as np

from exo_assets.science.simulator import transit_models as tm

#: Detrending the catalog detection is assumed to have survived (this project's defaults, days).
WINDOW_FACTOR, MIN_WINDOW, MAX_WINDOW, MASK_FACTOR = 3.0, 0.5, 3.0, 1.5
#: Largest raw semi-amplitude (relative flux) of injected variability.
MAX_VARIABILITY_AMPLITUDE = 0.05
MIN_SURVIVAL = 0.15
SINGLE_EVENT_MAX_DEPTH = 0.3
SYSTEMATIC_VARIANTS = ("momentum_dump", "scattered_light", "sensitivity_drop")


def detrend_window(duration: float) -> float:
    """Biweight window (days) used for a signal of total duration `duration` (days)."""
    return float(np.clip(WINDOW_FACTOR * duration, MIN_WINDOW, MAX_WINDOW))


def detrended_fraction(shape, period: float, duration: float, n: int = 4001) -> float:
    """Fraction of a periodic shape's central dip left after the window-mean proxy of the detrending.

    `shape(phase)` gives relative flux (<= 0 at phase 0) for phase in cycles (-0.5..0.5). The trend at
    the event is the mean over the window |dt| < W/2 without the masked |dt| < MASK_FACTOR T14 / 2;
    the dip left is the in-transit mean (|dt| < T14 / 4) minus that trend, over the raw in-transit dip.
    """
    w = detrend_window(duration)
    dt = np.linspace(-0.5 * w, 0.5 * w, n)
    f = shape(dt / period)
    trend = f[np.abs(dt) >= 0.5 * MASK_FACTOR * duration].mean()
    core = np.abs(dt) < 0.25 * duration
    raw = -f[core].mean()
    return float(max(trend - f[core].mean(), 0.0) / raw) if raw > 0 else 0.0


def variability_shape(variant: str, h: float, ratio: float):
    """Unit-amplitude periodic shape (minimum -1 at phase 0) of a variability variant."""
    if variant == "sinusoidal":
        return lambda ph: -np.cos(2 * np.pi * ph)
    if variant == "spot":
        return lambda ph: -(np.cos(2 * np.pi * ph) + h * np.cos(4 * np.pi * ph)) / (1 + h)
    # ellipsoidal: two minima per catalog period-cycle pair; the catalog event is the deeper one
    return lambda ph: -(np.cos(4 * np.pi * ph) + (1 - ratio) * np.cos(2 * np.pi * ph)) / (2 - ratio)


def variability_delta(time, t0, period, depth, duration, rng):
    """(delta, truth) of variability at the catalog period, or None where too little survives detrending."""
    variant = ("sinusoidal", "spot", "ellipsoidal")[int(rng.integers(3))]
    h, ratio = rng.uniform(0.2, 0.6), rng.uniform(0.6, 0.95)
    shape = variability_shape(variant, h, ratio)
    # ellipsoidal: the catalog period is the orbit here, the shape has its deeper minimum at phase 0
    survive = detrended_fraction(shape, period, duration)
    if survive < MIN_SURVIVAL:
        return None
    amp = min(depth / survive, MAX_VARIABILITY_AMPLITUDE)
    phi = (time - t0) / period + 0.02 * np.sin(
        2 * np.pi * time / (rng.uniform(3, 6) * period) + rng.uniform(0, 6.3)
    )
    env = 1.0 + 0.2 * np.sin(2 * np.pi * time / (rng.uniform(5, 15) * period) + rng.uniform(0, 2 * np.pi))
    delta = amp * env * shape(phi)
    return delta, {
        "variant": variant,
        "raw_amplitude_ppm": amp * 1e6,
        "detrend_survival": survive,
        "harmonic_ratio": h,
        "minimum_ratio": ratio,
    }


def _event_shape(variant: str, x: np.ndarray, tau: float) -> np.ndarray:
    """Unit-depth event profile at x = t - t_event (days) for a systematic variant (<= 0)."""
    out = np.zeros_like(x)
    if variant == "momentum_dump":
        m = x >= -0.5 * tau
        out[m] = -np.exp(-(x[m] + 0.5 * tau) / tau)
    elif variant == "scattered_light":
        rise, fall = 1.5 * tau, 0.7 * tau
        out = -np.where(x < 0, np.exp(-0.5 * (x / rise) ** 2), np.exp(-0.5 * (x / fall) ** 2))
    else:  # sensitivity_drop: sudden drop, linear recovery over 3 tau
        m = (x >= -0.5 * tau) & (x < 2.5 * tau)
        out[m] = -(1.0 - (x[m] + 0.5 * tau) / (3.0 * tau))
    return out


def systematic_delta(time, t0, period, depth, duration, rng, start, end):
    """(delta, truth, flag_times): a systematic event of the given variant at every catalog event."""
    variant = SYSTEMATIC_VARIANTS[int(rng.integers(len(SYSTEMATIC_VARIANTS)))]
    tau = duration / 2.0
    x = np.linspace(-2 * duration, 2 * duration, 2001)
    prof = _event_shape(variant, x, tau)
    survive = detrended_fraction(
        lambda ph: np.interp(ph * period, x, prof, left=0, right=0), period, duration
    )
    core = -prof[np.abs(x) < 0.25 * duration].mean()
    amp = depth / max(survive * core, 0.2)
    delta, flags = np.zeros_like(time), []
    for te in t0 + period * np.arange(-1, int(np.ceil((end - t0) / period)) + 1):
        m = np.abs(time - te) < 3 * duration
        if m.any():
            delta[m] += amp * _event_shape(variant, time[m] - te, tau)
        ts = te - 0.5 * tau
        if variant == "momentum_dump" and start <= ts <= end:
            flags.append(float(ts))
    return delta, {"variant": variant, "raw_amplitude_ppm": amp * 1e6, "detrend_survival": survive}, flags


def single_event_delta(time, valid, t0, period, depth, duration, rng, u, exp_time, supersample, window):
    """(delta, truth, t_event) of one event whose depth, folded over the events with data, is `depth`."""
    centers = t0 + period * np.arange(0, int(np.ceil((time[-1] - t0) / period)) + 1)
    tv = time[valid]
    ok = [c for c in centers if np.any(np.abs(tv - c) < 0.25 * duration)]
    te = float(rng.choice(ok)) if ok else float(rng.choice(tv if tv.size else time))
    d1 = min(depth * max(len(ok), 1), SINGLE_EVENT_MAX_DEPTH)
    if rng.random() < 0.5:
        b = rng.uniform(0.0, 0.7)
        k = tm.solve_k(d1, b, u)
        a = max(tm.a_from_duration(period, duration, k, b), 1.5 + k)
        hw = window(tm.duration_from_a(period, a, k, b))
        only = np.abs(time - te) < hw
        delta = tm.transit_delta(time, te, period, k, a, b, u, exp_time, supersample, hw, only=only)
        return (
            delta,
            {"variant": "transit_like", "rp_rs": k, "b": b, "a_rs": a, "event_depth_ppm": d1 * 1e6},
            te,
        )
    tau = rng.uniform(0.5, 1.5) * duration
    keep = rng.uniform(0.0, 0.3)  # fraction of the drop that recovers only slowly (10 d)
    x = time - (te - 0.5 * duration)
    xp = np.clip(x, 0.0, None)
    delta = np.where(x >= 0, -d1 * ((1 - keep) * np.exp(-xp / tau) + keep * np.exp(-xp / 10.0)), 0.0)
    return delta, {"variant": "spsd", "recovery_days": tau, "event_depth_ppm": d1 * 1e6}, te


def contact_binary_delta(time, t0, period, depth, duration, rng):
    """(delta, truth) of a W UMa-like contact binary: catalog period = half the orbit, unequal minima.

    Relative flux -A (|cos 2 pi phi_orb|^g x (1 or r) - 1/2) with g ~ U(1, 2.5) (sharper minima for
    larger g), the secondary minima r ~ U(0.75, 1) as deep as the primary; A is scaled so the
    detrended dip is the catalog depth (capped at 0.5).
    """
    g, ratio = rng.uniform(1.0, 2.5), rng.uniform(0.75, 1.0)

    def shape(ph):  # ph in catalog cycles; orbit = 2 catalog cycles
        orb = ph / 2.0
        dip = np.abs(np.cos(2 * np.pi * orb)) ** g  # 1 at both minima (orbital phases 0 and 0.5)
        deeper = np.cos(2 * np.pi * orb) > 0
        return -(dip * np.where(deeper, 1.0, ratio) - 0.5)

    survive = detrended_fraction(lambda ph: shape(ph) - 0.5, period, duration)
    amp = min(depth / max(survive, MIN_SURVIVAL), 0.5)
    delta = amp * shape((time - t0) / period)
    delta -= np.median(delta)
    return delta, {
        "variant": "contact",
        "raw_amplitude_ppm": amp * 1e6,
        "detrend_survival": survive,
        "minimum_ratio": ratio,
        "true_period": 2 * period,
    }
