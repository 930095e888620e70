"""`local` backend: a folder of Kepler/K2/TESS FITS files (MAST layout or flat).

Files are matched to catalog stars by the KIC / EPIC / TIC number in their primary header, not by
file name, so any folder layout works. Files that cannot be identified are reported by
`LocalFolderBackend.unreadable` with a reason. TESS files are also indexed by the SECTOR keyword of
their primary header (`tess_sectors`, `fetch_star_sector`), so a folder that receives a new
sector's files shows a new sector.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exo_assets.science.lightcurves import LightCurveError, read_header_identity
from resources.archive.base import FOUND, MISSING, FetchResult


def header_sector(path: str | Path) -> int | None:
    """The SECTOR keyword of a TESS FITS primary header (None when absent or not an integer)."""
    from astropy.io import fits

    try:
        value = fits.getval(str(path), "SECTOR", 0)
        return int(value)
    except (KeyError, ValueError, TypeError, OSError):
        return None


class LocalFolderBackend:
    """Serve FITS files from `folder` (searched recursively for *.fits and *.fits.gz)."""

    name = "local"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._index: dict[tuple[str, str], list[str]] | None = None
        self._sectors: dict[str, int] = {}
        self.unreadable: list[tuple[str, str]] = []

    def index(self) -> dict[tuple[str, str], list[str]]:
        """(mission, star_id) -> sorted FITS paths; built once per backend instance."""
        if self._index is None:
            index: dict[tuple[str, str], list[str]] = {}
            self.unreadable = []
            self._sectors = {}
            if self.folder.is_dir():
                candidates = sorted(p for pat in ("*.fits", "*.fits.gz") for p in self.folder.rglob(pat))
                for path in candidates:
                    try:
                        star_id, mission = read_header_identity(path)
                    except LightCurveError as err:
                        self.unreadable.append((str(path), str(err)))
                        continue
                    resolved = str(path.resolve())
                    index.setdefault((mission, star_id), []).append(resolved)
                    if mission == "TESS":
                        sector = header_sector(path)
                        if sector is not None:
                            self._sectors[resolved] = sector
            self._index = {k: sorted(v) for k, v in index.items()}
        return self._index

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        if not self.folder.is_dir():
            return FetchResult(star_id, MISSING, f"local folder does not exist: {self.folder}")
        paths = self.index().get((mission, star_id))
        if not paths:
            return FetchResult(star_id, MISSING, f"no {mission} FITS file for {star_id} in {self.folder}")
        return FetchResult(star_id, FOUND, "", paths)

    def stars(self, mission: str) -> set[str]:
        """Stars of `mission` that have at least one readable file."""
        return {star for (m, star) in self.index() if m == mission}

    def tess_sectors(self, star_ids: list[str] | None = None) -> list[int]:
        """Sorted SECTOR values of the folder's readable TESS files (of `star_ids` when given)."""
        wanted = None if star_ids is None else set(star_ids)
        sectors = {
            self._sectors[p]
            for (m, star), paths in self.index().items()
            if m == "TESS" and (wanted is None or star in wanted)
            for p in paths
            if p in self._sectors
        }
        return sorted(sectors)

    def fetch_star_sector(self, star_id: str, signals: pd.DataFrame, sector: int) -> FetchResult:
        """The star's TESS files whose header says SECTOR = `sector`."""
        if not self.folder.is_dir():
            return FetchResult(star_id, MISSING, f"local folder does not exist: {self.folder}")
        paths = [p for p in self.index().get(("TESS", star_id), []) if self._sectors.get(p) == int(sector)]
        if not paths:
            return FetchResult(
                star_id, MISSING, f"no TESS sector {int(sector)} FITS file for {star_id} in {self.folder}"
            )
        return FetchResult(star_id, FOUND, "", paths)
