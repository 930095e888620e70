"""`mast` backend: lightkurve search + download of PDCSAP light curves from MAST.

Downloads land in MAST's folder layout under `cache_dir` (lightkurve's `download_dir`), and a small
index file per star (`<cache_dir>/index/<mission>/<star>.json`, file names, sizes and SHA-256) lets
later runs use the cache without touching the network; a cached file whose size or checksum no longer
matches (truncated or corrupted) is fetched again. Network errors are retried with exponential backoff,
then recorded as a failure.

TESS sectors: `tess_sectors(star_ids)` lists the sectors in the lightkurve search results of the
given stars (the "TESS Sector NN" mission names), and `fetch_star_sector` searches and downloads one
sector only (`search_lightcurve(..., sector=n)`), indexed per sector.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from exo_assets.science.missions import mission_info
from resources.archive.base import FAILED, FOUND, MISSING, FetchResult, cached_files, write_index

_SECTOR_NAME = re.compile(r"Sector\s*(\d+)", re.IGNORECASE)


def sectors_in_search(result) -> set[int]:
    """TESS sectors named in a lightkurve SearchResult ("TESS Sector 05" -> 5)."""
    if result is None or len(result) == 0:
        return set()
    return {int(m.group(1)) for name in result.mission if (m := _SECTOR_NAME.search(str(name)))}


class MastBackend:
    """Fetch light curves with lightkurve (`search_lightcurve` + `download_all`).

    Args:
        cache_dir: download folder (MAST layout below it).
        max_retries: tries per star before recording a failure.
        backoff_seconds: first retry delay; doubles each retry.
        sleep: injectable sleep (tests pass a no-op).
    """

    name = "mast"

    def __init__(
        self,
        cache_dir: str | Path,
        max_retries: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.cache_dir = Path(cache_dir)
        self.max_retries = max(1, int(max_retries))
        self.backoff_seconds = float(backoff_seconds)
        self.sleep = sleep

    def cached(self, mission: str, star_id: str) -> list[str] | None:
        """The cached files of a star if every one is present with its recorded size, else None."""
        return cached_files(self.cache_dir, mission, star_id)

    def _search(self, star_id: str, mission: str, sector: int | None = None):
        import lightkurve as lk

        info = mission_info(mission)
        extra = {} if sector is None else {"sector": int(sector)}
        return lk.search_lightcurve(
            star_id, mission=mission, author=info.lightkurve_author, exptime=info.lightkurve_exptime, **extra
        )

    def _search_with_retries(self, star_id: str, mission: str):
        """(search result, '') or (None, last error) after `max_retries` failed searches."""
        last_error = ""
        for attempt in range(1, self.max_retries + 1):
            try:
                return self._search(star_id, mission), ""
            except Exception as exc:  # network, HTTP and parsing errors are all retried
                last_error = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_retries:
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return None, last_error

    def tess_sectors(self, star_ids: list[str]) -> list[int]:
        """Sectors with a SPOC 2-min light curve of any of `star_ids`, from lightkurve searches.

        Raises:
            ConnectionError: every search failed (so a caller never mistakes an outage for "no data").
        """
        sectors: set[int] = set()
        errors = []
        for star_id in star_ids:
            result, error = self._search_with_retries(star_id, "TESS")
            if error:
                errors.append(f"{star_id}: {error}")
                continue
            sectors |= sectors_in_search(result)
        if star_ids and len(errors) == len(star_ids):
            raise ConnectionError(f"every MAST search failed ({errors[0]})")
        return sorted(sectors)

    def _fetch(self, star_id: str, mission: str, sector: int | None) -> FetchResult:
        """Cached files, else search + download with retries (one sector only when `sector` is given)."""
        cached = cached_files(self.cache_dir, mission, star_id, sector=sector)
        if cached:
            return FetchResult(star_id, FOUND, "", cached, attempts=0)
        last_error = ""
        for attempt in range(1, self.max_retries + 1):
            try:
                if sector is None:  # tests replace `_search` with a two-argument fake
                    result = self._search(star_id, mission)
                else:
                    result = self._search(star_id, mission, sector=sector)
                if result is None or len(result) == 0:
                    info = mission_info(mission)
                    where = "" if sector is None else f" in sector {int(sector)}"
                    return FetchResult(
                        star_id,
                        MISSING,
                        f"MAST has no {info.lightkurve_author} "
                        f"{info.lightkurve_exptime}-s light curve{where}",
                        attempts=attempt,
                    )
                collection = result.download_all(download_dir=str(self.cache_dir), quality_bitmask="none")
                paths = [str(Path(lc.meta["FILENAME"]).resolve()) for lc in collection]
                if not paths:
                    raise OSError("download returned no files")
                write_index(self.cache_dir, mission, star_id, paths, sector=sector)
                return FetchResult(star_id, FOUND, "", paths, attempts=attempt)
            except Exception as exc:  # network, HTTP and parsing errors are all retried
                last_error = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_retries:
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return FetchResult(
            star_id,
            FAILED,
            f"MAST download failed after {self.max_retries} tries ({last_error})",
            attempts=self.max_retries,
        )

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        return self._fetch(star_id, mission, None)

    def fetch_star_sector(self, star_id: str, signals: pd.DataFrame, sector: int) -> FetchResult:
        """Search and download one TESS sector of the star (cached per sector)."""
        return self._fetch(star_id, "TESS", int(sector))
