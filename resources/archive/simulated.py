"""`simulated` backend (the embedded default): the catalog-seeded physical simulator writes FITS files.

Each star's files are written in MAST's layout under `cache_dir/simulated/...` together with the
injected truth (for tests only; no model reads it). Files are reused when a star was already
simulated with the same configuration (an index file records the configuration fingerprint and
file sizes). Everything produced here is simulated data and is labelled so downstream.

TESS sectors one at a time (`fetch_star_sector`, used by the `tess_sector_fits` asset): the
simulated archive holds sectors 1..`config.tess_sectors`; sector n of a star is the last segment of
an n-sector simulation of that star (same seeds, so the planets and noise model are the same in
every sector), written under `cache_dir/sectors/s000n/` and indexed per sector, so raising the
sector count adds files without touching the sectors already simulated. Cost grows with n (the
n-sector simulation is run to produce its last sector).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from exo_assets.science.simulator import SimulatorConfig, simulate_star, write_star_fits
from resources.archive.base import FAILED, FOUND, MISSING, FetchResult, cached_files, sector_key, write_index


class SimulatedBackend:
    """Simulate and write FITS files for catalog stars.

    Args:
        cache_dir: root folder; files go below `cache_dir` in MAST's layout.
        config: simulator configuration (seed, quarters, sectors).
        hints: Kepler false-positive mechanism flags (`catalogs.load_generation_hints`), generation only.
    """

    name = "simulated"

    def __init__(self, cache_dir: str | Path, config: SimulatorConfig, hints: pd.DataFrame | None = None):
        self.cache_dir = Path(cache_dir)
        self.config = config
        self.hints = hints

    def fingerprint(self, signals: pd.DataFrame, config: SimulatorConfig | None = None) -> str:
        """Hash of the simulator config and the star's catalog rows (a change re-simulates)."""
        payload = json.dumps(asdict(config or self.config), sort_keys=True) + signals.to_json(
            orient="records", double_precision=10
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _hints_for(self, signals: pd.DataFrame) -> pd.DataFrame | None:
        if self.hints is not None and len(self.hints):
            return self.hints[self.hints["signal_id"].isin(signals["signal_id"])]
        return None

    def tess_sectors(self, star_ids: list[str] | None = None) -> list[int]:
        """Sectors of the simulated TESS archive: 1..config.tess_sectors (every star in every sector)."""
        return list(range(1, int(self.config.tess_sectors) + 1))

    def fetch_star_sector(self, star_id: str, signals: pd.DataFrame, sector: int) -> FetchResult:
        """Simulate and write TESS sector `sector` of one star (cached per sector)."""
        sector = int(sector)
        if sector not in self.tess_sectors():
            return FetchResult(
                star_id,
                MISSING,
                f"the simulated archive has TESS sectors 1..{self.config.tess_sectors}, not {sector}",
                attempts=0,
            )
        config = replace(self.config, tess_sectors=sector)
        fingerprint = self.fingerprint(signals, config)
        cached = cached_files(self.cache_dir, "TESS", star_id, fingerprint, sector=sector)
        if cached:
            return FetchResult(star_id, FOUND, "", cached, attempts=0)
        try:
            star = simulate_star(signals, "TESS", config, self._hints_for(signals))
            star.segments = [seg for seg in star.segments if seg.number == sector]
            star.truth["segments"] = [
                seg for seg in star.truth.get("segments", []) if seg.get("number") == sector
            ]
            root = self.cache_dir / "sectors" / sector_key(sector)
            paths = [str(Path(p).resolve()) for p in write_star_fits(star, root)]
        except Exception as exc:  # one bad star never stops the run
            return FetchResult(
                star_id, FAILED, f"simulation of sector {sector} failed ({type(exc).__name__}: {exc})"
            )
        write_index(self.cache_dir, "TESS", star_id, paths, fingerprint, sector=sector)
        return FetchResult(star_id, FOUND, "", paths)

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        fingerprint = self.fingerprint(signals)
        cached = cached_files(self.cache_dir, mission, star_id, fingerprint)
        if cached:
            return FetchResult(star_id, FOUND, "", cached, attempts=0)
        try:
            star = simulate_star(signals, mission, self.config, self._hints_for(signals))
            paths = [str(Path(p).resolve()) for p in write_star_fits(star, self.cache_dir)]
        except Exception as exc:  # one bad star never stops the run
            return FetchResult(star_id, FAILED, f"simulation failed ({type(exc).__name__}: {exc})")
        write_index(self.cache_dir, mission, star_id, paths, fingerprint)
        return FetchResult(star_id, FOUND, "", paths)
