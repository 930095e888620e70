"""Deterministic random streams: one per star and one per signal, never Python's `hash()`.

Streams are `numpy.random.Generator`s seeded from `SeedSequence([base_seed, crc32(key), stream])`,
so a star's light curve depends only on (base seed, mission, star id, signal ids, config) and not on
the process, the platform, or the order of the catalog rows.
"""

from __future__ import annotations

import zlib

import numpy as np

#: Stream numbers (the third SeedSequence word).
STREAM_NOISE = 1
STREAM_SIGNAL = 2


def stable_hash(text: str) -> int:
    """CRC-32 of the UTF-8 text: a stable 32-bit integer (unlike `hash()`, not salted per process)."""
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


def star_key(mission: str, star_id: str) -> int:
    """Stable integer key of a star within a mission."""
    return stable_hash(f"{mission}|{star_id}")


def noise_rng(seed: int, mission: str, star_id: str) -> np.random.Generator:
    """Generator for everything that belongs to the star (noise, variability, flags)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, star_key(mission, star_id), STREAM_NOISE])


def signal_rng(seed: int, mission: str, star_id: str, signal_id: str) -> np.random.Generator:
    """Generator for one signal: adding or removing another signal of the star leaves it unchanged."""
    return np.random.default_rng(
        [int(seed) & 0xFFFFFFFF, star_key(mission, star_id), STREAM_SIGNAL, stable_hash(signal_id)]
    )


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """One draw, uniform in log between `low` and `high` (both > 0)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))
