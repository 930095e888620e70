"""Signal injection: one catalog row -> one mechanism -> a relative-flux change and its truth.

Mechanisms (truth["mechanism"]):
- "planet" (every CP and PC but the label-noise share of PCs, `PC_FP_RATE`): a batman transit whose
  mid-transit depth equals the catalog depth, a/R* from the star's density (catalog log g and
  radius, scattered 0.12 dex, eccentricity from Kipping's Beta) and b from the catalog T14
  (`planet_geometry`), with its reflected-light occultation at phase 0.5.
- "eb": an eclipsing binary on the target (Kepler flag ss). Below 1 d, 60 % are contact (W UMa)
  binaries ("contact", `nontransit.contact_binary_delta`). Otherwise 40 % are caught at half the
  true period ("half_period": the catalog's odd and even events are the primary and secondary
  eclipses, the secondary 10-70 % as deep as the primary), 60 % at the true period ("true_period":
  secondary at phase 0.5, in half of them eccentric e ~ U(0.01, 0.1) so slightly offset). Half
  are grazing ("v_shape", k ~ U(0.5, 1), b ~ U(1 - 0.3 k, 1 + 0.4 k)), half full eclipses
  ("flat", k ~ U(0.2, 0.6), b < 0.8 (1 - k)). The companion's temperature is
  T2/T1 ~ k^0.7 U(0.9, 1.1) (main-sequence-like; for half_period the temperature that gives the
  drawn depth ratio) and its band surface brightness follows Planck's law, which fixes the
  secondary depth. The system is diluted only if its eclipse is deeper than the catalog's.
- "background_eb": a blended background binary (flags co or ec without ss), diluted so the observed
  depth equals the catalog depth: 50 % near-twins (k ~ U(0.85, 1), T2/T1 ~ U(0.95, 1)) at twice
  the catalog period (odd/even depths differ slightly), 50 % small cool companions at the catalog
  period (tiny secondary); 30 % grazing. Its light is offset from the target by 0.3-2.5 Kepler
  pixels (0.1-1.5 TESS pixels), which moves the flux-weighted centroid by depth x offset during
  eclipses.
- not transit-like (flag nt alone), mixed 40/35/25 %: "variability", "systematic" and
  "single_event", each scaled so that it survives this project's detrending with the catalog depth,
  as the real ones survived the mission pipeline's (see `nontransit`).
- label noise: a PC is an unrecognised background binary or EB with probability `PC_FP_RATE`
  (Kepler 10 %, K2 15 %, TESS 25 %; truth source "label_noise"), always a planet-like one
  (flat-bottomed, at the catalog period, tiny secondary): the vetting could not tell it apart.
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
from exo_assets.science.simulator import nontransit as nt
from exo_assets.science.simulator import transit_models as tm
from exo_assets.science.simulator.limb_darkening import quadratic_ld
from exo_assets.science.simulator.planets import ALBEDO_RANGE, planet_geometry
from exo_assets.science.simulator.rng import log_uniform
from exo_assets.storage import finite_or_none

MECHANISMS = ("planet", "eb", "background_eb", "variability", "systematic", "single_event")
FP_FLAG_WEIGHTS = {"ss": 45.7, "co": 39.0, "nt": 31.5}
NT_MIX = {"variability": 0.40, "systematic": 0.35, "single_event": 0.25}
#: Share of PCs that are unrecognised false positives (Kepler: ~10 %, Morton et al. 2016; TESS
#: candidates are refuted more often; K2 in between).
PC_FP_RATE = {"Kepler": 0.10, "K2": 0.15, "TESS": 0.25}
#: Sub-day on-target EBs are mostly contact (W UMa) binaries: share drawn as "contact" below 1 d.
CONTACT_FRACTION_SUBDAY = 0.6

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


def choose_mechanism(
    label: str, flags: dict | None, rng: np.random.Generator, pc_fp_rate: float = 0.0
) -> tuple[str, str]:
    """(mechanism, source) for a signal: source is 'label', 'hint:<flag>', 'drawn:<flag>' or 'label_noise'.

    With `pc_fp_rate` > 0 a PC is, with that probability, an unrecognised false positive (label
    noise: candidates later refuted). It fooled the vetting, so it is planet-like: a diluted
    background binary at the catalog period with a flat-bottomed eclipse and a tiny secondary
    (`inject_eb(..., planet_like=True)`).
    """
    if label == "PC" and pc_fp_rate > 0 and rng.random() < pc_fp_rate:
        return "background_eb", "label_noise"
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


def catalog_values(row, ctx: StarContext, rng: np.random.Generator) -> dict:
    """Period (d), epoch (mission time), duration (d), depth (fraction), impact; NaNs drawn and recorded.

    Every fill is label-blind (the same distribution for planets and false positives): a missing
    depth is log-uniform 100-30,000 ppm. The pipeline's catalog is filled before (`catalog_fill`),
    so these draws only serve direct callers with incomplete rows.
    """
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
        depth_ppm = log_uniform(rng, 100.0, 30000.0)
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
    return {
        "period": period,
        "epoch": float(epoch),
        "duration": float(duration),
        "depth": depth_ppm * 1e-6,
        "impact": impact,
        "drawn": drawn,
        "catalog_depth_ppm": finite_or_none(row.get("depth_ppm")),
        "catalog_epoch": finite_or_none(row.get("epoch")),
    }


def first_event(t0: float, period: float, start: float) -> float:
    """First time t0 + n * period at or after `start` (days)."""
    return float(t0 + np.ceil((start - t0) / period) * period)


def coverage(ctx: StarContext, t0: float, period: float, duration: float, single: bool = False):
    """(events with data, valid in-event cadences, inverse variance of the mean depth in ppm^-2).

    Each event with n valid cadences inside T14 has depth variance sigma_w^2 / n + sigma_red^2 g,
    g the AR(1) variance factor of a T14-long mean; events are independent (P >> tau).
    """
    centers = (
        [t0]
        if single
        else t0
        + period * np.arange(np.floor((ctx.start - t0) / period), np.ceil((ctx.end - t0) / period) + 1)
    )
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
        "mechanism": mechanism,
        "variant": variant,
        "catalog_depth_ppm": cat["catalog_depth_ppm"],
        "catalog_epoch": cat["catalog_epoch"],
        "period": cat["period"],
        "true_period": cat["period"],
        "duration_days": cat["duration"],
        "depth_ppm": cat["depth"] * 1e6,
        "rp_rs": None,
        "b": None,
        "a_rs": None,
        "inc_deg": None,
        "ecc": 0.0,
        "w_deg": 90.0,
        "u1": ctx.u[0],
        "u2": ctx.u[1],
        "odd_depth_ppm": cat["depth"] * 1e6,
        "even_depth_ppm": cat["depth"] * 1e6,
        "secondary_depth_ppm": 0.0,
        "secondary_phase": None,
        "dilution": 1.0,
        "surface_brightness_ratio": None,
        "centroid_offset_pix": 0.0,
        "noise_sigma_ppm": ctx.sigma_ppm,
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
    """Limb-darkened transit consistent with the star (`planet_geometry`), plus its occultation.

    The occultation (reflected light, geometric albedo U(0.05, 0.4): depth A_g (k / a)^2, tens of ppm
    for hot Jupiters) is modelled where it exceeds 1 ppm, at phase 0.5 (circular-equivalent orbit).
    """
    truth = _base_truth("planet", "transit", cat, ctx)
    period, duration = cat["period"], cat["duration"]
    a_den = _a_rs_density(period, ctx.logg, ctx.radius)
    g = planet_geometry(period, duration, cat["depth"], a_den, ctx.u, rng)
    k, b, a = g["k"], g["b"], g["a"]
    truth["drawn"] += g["notes"]
    if a < 1.5 + k:
        a = 1.5 + k
        truth["drawn"].append("duration_days (a/R* clipped)")
    duration = tm.duration_from_a(period, a, k, b) or duration
    t0 = first_event(cat["epoch"], period, ctx.start)
    fp = rng.uniform(*ALBEDO_RANGE) * (k / a) ** 2
    win = _window(ctx, duration)
    if fp > 1e-6:
        delta, _ = tm.eb_delta(
            ctx.time,
            t0,
            period,
            k,
            a,
            tm.inclination_deg(a, b),
            ctx.u,
            0.0,
            90.0,
            fp,
            ctx.exp_time,
            ctx.supersample,
            win,
        )
    else:
        fp = 0.0
        delta = tm.transit_delta(ctx.time, t0, period, k, a, b, ctx.u, ctx.exp_time, ctx.supersample, win)
    depth = tm.center_depth(k, b, ctx.u) * 1e6
    truth.update(
        t0=t0,
        rp_rs=k,
        b=b,
        a_rs=a,
        inc_deg=tm.inclination_deg(a, b),
        duration_days=duration,
        depth_ppm=depth,
        odd_depth_ppm=depth,
        even_depth_ppm=depth,
        ecc=g["ecc"],
        w_deg=g["w"],
        a_rs_density=a_den,
        density_scatter_dex=g["density_scatter_dex"],
        catalog_impact=finite_or_none(cat["impact"]),
        secondary_depth_ppm=fp / (1 + fp) * 1e6,
        secondary_phase=0.5 if fp else None,
        flux_ratio=fp,
    )
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


def inject_eb(
    cat: dict, ctx: StarContext, rng: np.random.Generator, background: bool, planet_like: bool = False
) -> Injection:
    """Eclipsing binary on the target (background=False) or a diluted background binary."""
    mechanism = "background_eb" if background else "eb"
    half = rng.random() < (BEB_TWIN_FRACTION if background else EB_HALF_PERIOD_FRACTION) and not planet_like
    v_shape = rng.random() < (BEB_V_SHAPE_FRACTION if background else EB_V_SHAPE_FRACTION) and not planet_like
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
    delta, t_sec = tm.eb_delta(
        ctx.time,
        t0,
        p_true,
        k,
        a,
        inc,
        u,
        ecc,
        w,
        fp,
        ctx.exp_time,
        ctx.supersample,
        _window(ctx, t_dur, 1.4),
    )
    truth = _base_truth(mechanism, f"{'half_period' if half else 'true_period'}/{shape}", cat, ctx)
    truth["drawn"] += note
    d1o, d2o = d1 * dilution * 1e6, d2 * dilution * 1e6
    truth.update(
        t0=t0,
        true_period=p_true,
        rp_rs=k,
        b=b,
        a_rs=a,
        inc_deg=inc,
        ecc=ecc,
        w_deg=w,
        u1=u[0],
        u2=u[1],
        duration_days=t_dur,
        depth_ppm=d1o,
        odd_depth_ppm=d1o,
        even_depth_ppm=d2o if half else d1o,
        secondary_depth_ppm=d2o,
        secondary_phase=float(((t_sec - t0) / p_true) % 1.0),
        dilution=dilution,
        surface_brightness_ratio=sb,
        temperature_ratio=tratio,
        flux_ratio=fp,
        eclipsed_star_teff=teff1,
    )
    offset = (0.0, 0.0)
    if background:
        sep = rng.uniform(*BEB_OFFSET_PIX[ctx.mission])
        ang = rng.uniform(0.0, 2 * np.pi)
        offset = (float(sep * np.cos(ang)), float(sep * np.sin(ang)))
        truth["centroid_offset_pix"] = float(sep)
    return Injection(dilution * delta, _finish(truth, ctx), centroid_offset=offset)


def _nt_injection(mechanism: str, variant_truth: dict, delta, cat, ctx, t0, flags=(), single=False):
    truth = _base_truth(mechanism, variant_truth.pop("variant"), cat, ctx)
    truth.update(t0=t0, **variant_truth)
    if single:
        truth.update(odd_depth_ppm=truth.get("event_depth_ppm", truth["depth_ppm"]), even_depth_ppm=0.0)
    return Injection(delta, _finish(truth, ctx, single=single), flag_times=list(flags))


def inject_variability(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """Sinusoidal / spot / ellipsoidal variability at the catalog period that survives detrending
    (`nontransit.variability_delta`); a systematic where too little of it would survive."""
    t0 = first_event(cat["epoch"], cat["period"], ctx.start)
    got = nt.variability_delta(ctx.time, t0, cat["period"], cat["depth"], cat["duration"], rng)
    if got is None:
        return inject_systematic(cat, ctx, rng, note="variability would not survive detrending")
    return _nt_injection("variability", got[1], got[0], cat, ctx, t0)


def inject_systematic(cat: dict, ctx: StarContext, rng: np.random.Generator, note: str = "") -> Injection:
    """Momentum-dump, scattered-light or sensitivity-drop events at every catalog event (`nontransit`)."""
    t0 = first_event(cat["epoch"], cat["period"], ctx.start)
    delta, info, flags = nt.systematic_delta(
        ctx.time, t0, cat["period"], cat["depth"], cat["duration"], rng, ctx.start, ctx.end
    )
    inj = _nt_injection("systematic", info, delta, cat, ctx, t0, flags)
    if note:
        inj.truth["drawn"].append(note)
    return inj


def inject_single_event(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """One transit-like dip or one sensitivity dropout whose folded depth is the catalog depth."""
    t0 = first_event(cat["epoch"], cat["period"], ctx.start)
    delta, info, te = nt.single_event_delta(
        ctx.time,
        ctx.valid,
        t0,
        cat["period"],
        cat["depth"],
        cat["duration"],
        rng,
        ctx.u,
        ctx.exp_time,
        ctx.supersample,
        lambda d: _window(ctx, d),
    )
    return _nt_injection("single_event", info, delta, cat, ctx, te, single=True)


def inject_contact(cat: dict, ctx: StarContext, rng: np.random.Generator) -> Injection:
    """A W UMa contact binary on the target (`nontransit.contact_binary_delta`), mechanism "eb"."""
    t0 = first_event(cat["epoch"], cat["period"], ctx.start)
    delta, info = nt.contact_binary_delta(ctx.time, t0, cat["period"], cat["depth"], cat["duration"], rng)
    truth = _base_truth("eb", "contact", cat, ctx)
    info.pop("variant")
    r = info["minimum_ratio"]
    truth.update(
        t0=t0,
        **info,
        even_depth_ppm=cat["depth"] * 1e6 * r,
        secondary_depth_ppm=cat["depth"] * 1e6 * r,
        secondary_phase=0.5,
    )
    return Injection(delta, _finish(truth, ctx))


def inject(
    mechanism: str, cat: dict, ctx: StarContext, rng: np.random.Generator, planet_like: bool = False
) -> Injection:
    """Dispatch to the mechanism's injector (`planet_like`: a label-noise background binary)."""
    if mechanism == "planet":
        return inject_planet(cat, ctx, rng)
    if mechanism == "eb" and cat["period"] < 1.0 and rng.random() < CONTACT_FRACTION_SUBDAY:
        return inject_contact(cat, ctx, rng)
    if mechanism in ("eb", "background_eb"):
        return inject_eb(cat, ctx, rng, background=mechanism == "background_eb", planet_like=planet_like)
    if mechanism == "variability":
        return inject_variability(cat, ctx, rng)
    if mechanism == "systematic":
        return inject_systematic(cat, ctx, rng)
    if mechanism == "single_event":
        return inject_single_event(cat, ctx, rng)
    raise ValueError(f"unknown mechanism {mechanism!r}")
