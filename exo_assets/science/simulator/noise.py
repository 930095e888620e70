"""Photometric noise, stellar variability, residual systematics and per-star quality flags.

Precision model (per cadence, relative, ppm)::

    sigma^2 = sigma_shot^2 + sigma_rb^2 + sigma_floor^2
    sigma_shot = 1e6 / sqrt(F * f_ap * t_int)          F = F0 * 10**(-0.4 (m - m0))  [e-/s]
    sigma_rb   = rb0 * 10**(0.4 (m - m0))              read noise + sky over the aperture

- Kepler (Kp, 29.4-min): F0 = 2.0e5 e-/s at Kp = 12 (the shipped KIC 11442793 Q4 file has a PDCSAP
  median of 4.3e4 e-/s at Kp 13.8, i.e. 2.3e5 scaled to Kp 12); t_int = 270 x 6.02 s = 1625 s;
  f_ap = 0.85; rb0 = 24 ppm (~10 pixels x 270 reads x 149 e- read noise plus sky); floor 20 ppm.
  This gives 68 ppm at Kp 12, 205 ppm at Kp 14 (x3 per 2 mag, shot- then read-dominated) and
  ~1000 ppm at Kp 16, matching the 6.5-h CDPP of ~30/60/250 ppm (Christiansen et al. 2012) scaled
  by sqrt(13), and the 192 ppm PDCSAP_FLUX_ERR of the Kp 13.8 fixture.
- K2: the Kepler model times 1.8 (degraded pointing; K2 PDCSAP precision is ~2x Kepler's at the
  same magnitude) plus a residual 5.9-hour thruster sawtooth; the magnitude is Gaia G as Kp proxy.
- TESS (Tmag, 2-min): F0 = 1.5e4 e-/s at T = 10 (TESS Instrument Handbook); t_int = 60 x 1.98 s
  x 0.8 (cosmic-ray mitigation) = 95 s; f_ap = 0.8; rb0 = 390 ppm (~20 pixels, 10 e- read noise
  per 2-s frame, ~40 e-/s/pixel sky); floor 20 ppm. This gives ~1000 ppm at T = 10, ~3400 ppm at
  T = 12 and 96 ppm at T = 5.1 (the shipped TIC 261136679 sector-1 file: 91 ppm errors).

Each star's white sigma is scattered by a log-normal factor (sigma 0.1 dex-e) for crowding and
focal-plane position, and each segment by a factor U(0.9, 1.1).

Red noise is AR(1) (a discretised Ornstein-Uhlenbeck process: granulation, residual pointing and
thermal systematics) with correlation time tau ~ log-U(0.05, 0.5) d and stationary amplitude
sqrt((r sigma_white sqrt(cadence / 1 h))^2 + floor_red^2), r ~ log-U(0.3, 1), floor_red 10 ppm
(Kepler), 40 ppm (K2, TESS: the ~60 ppm/sqrt(h) TESS systematic floor).

Stellar rotation: quasi-periodic spot modulation, period log-U(5, 30) d, semi-amplitude
log-U(500, 5000) ppm (peak-to-peak 0.1-1 %), a second harmonic and an amplitude envelope evolving on
1.5-4 rotation periods. Residual thermal ramps (exponential, tau 0.1-1 d) start at every segment
start and after every gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from exo_assets.science.simulator import baselines as bl
from exo_assets.science.simulator.rng import log_uniform


@dataclass(frozen=True)
class Photometry:
    """Constants of a mission's precision model (see module docstring). Magnitudes in mag, fluxes e-/s."""

    ref_mag: float
    ref_flux: float
    t_int_s: float
    aperture_fraction: float
    rb_ppm_ref: float
    floor_ppm: float
    degrade: float
    red_floor_ppm: float
    typical_mag: float
    ramp_ppm: tuple[float, float]


PHOTOMETRY: dict[str, Photometry] = {
    "Kepler": Photometry(12.0, 2.0e5, 1625.0, 0.85, 24.0, 20.0, 1.0, 10.0, 14.5, (30.0, 300.0)),
    "K2": Photometry(12.0, 2.0e5, 1625.0, 0.85, 24.0, 20.0, 1.8, 40.0, 13.1, (60.0, 600.0)),
    "TESS": Photometry(10.0, 1.5e4, 95.0, 0.80, 390.0, 20.0, 1.0, 40.0, 11.8, (100.0, 1000.0)),
}


def flux_level(mag: float, mission: str) -> float:
    """Median PDCSAP flux (e-/s) of a star of magnitude `mag` (Kp, G or Tmag)."""
    ph = PHOTOMETRY[mission]
    return float(ph.ref_flux * 10.0 ** (-0.4 * (mag - ph.ref_mag)))


def white_sigma_ppm(mag: float, mission: str) -> float:
    """Per-cadence white-noise sigma (ppm) of the mission's precision model at magnitude `mag`."""
    ph = PHOTOMETRY[mission]
    electrons = flux_level(mag, mission) * ph.aperture_fraction * ph.t_int_s
    shot = 1e6 / np.sqrt(electrons)
    rb = ph.rb_ppm_ref * 10.0 ** (0.4 * (mag - ph.ref_mag))
    return float(ph.degrade * np.sqrt(shot**2 + rb**2 + ph.floor_ppm**2))


def ar1(rng: np.random.Generator, n: int, sigma: float, phi: float) -> np.ndarray:
    """AR(1) series of length n with stationary standard deviation `sigma` and lag-1 correlation `phi`."""
    e = rng.standard_normal(n) * sigma * np.sqrt(1.0 - phi**2)
    x0 = rng.standard_normal() * sigma
    y, _ = lfilter([1.0], [1.0, -phi], e, zi=[phi * x0])
    return y


def red_params(rng, sigma_white_ppm, mission, cadence_days) -> dict:
    """Draw the AR(1) red-noise amplitude (ppm) and correlation time (days) of a star."""
    ph = PHOTOMETRY[mission]
    tau = log_uniform(rng, 0.05, 0.5)
    r = log_uniform(rng, 0.3, 1.0)
    sigma = np.hypot(r * sigma_white_ppm * np.sqrt(cadence_days * 24.0), ph.red_floor_ppm)
    return {"red_sigma_ppm": float(sigma), "red_tau_days": tau}


def red_noise(rng, n, params: dict, cadence_days) -> np.ndarray:
    """AR(1) red noise (relative flux) with the parameters of `red_params`."""
    phi = float(np.exp(-cadence_days / params["red_tau_days"]))
    return ar1(rng, n, params["red_sigma_ppm"] * 1e-6, phi)


def red_mean_variance_factor(window_days: float, tau_days: float) -> float:
    """Variance of the mean of an AR(1)/OU process over a window, in units of its variance.

    g(x) = 2 (x - 1 + exp(-x)) / x^2 with x = window / tau: 1 for short windows, 2 tau / window
    for long ones.
    """
    x = max(window_days / tau_days, 1e-9)
    return float(2.0 * (x - 1.0 + np.exp(-x)) / x**2) if x > 1e-4 else 1.0


def rotation(rng, time):
    """Quasi-periodic spot modulation (relative flux) and its parameters."""
    period = log_uniform(rng, 5.0, 30.0)
    amp = log_uniform(rng, 500.0, 5000.0)
    h = rng.uniform(0.1, 0.5)
    tau_env = rng.uniform(1.5, 4.0) * period
    p1, p2, p3 = rng.uniform(0, 2 * np.pi, 3)
    env = 1.0 + 0.3 * np.sin(2 * np.pi * time / tau_env + p3)
    wave = (np.sin(2 * np.pi * time / period + p1) + h * np.sin(4 * np.pi * time / period + p2)) / (1 + h)
    return amp * 1e-6 * env * wave, {"rotation_period_days": period, "rotation_amplitude_ppm": amp}


def ramps(rng, time, restarts, mission):
    """Exponential residual ramps after each restart (segment start, end of a gap)."""
    lo, hi = PHOTOMETRY[mission].ramp_ppm
    out = np.zeros_like(time)
    params = []
    for t_r in restarts:
        amp = log_uniform(rng, lo, hi) * rng.choice([-1.0, 1.0])
        tau = log_uniform(rng, 0.1, 1.0)
        m = (time >= t_r) & (time < t_r + 8 * tau)
        out[m] += amp * 1e-6 * np.exp(-(time[m] - t_r) / tau)
        params.append({"time": float(t_r), "amplitude_ppm": float(amp), "tau_days": tau})
    return out, params


def k2_sawtooth(rng, time):
    """Residual of K2's roll: a sawtooth reset at each thruster firing (relative flux)."""
    amp = log_uniform(rng, 30.0, 200.0)
    phase = ((time - bl.K2_START_BKJD - 0.1) / bl.K2_THRUSTER_DAYS) % 1.0
    return amp * 1e-6 * (phase - 0.5) * 2.0, {"k2_sawtooth_ppm": amp}


#: (bit, rate, outlier) per mission: outlier None = no flux change, else (min, max) in sigma.
RANDOM_FLAGS = {
    "Kepler": [(bl.Q_KEPLER_COSMIC_RAY, 0.004, None), (bl.Q_KEPLER_IMPULSIVE, 0.001, (5.0, 30.0))],
    "TESS": [(1024, 0.002, None), (bl.Q_TESS_IMPULSIVE, 0.0025, (5.0, 30.0))],
}
RANDOM_FLAGS["K2"] = RANDOM_FLAGS["Kepler"]
UNFLAGGED_OUTLIER_RATE = 0.0002


def random_flags(rng, quality: np.ndarray, mission: str) -> tuple[np.ndarray, np.ndarray]:
    """Add per-star random flags in place; return outlier offsets in units of sigma and a flagged mask."""
    n = quality.size
    offsets = np.zeros(n)
    for bit, rate, outlier in RANDOM_FLAGS[mission]:
        hit = rng.random(n) < rate
        quality[hit] |= bit
        if outlier is not None:
            k = int(hit.sum())
            offsets[hit] += rng.uniform(*outlier, k) * rng.choice([-1.0, 1.0], k)
    free = rng.random(n) < UNFLAGGED_OUTLIER_RATE
    offsets[free] += rng.uniform(4.0, 8.0, int(free.sum())) * rng.choice([-1.0, 1.0], int(free.sum()))
    return offsets, free
