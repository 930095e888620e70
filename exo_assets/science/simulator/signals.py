"""Signal injection: one catalog row -> one mechanism -> a relative-flux change and its truth.

Mechanisms (truth["mechanism"]):
- "planet" (every CP and PC): a batman transit whose mid-transit depth equals the catalog depth.
- "eb": an eclipsing binary on the target (Kepler flag ss). 40 % are caught at half the true period
  ("half_period": the catalog's odd and even events are the primary and secondary eclipses, the
  secondary 10-70 % as deep as the primary), 60 % at the true period ("true_period": secondary at phase 0.5, in
  half of them eccentric e ~ U(0.01, 0.1) so slightly offset). Half are grazing ("v_shape",
  k ~ U(0.5, 1), b ~ U(1 - 0.3 k, 1 + 0.4 k)), half full eclipses ("flat", k ~ U(0.2, 0.6),
  b < 0.8 (1 - k)). The companion's temperature is T2/T1 ~ k^0.7 U(0.9, 1.1) (main-sequence-like;
  for half_period the temperature that gives the drawn depth ratio) and its band surface
  brightness follows Planck's law, which fixes the secondary depth. The system is diluted only if its eclipse is deeper than the catalog's.
- "background_eb": a blended background binary (flags co or ec without ss), diluted so the observed
  depth equals the catalog depth: 50 % near-twins (k ~ U(0.85, 1), T2/T1 ~ U(0.95, 1)) at twice
  the catalog period (odd/even depths differ slightly), 50 % small cool companions at the catalog
  period (tiny secondary); 30 % grazing. Its light is offset from the target by 0.3-2.5 Kepler
  pixels (0.1-1.5 TESS pixels), which moves the flux-weighted centroid by depth x offset during
  eclipses.
- not transit-like (flag nt alone), mixed 40/35/25 %: "variability" (quasi-periodic spot
  modulation at the catalog period with its minimum at the epoch and semi-amplitude = depth),
  "systematic" (at each catalog event a ramp, step or damped sinusoid of depth x duration, starting
  with a flagged momentum dump, bit 32), "single_event" (one transit-shaped dip, no repeats).
For K2 and TESS (no flags) and Kepler FPs without flags, the flag is drawn with the Kepler
frequencies ss 45.7 : co 39.0 : nt 31.5 (SOURCES.md), normalised to one choice per signal.

Truth depths are instantaneous mid-event depths in ppm of the observed light (after dilution).
Odd events are t0 + 2j * period and even events t0 + (2j + 1) * period, with t0 the first primary
event at or after the start of the data and period the catalog period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exo_assets.science.simulator import noise as nz
from exo_assets.science.simulator import transit_models as tm
from exo_assets.science.simulator.limb_darkening import quadratic_ld
from exo_assets.science.simulator.rng import log_uniform
from exo_assets.storage import finite_or_none

MECHANISMS = ("planet", "eb", "background_eb", "variability", "systematic", "single_event")
FP_FLAG_WEIGHTS = {"ss": 45.7, "co": 39.0, "nt": 31.5}
NT_MIX = {"variability": 0.40, "systematic": 0.35, "single_event": 0.25}
EB_HALF_PERIOD_FRACTION = 0.4
EB_V_SHAPE_FRACTION = 0.5
EB_ECCENTRIC_FRACTION = 0.5
BEB_TWIN_FRACTION = 0.5
BEB_V_SHAPE_FRACTION = 0.3
BEB_OFFSET_PIX = {"Kepler": (0.3, 2.5), "K2": (0.3, 2.5), "TESS": (0.1, 1.5)}
MAX_DEPTH = 0.9
MIN_DEPTH_PPM = 5.0


@dataclass
class StarContext:
    """What a signal needs to know about its star and its data.

    Attributes:
        time: float64 days (BKJD/BTJD) of all cadences of the star.
        valid: bool, cadences with finite flux that lightkurve's default mask keeps.
        mission: "Kepler", "K2" or "TESS".
        teff, logg, radius: stellar parameters (K, cgs, R_sun) after filling.
        u: quadratic limb darkening of the target.
        cadence: days; exp_time: days of exposure smearing; supersample: batman supersample factor.
        sigma_ppm: per-cadence white-noise sigma, ppm.
        red_sigma_ppm, red_tau_days: amplitude (ppm) and correlation time (d) of the AR(1) red noise.
    """

    time: np.ndarray
    valid: np.ndarray
    mission: str
    teff: float
    logg: float
    radius: float
    u: tuple[float, float]
    cadence: float
    exp_time: float
    supersample: int
    sigma_ppm: float
    red_sigma_ppm: float = 0.0
    red_tau_days: float = 0.1

    @property
    def start(self) -> float:
        return float(self.time[0])

    @property
    def end(self) -> float:
        return float(self.time[-1])


@dataclass
class Injection:
    """One signal's contribution: relative flux change, centroid offset (pixels), flag times, truth."""

    delta: np.ndarray
    truth: dict
    centroid_offset: tuple[float, float] = (0.0, 0.0)
    flag_times: list[float] = field(default_factory=list)


def _flag_set(flags: dict | None) -> str | None:
    if not flags:
        return None
    if flags.get("fp_ss"):
        return "ss"
    if flags.get("fp_co") or flags.get("fp_ec"):
        return "co"
    if flags.get("fp_nt"):
        return "nt"
    return None


def choose_mechanism(label: str, flags: dict | None, rng: np.random.Generator) -> tuple[str, str]:
    """(mechanism, source) for a signal: source is 'label', 'hint:<flag>' or 'drawn:<flag>'."""
    if label in ("CP", "PC"):
        return "planet", "label"
    if label != "FP":
        raise ValueError(f"unknown label {label!r}; expected CP, PC or FP")
    flag = _flag_set(flags)
    source = f"hint:{flag}"
    if flag is None:
        names = list(FP_FLAG_WEIGHTS)
        w = np.array([FP_FLAG_WEIGHTS[n] for n in names])
        flag = names[int(rng.choice(len(names), p=w / w.sum()))]
        source = f"drawn:{flag}"
    if flag == "ss":
        return "eb", source
    if flag == "co":
        return "background_eb", source
    names = list(NT_MIX)
    return names[int(rng.choice(len(names), p=np.array([NT_MIX[n] for n in names])))], source


def _finite_pos(v) -> bool:
    try:
        return bool(np.isfinite(v) and v > 0)
    except TypeError:
        return False


def _a_rs_density(period: float, logg: float, radius: float) -> float:
    """a/R* from period (d), log g (cgs) and R* (R_sun): (g P^2 / (4 pi^2 R*))^(1/3)."""
    g = 10.0**logg
    return float((g * (period * 86400.0) ** 2 / (4 * np.pi**2 * radius * 6.957e10)) ** (1.0 / 3.0))


def catalog_values(row, ctx: StarContext, rng: np.random.Generator, is_fp: bool) -> dict:
    """Period (d), epoch (mission time), duration (d), depth (fraction), impact; NaNs drawn and recorded."""
    drawn = []
    period = float(row.get("period_days", np.nan))
    if not _finite_pos(period):
        period = log_uniform(rng, 1.0, 30.0)
        drawn.append("period_days")
    duration = float(row.get("duration_days", np.nan))
    if not _finite_pos(duration):
        a = max(_a_rs_density(period, ctx.logg, ctx.radius), 1.5)
        duration = period / np.pi * np.arcsin(1.0 / a) * rng.uniform(0.5, 1.0)
        drawn.append("duration_days")
    elif duration > 0.4 * period:
        duration = 0.4 * period
        drawn.append("duration_days (clipped to 0.4 period)")
    depth_ppm = float(row.get("depth_ppm", np.nan))
    if not _finite_pos(depth_ppm):
        depth_ppm = log_uniform(rng, 300.0, 30000.0) if is_fp else log_uniform(rng, 100.0, 3000.0)
        drawn.append("depth_ppm")
    if depth_ppm < MIN_DEPTH_PPM or depth_ppm > MAX_DEPTH * 1e6:
        depth_ppm = float(np.clip(depth_ppm, MIN_DEPTH_PPM, MAX_DEPTH * 1e6))
        drawn.append("depth_ppm (clipped)")
    impact = row.get("impact", np.nan)
    impact = float(impact) if impact is not None and np.isfinite(impact) and impact >= 0 else np.nan
    epoch = row.get("epoch", np.nan)
    if epoch is None or not np.isfinite(epoch):
        epoch = ctx.start + rng.uniform(0.0, period)
        drawn.append("epoch")
    return {"period": period, "epoch": float(epoch), "duration": float(duration), "depth": depth_ppm * 1e-6,
            "impact": impact, "drawn": drawn,
            "catalog_depth_ppm": finite_or_none(row.get("depth_ppm")), "catalog_epoch": finite_or_none(row.get("epoch"))}


def first_event(t0: float, period: float, start: float) -> float:
    """First time t0 + n * period at or after `start` (days)."""
    return float(t0 + np.ceil((start - t0) / period) * period)


def coverage(ctx: StarContext, t0: float, period: float, duration: float, single: bool = False):
    """(events with data, valid in-event cadences, inverse variance of the mean depth in ppm^-2).

    Each event with n valid cadences inside T14 has depth variance sigma_w^2 / n + sigma_red^2 g,
    g the AR(1) variance factor of a T14-long mean; events are independent (P >> tau).
    """
    centers = [t0] if single else t0 + period * np.arange(
        np.floor((ctx.start - t0) / period), np.ceil((ctx.end - t0) / period) + 1)
    t = ctx.time[ctx.valid]
    g = nz.red_mean_variance_factor(duration, ctx.red_tau_days)
    n_events = n_in = 0
    inv_var = 0.0
    for c in np.atleast_1d(centers):
        lo, hi = np.searchsorted(t, [c - 0.5 * duration, c + 0.5 * duration])
        if hi > lo:
            n_events += 1
            n_in += int(hi - lo)
            inv_var += 1.0 / (ctx.sigma_ppm**2 / (hi - lo) + ctx.red_sigma_ppm**2 * g)
    return n_events, n_in, inv_var


def _window(ctx: StarContext, duration: float, factor: float = 1.3) -> float:
    return 0.5 * duration * factor + ctx.exp_time + 2 * ctx.cadence


def _base_truth(mechanism, variant, cat, ctx) -> dict:
    return {
        "mechanism": mechanism, "variant": variant, "catalog_depth_ppm": cat["catalog_depth_ppm"],
        "catalog_epoch": cat["catalog_epoch"], "period": cat["period"], "true_period": cat["period"],
        "duration_days": cat["duration"], "depth_ppm": cat["depth"] * 1e6, "rp_rs": None, "b": None,
        "a_rs": None, "inc_deg": None, "ecc": 0.0, "w_deg": 90.0, "u1": ctx.u[0], "u2": ctx.u[1],
        "odd_depth_ppm": cat["depth"] * 1e6, "even_depth_ppm": cat["depth"] * 1e6,
        "secondary_depth_ppm": 0.0, "secondary_phase": None, "dilution": 1.0,
        "surface_brightness_ratio": None, "centroid_offset_pix": 0.0, "noise_sigma_ppm": ctx.sigma_ppm,
        "drawn": list(cat["drawn"]),
    }


def _finish(truth: dict, ctx: StarContext, single: bool = False) -> dict:
    n_events, n_in, inv_var = coverage(ctx, truth["t0"], truth["period"], truth["duration_days"], single)
    truth["n_events"] = n_events
    truth["n_in_transit_cadences"] = n_in
    truth["expected_snr"] = float(truth["depth_ppm"] * np.sqrt(inv_var))
    truth["expected_snr_white"] = float(truth["depth_ppm"] / ctx.sigma_ppm * np.sqrt(n_in))
    return truth


def inject_planet(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """Limb-darkened transit: k from the depth at impact b, a/R* from the catalog duration."""
    truth = _base_truth("planet", "transit", cat, ctx)
    b = cat["impact"]
    if not np.isfinite(b):
        b = rng.uniform(0.0, 0.9)
        truth["drawn"].append("impact")
    elif b > 1.0:
        b = 1.0
        truth["drawn"].append("impact (clipped to 1)")
    k = tm.solve_k(cat["depth"], b, ctx.u)
    period, duration = cat["period"], cat["duration"]
    a = tm.a_from_duration(period, duration, k, b)
    if a < 1.5 + k:
        a = 1.5 + k
        duration = tm.duration_from_a(period, a, k, b)
        truth["drawn"].append("duration_days (a/R* clipped)")
    t0 = first_event(cat["epoch"], period, ctx.start)
    delta = tm.transit_delta(ctx.time, t0, period, k, a, b, ctx.u, ctx.exp_time, ctx.supersample,
                             _window(ctx, duration))
    depth = tm.center_depth(k, b, ctx.u) * 1e6
    truth.update(t0=t0, rp_rs=k, b=b, a_rs=a, inc_deg=tm.inclination_deg(a, b), duration_days=duration,
                 depth_ppm=depth, odd_depth_ppm=depth, even_depth_ppm=depth)
    return Injection(delta, _finish(truth, ctx))


def _eb_draw(rng, background: bool, half: bool, v_shape: bool, attempt: int):
    """(shape, k, b, T2/T1) of one EB configuration; attempts >= 3 force deeper full eclipses."""
    if attempt >= 3:
        k = rng.uniform(min(0.6 + 0.1 * (attempt - 3), 0.95), 1.0)
        return "flat", k, rng.uniform(0.0, 0.3), float(np.clip(k**0.7 * rng.uniform(0.9, 1.1), 0.35, 0.85))
    if background and half:
        k = rng.uniform(0.85, 1.0)
        tratio = rng.uniform(0.95, 1.0)
    elif background:
        k = rng.uniform(0.15, 0.5)
        tratio = float(np.clip(k**0.7 * rng.uniform(0.9, 1.1), 0.35, 1.0))
    else:
        k = rng.uniform(0.5, 1.0) if v_shape else rng.uniform(0.2, 0.6)
        tratio = float(np.clip(k**0.7 * rng.uniform(0.9, 1.1), 0.35, 0.85 if half else 1.0))
    if v_shape:
        return "v_shape", k, rng.uniform(1.0 - 0.3 * k, 1.0 + 0.4 * k), tratio
    return "flat", k, rng.uniform(0.0, 0.8 * max(1.0 - k, 0.05)), tratio


def inject_eb(cat: dict, ctx: StarContext, rng: np.random.Generator, background: bool) -> Injection:
    """Eclipsing binary on the target (background=False) or a diluted background binary."""
    mechanism = "background_eb" if background else "eb"
    half = rng.random() < (BEB_TWIN_FRACTION if background else EB_HALF_PERIOD_FRACTION)
    v_shape = rng.random() < (BEB_V_SHAPE_FRACTION if background else EB_V_SHAPE_FRACTION)
    if background:
        teff1 = rng.uniform(4000.0, 6500.0)
        u = quadratic_ld(teff1, 4.5, ctx.mission)
    else:
        teff1, u = ctx.teff, ctx.u
    p_cat, depth, duration = cat["period"], cat["depth"], cat["duration"]
    p_true = 2.0 * p_cat if half else p_cat
    ecc, w = 0.0, 90.0
    if not half and not background and rng.random() < EB_ECCENTRIC_FRACTION:
        ecc, w = rng.uniform(0.01, 0.1), rng.uniform(0.0, 360.0)
    for attempt in range(7):
        shape, k, b, tratio = _eb_draw(rng, background, half, v_shape, attempt)
        a = max(tm.a_from_duration(p_true, duration, k, b), 1.2 * (1.0 + k))
        inc = tm.inclination_deg(a, b)
        if half and not background:
            # caught at half its period: the secondary is 10-70 % of the primary, so visible but unequal
            blocked, hidden = tm.eb_fractions(k, a, inc, u, ecc, w)
            sb = min(rng.uniform(0.1, 0.7) * blocked / max(k**2 * hidden, 1e-9), 1.0)
            tratio = tm.temperature_for_sb_ratio(teff1, sb, ctx.mission) / teff1
        sb = tm.surface_brightness_ratio(teff1, teff1 * tratio, ctx.mission)
        fp = sb * k**2
        d1, d2 = tm.eb_center_depths(k, a, inc, u, fp, ecc, w)
        if d1 >= depth:
            break
    dilution = min(1.0, depth / d1) if d1 > 0 else 1.0
    note = ["depth_ppm (binary cannot reach the catalog depth)"] if d1 < depth else []
    t_dur = tm.duration_from_a(p_true, a, k, b)
    t0 = first_event(cat["epoch"], p_true, ctx.start)
    delta, t_sec = tm.eb_delta(ctx.time, t0, p_true, k, a, inc, u, ecc, w, fp, ctx.exp_time,
                               ctx.supersample, _window(ctx, t_dur, 1.4))
    truth = _base_truth(mechanism, f"{'half_period' if half else 'true_period'}/{shape}", cat, ctx)
    truth["drawn"] += note
    d1o, d2o = d1 * dilution * 1e6, d2 * dilution * 1e6
    truth.update(
        t0=t0, true_period=p_true, rp_rs=k, b=b, a_rs=a, inc_deg=inc, ecc=ecc, w_deg=w, u1=u[0], u2=u[1],
        duration_days=t_dur, depth_ppm=d1o, odd_depth_ppm=d1o, even_depth_ppm=d2o if half else d1o,
        secondary_depth_ppm=d2o, secondary_phase=float(((t_sec - t0) / p_true) % 1.0), dilution=dilution,
        surface_brightness_ratio=sb, temperature_ratio=tratio, flux_ratio=fp, eclipsed_star_teff=teff1,
    )
    offset = (0.0, 0.0)
    if background:
        sep = rng.uniform(*BEB_OFFSET_PIX[ctx.mission])
        ang = rng.uniform(0.0, 2 * np.pi)
        offset = (float(sep * np.cos(ang)), float(sep * np.sin(ang)))
        truth["centroid_offset_pix"] = float(sep)
    return Injection(dilution * delta, _finish(truth, ctx), centroid_offset=offset)


def inject_variability(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """Quasi-periodic spot modulation at the catalog period, minimum (= -depth) at the epoch."""
    p, t0, depth = cat["period"], first_event(cat["epoch"], cat["period"], ctx.start), cat["depth"]
    h = rng.uniform(0.2, 0.6)
    t = ctx.time
    phi = (t - t0) / p + 0.03 * np.sin(2 * np.pi * t / (rng.uniform(3, 6) * p) + rng.uniform(0, 2 * np.pi))
    env = 1.0 + 0.25 * np.sin(2 * np.pi * t / (rng.uniform(2, 5) * p) + rng.uniform(0, 2 * np.pi))
    delta = -depth * env * (np.cos(2 * np.pi * phi) + h * np.cos(4 * np.pi * phi)) / (1 + h)
    truth = _base_truth("variability", "spot_modulation", cat, ctx)
    truth.update(t0=t0, harmonic_ratio=h)
    return Injection(delta, _finish(truth, ctx))


def inject_systematic(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """At every catalog event a ramp, step or damped sinusoid of the catalog depth, after a flagged dump."""
    p, depth, dur = cat["period"], cat["depth"], cat["duration"]
    t0 = first_event(cat["epoch"], p, ctx.start)
    variant = ("ramp", "step", "sinusoid")[int(rng.integers(3))]
    t, delta, flags = ctx.time, np.zeros_like(ctx.time), []
    tau = dur / 3.0
    for te in t0 + p * np.arange(-1, int(np.ceil((ctx.end - t0) / p)) + 1):
        if variant == "ramp":
            ts = te - tau
            m = (t >= ts) & (t < ts + 8 * tau)
            delta[m] -= depth * np.exp(-(t[m] - ts) / tau)
        elif variant == "step":
            ts = te - 0.5 * dur
            delta[np.abs(t - te) < 0.5 * dur] -= depth
        else:
            ts = te - dur
            m = np.abs(t - te) < 2 * dur
            x = (t[m] - te) / dur
            delta[m] -= depth * np.cos(2 * np.pi * x) * np.exp(-2 * np.abs(x))
        if ctx.start <= ts <= ctx.end:
            flags.append(float(ts))
    truth = _base_truth("systematic", variant, cat, ctx)
    truth.update(t0=t0)
    return Injection(delta, _finish(truth, ctx), flag_times=flags)


def inject_single_event(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """One transit-shaped dip at one of the predicted events that has data; no repeats."""
    p, depth, dur = cat["period"], cat["depth"], cat["duration"]
    t0 = first_event(cat["epoch"], p, ctx.start)
    centers = t0 + p * np.arange(0, int(np.ceil((ctx.end - t0) / p)) + 1)
    tv = ctx.time[ctx.valid]
    ok = [c for c in centers if np.any(np.abs(tv - c) < 0.25 * dur)]
    te = float(rng.choice(ok)) if ok else float(rng.choice(tv if tv.size else ctx.time))
    b = rng.uniform(0.0, 0.7)
    k = tm.solve_k(depth, b, ctx.u)
    a = max(tm.a_from_duration(p, dur, k, b), 1.5 + k)
    hw = _window(ctx, tm.duration_from_a(p, a, k, b))
    only = np.abs(ctx.time - te) < hw
    delta = tm.transit_delta(ctx.time, te, p, k, a, b, ctx.u, ctx.exp_time, ctx.supersample, hw, only=only)
    d = tm.center_depth(k, b, ctx.u) * 1e6
    truth = _base_truth("single_event", "one_dip", cat, ctx)
    truth.update(t0=te, rp_rs=k, b=b, a_rs=a, inc_deg=tm.inclination_deg(a, b), depth_ppm=d,
                 odd_depth_ppm=d, even_depth_ppm=0.0, duration_days=tm.duration_from_a(p, a, k, b))
    return Injection(delta, _finish(truth, ctx, single=True))


def inject(mechanism: str, cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """Dispatch to the mechanism's injector."""
    if mechanism == "planet":
        return inject_planet(cat, ctx, rng)
    if mechanism in ("eb", "background_eb"):
        return inject_eb(cat, ctx, rng, background=mechanism == "background_eb")
    if mechanism == "variability":
        return inject_variability(cat, ctx, rng)
    if mechanism == "systematic":
        return inject_systematic(cat, ctx, rng)
    if mechanism == "single_event":
        return inject_single_event(cat, ctx, rng)
    raise ValueError(f"unknown mechanism {mechanism!r}")
