"""Batman injections for the science tests (times in days, relative flux)."""

from __future__ import annotations

import numpy as np

from exo_assets.science.diagnostics import a_rs_from_density, t14_from_params

KEPLER_CADENCE = 29.4244 / 1440.0
TESS_CADENCE = 2.0 / 1440.0


def time_grid(
    n: int, cadence: float, start: float = 131.5, gap_every: float = 90.0, gap: float = 1.0
) -> np.ndarray:
    """n cadences with a `gap`-day hole every `gap_every` days (quarter / orbit downlinks)."""
    t = start + cadence * np.arange(int(n * 1.02) + 10)
    keep = ((t - start) % gap_every) >= gap
    return t[keep][:n]


def transit(time, period, t0, rp_rs, a_rs, b, u=(0.41, 0.26), exp_time=0.0) -> np.ndarray:
    """Batman quadratic-limb-darkened transit (relative flux), integrated over `exp_time` days.

    The exposure is integrated with 15 mid-point sub-samples (a true boxcar; batman's own
    `supersample_factor` spaces its samples edge to edge, which smears ~15% wider).
    """
    import batman

    p = batman.TransitParams()
    p.t0, p.per, p.rp, p.a = t0, period, rp_rs, a_rs
    p.inc = float(np.degrees(np.arccos(b / a_rs)))
    p.ecc, p.w, p.u, p.limb_dark = 0.0, 90.0, list(u), "quadratic"
    time = np.asarray(time, float)
    ns = 15 if exp_time > 0 else 1
    offsets = ((np.arange(ns) + 0.5) / ns - 0.5) * exp_time
    ts = (time[:, None] + offsets[None, :]).ravel()
    return batman.TransitModel(p, ts).light_curve(p).reshape(-1, ns).mean(axis=1)


def duration(period, rp_rs, a_rs, b) -> float:
    """T14, days."""
    return t14_from_params(period, rp_rs=rp_rs, b=b, a_rs=a_rs)


def noise_for_snr(flux_model, time, period, t0, t14, snr, rng=None) -> float:
    """White-noise sigma that gives the transit a box SNR of `snr`."""
    phase = np.abs((time - t0 + 0.5 * period) % period - 0.5 * period)
    inside = phase < 0.5 * t14
    depth = 1.0 - float(np.mean(flux_model[inside]))
    return depth * np.sqrt(inside.sum()) / snr


def planet(rng, time, period, t0, rp_rs, a_rs, b, sigma, u=(0.41, 0.26), exp_time=0.0):
    """Planet transit + white noise. Returns (flux, noiseless model)."""
    model = transit(time, period, t0, rp_rs, a_rs, b, u, exp_time)
    return model + sigma * rng.standard_normal(time.size), model


def eclipsing_binary(rng, time, period, t0, k_odd, k_even, a_rs, b, sigma, k_secondary=0.0, exp_time=0.0):
    """EB seen at the catalog period `period` (= half the true one): odd and even eclipses with
    radius ratios k_odd / k_even, plus an optional dip at phase 0.5 of radius ratio k_secondary.
    Returns (flux, noiseless model)."""
    model = transit(time, 2 * period, t0, k_even, 2 * a_rs, b, exp_time=exp_time)
    model = model + transit(time, 2 * period, t0 + period, k_odd, 2 * a_rs, b, exp_time=exp_time) - 1
    if k_secondary > 0:
        model = (
            model
            + transit(time, period, t0 + 0.5 * period, k_secondary, a_rs, b, u=(0.0, 0.0), exp_time=exp_time)
            - 1
        )
    return model + sigma * rng.standard_normal(time.size), model


__all__ = [
    "KEPLER_CADENCE",
    "TESS_CADENCE",
    "time_grid",
    "transit",
    "duration",
    "noise_for_snr",
    "planet",
    "eclipsing_binary",
    "a_rs_from_density",
]
