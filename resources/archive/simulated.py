"""`simulated` backend (the embedded default): the catalog-seeded physical simulator writes FITS files.

Each star's files are written in MAST's layout under `cache_dir/simulated/...` together with the
injected truth (for tests only; no model reads it). Files are reused when a star was already
simulated with the same configuration (an index file records the configuration fingerprint and
file sizes). Everything produced here is simulated data and is labelled so downstream.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from exo_assets.science.simulator import SimulatorConfig, simulate_star, write_star_fits
from resources.archive.base import FAILED, FOUND, FetchResult, cached_files, write_index


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

    def fingerprint(self, signals: pd.DataFrame) -> str:
        """Hash of the simulator config and the star's catalog rows (a change re-simulates)."""
        payload = json.dumps(asdict(self.config), sort_keys=True) + signals.to_json(orient="records", double_precision=10)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        fingerprint = self.fingerprint(signals)
        cached = cached_files(self.cache_dir, mission, star_id, fingerprint)
        if cached:
            return FetchResult(star_id, FOUND, "", cached, attempts=0)
        try:
            hints = None
            if self.hints is not None and len(self.hints):
                hints = self.hints[self.hints["signal_id"].isin(signals["signal_id"])]
            star = simulate_star(signals, mission, self.config, hints)
            paths = [str(Path(p).resolve()) for p in write_star_fits(star, self.cache_dir)]
        except Exception as exc:  # one bad star never stops the run
            return FetchResult(star_id, FAILED, f"simulation failed ({type(exc).__name__}: {exc})")
        write_index(self.cache_dir, mission, star_id, paths, fingerprint)
        return FetchResult(star_id, FOUND, "", paths)
