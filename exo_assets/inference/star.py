"""What is known about the star of a request, and where each input came from (Dagster-free).

Missing is not evidence: a stellar parameter the user did not type is looked up before the model sees
NaN, the same way in every mode (file + ephemeris, catalog mode, JSON arrays):

1. given: the request's own value (API field, CLI flag, a user's `--catalog` CSV);
2. catalog: the shipped NASA catalog of the mission (`exo_assets/data/catalogs`), by star id — the
   values the models were trained on, so they come before the header;
3. header: the light-curve FITS header (TEFF, LOGG, RADIUS, KEPMAG / TESSMAG);
4. missing: NaN (the booster is trained with such fields blanked, `models.missingness`).

The star id is the request's (`star_id`) or the FITS header's (TICID / KEPLERID / OBJECT), normalised
to the catalog's "TIC n" / "KIC n" / "EPIC n". The same lookup gives the star's other known signals
(masked before the dip tests) and, for a signal matching a catalog entry by period, its duration and
depth. Units: teff_k K, logg_cgs log10 cm s^-2, radius_rsun R_sun, mag Kepler/TESS mag, depth ppm,
period / epoch / duration days (epoch BKJD / BTJD).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

#: Stellar inputs and the FITS header keys they are read from (first finite wins).
STELLAR_FIELDS: dict[str, tuple[str, ...]] = {
    "teff_k": ("TEFF",),
    "logg_cgs": ("LOGG",),
    "radius_rsun": ("RADIUS",),
    "mag": ("KEPMAG", "TESSMAG"),
}
#: Relative period tolerance of "this catalog signal is the requested one".
PERIOD_MATCH_RTOL = 0.01
_ID_PREFIX = {"Kepler": "KIC", "K2": "EPIC", "TESS": "TIC"}
_ID_RE = re.compile(r"^\s*(KIC|TIC|EPIC|KPLR|KTWO|TESS)?[\s_-]*0*(\d+)\s*$", re.IGNORECASE)


def _finite(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v if math.isfinite(v) else float("nan")


@dataclass(frozen=True)
class KnownSignal:
    """A catalog signal of the star: id, period (d), epoch (BKJD/BTJD d), duration (d), depth (ppm)."""

    signal_id: str
    period: float
    epoch: float
    duration: float
    depth_ppm: float = float("nan")

    def usable(self) -> bool:
        """Whether it can be masked (finite, positive period and duration, finite epoch)."""
        return (
            all(math.isfinite(v) for v in (self.period, self.epoch, self.duration))
            and self.period > 0
            and self.duration > 0
        )


@dataclass(frozen=True)
class StarContext:
    """The shipped catalog's facts about one star.

    Attributes:
        star_id: the catalog's id ("TIC n", "KIC n", ...), or the id as given when not normalisable.
        found: whether the catalog lists the star.
        stellar: teff_k, logg_cgs, radius_rsun, mag from the catalog (NaN where it has none).
        signals: every catalog signal of the star.
    """

    star_id: str
    found: bool = False
    stellar: dict = field(default_factory=dict)
    signals: tuple[KnownSignal, ...] = ()


def catalog_star_id(star_id: str | None, mission: str) -> str:
    """'TIC 261136679' from 'TIC 261136679', 'tic261136679', '261136679' (TESS) ...; other names as given."""
    text = str(star_id or "").strip()
    m = _ID_RE.match(text)
    if not m:
        return text
    prefix = (m.group(1) or "").upper()
    prefix = {"KPLR": "KIC", "KTWO": "EPIC", "TESS": "TIC"}.get(prefix, prefix) or _ID_PREFIX.get(mission, "")
    return f"{prefix} {int(m.group(2))}" if prefix else text


@lru_cache(maxsize=4)
def _catalog(mission: str):
    from exo_assets.science.catalogs import load_catalog

    return load_catalog(mission)


def star_context(star_id: str | None, mission: str) -> StarContext:
    """The catalog's stellar values and signals of `star_id` in `mission`'s shipped catalog."""
    key = catalog_star_id(star_id, mission)
    if not key or mission not in _ID_PREFIX:
        return StarContext(key)
    cat = _catalog(mission)
    rows = cat[cat["star_id"] == key]
    if rows.empty:
        return StarContext(key)
    stellar = {}
    for name in STELLAR_FIELDS:
        vals = rows[name].to_numpy(np.float64)
        vals = vals[np.isfinite(vals)]
        stellar[name] = float(vals[0]) if vals.size else float("nan")
    signals = tuple(
        KnownSignal(
            str(r.signal_id),
            _finite(r.period_days),
            _finite(r.epoch),
            _finite(r.duration_days),
            _finite(r.depth_ppm),
        )
        for r in rows.itertuples()
    )
    return StarContext(key, True, stellar, signals)


def match_signal(signals, period: float | None) -> KnownSignal | None:
    """The catalog signal whose period is within `PERIOD_MATCH_RTOL` of `period` (closest), else None."""
    p = _finite(period)
    if not (p > 0):
        return None
    best = min(signals, key=lambda s: abs(s.period / p - 1.0) if s.period > 0 else math.inf, default=None)
    if best is None or not (best.period > 0) or abs(best.period / p - 1.0) > PERIOD_MATCH_RTOL:
        return None
    return best


def other_signals(ctx: StarContext, period: float, given=(), exclude_id: str | None = None) -> list[dict]:
    """The star's other known signals to mask: the user's `given` (period, epoch, duration) tuples, then the
    catalog's usable signals that are not the requested one (period within 1%, or `exclude_id`) and not
    already given. Each as {"signal_id", "period", "t0", "duration", "source"}."""
    out: list[dict[str, Any]] = []
    for i, g in enumerate(given):
        pg, tg, dg = (_finite(v) for v in g)
        out.append({"signal_id": f"given_{i + 1}", "period": pg, "t0": tg, "duration": dg, "source": "given"})
    this = match_signal(ctx.signals, period)
    for s in ctx.signals:
        if not s.usable() or s is this or s.signal_id == exclude_id:
            continue
        if abs(s.period / period - 1.0) <= PERIOD_MATCH_RTOL:
            continue
        if any(abs(o["period"] / s.period - 1.0) <= PERIOD_MATCH_RTOL for o in out if o["period"] > 0):
            continue
        out.append(
            {
                "signal_id": s.signal_id,
                "period": s.period,
                "t0": s.epoch,
                "duration": s.duration,
                "source": "catalog",
            }
        )
    return out


def resolve_stellar(
    given: Mapping[str, float], header: Mapping | None, ctx: StarContext
) -> tuple[dict[str, float], dict[str, str]]:
    """Each stellar field from the first source that has it: given, catalog, header; else NaN / "missing".

    Returns ({field: value}, {field: "given" | "catalog" | "header" | "missing"}).
    """
    header = header or {}
    values, sources = {}, {}
    for name, keys in STELLAR_FIELDS.items():
        candidates = [("given", _finite(given.get(name))), ("catalog", _finite(ctx.stellar.get(name)))]
        candidates += [("header", _finite(header.get(k))) for k in keys]
        source, value = next(((s, v) for s, v in candidates if math.isfinite(v)), ("missing", float("nan")))
        values[name], sources[name] = value, source
    return values, sources
