"""`mast` backend: lightkurve search + download of PDCSAP light curves from MAST.

Downloads land in MAST's folder layout under `cache_dir` (lightkurve's `download_dir`), and a small
index file per star (`<cache_dir>/index/<mission>/<star>.json`, file names and sizes) lets later runs
use the cache without touching the network; a cached file whose size no longer matches is fetched
again. Network errors are retried with exponential backoff, then recorded as a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from exo_assets.science.missions import mission_info
from resources.archive.base import FAILED, FOUND, MISSING, FetchResult, cached_files, write_index


class MastBackend:
    """Fetch light curves with lightkurve (`search_lightcurve` + `download_all`).

    Args:
        cache_dir: download folder (MAST layout below it).
        max_retries: tries per star before recording a failure.
        backoff_seconds: first retry delay; doubles each retry.
        sleep: injectable sleep (tests pass a no-op).
    """

    name = "mast"

    def __init__(self, cache_dir: str | Path, max_retries: int = 3, backoff_seconds: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.cache_dir = Path(cache_dir)
        self.max_retries = max(1, int(max_retries))
        self.backoff_seconds = float(backoff_seconds)
        self.sleep = sleep

    def cached(self, mission: str, star_id: str) -> list[str] | None:
        """The cached files of a star if every one is present with its recorded size, else None."""
        return cached_files(self.cache_dir, mission, star_id)

    def _search(self, star_id: str, mission: str):
        import lightkurve as lk

        info = mission_info(mission)
        return lk.search_lightcurve(star_id, mission=mission, author=info.lightkurve_author,
                                    exptime=info.lightkurve_exptime)

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        cached = self.cached(mission, star_id)
        if cached:
            return FetchResult(star_id, FOUND, "", cached, attempts=0)
        last_error = ""
        for attempt in range(1, self.max_retries + 1):
            try:
                result = self._search(star_id, mission)
                if result is None or len(result) == 0:
                    info = mission_info(mission)
                    return FetchResult(star_id, MISSING,
                                       f"MAST has no {info.lightkurve_author} {info.lightkurve_exptime}-s light curve",
                                       attempts=attempt)
                collection = result.download_all(download_dir=str(self.cache_dir), quality_bitmask="none")
                paths = [str(Path(lc.meta["FILENAME"]).resolve()) for lc in collection]
                if not paths:
                    raise OSError("download returned no files")
                write_index(self.cache_dir, mission, star_id, paths)
                return FetchResult(star_id, FOUND, "", paths, attempts=attempt)
            except Exception as exc:  # network, HTTP and parsing errors are all retried
                last_error = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_retries:
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return FetchResult(star_id, FAILED, f"MAST download failed after {self.max_retries} tries ({last_error})",
                           attempts=self.max_retries)
