"""`local` backend: a folder of Kepler/K2/TESS FITS files (MAST layout or flat).

Files are matched to catalog stars by the KIC / EPIC / TIC number in their primary header, not by
file name, so any folder layout works. Files that cannot be identified are reported by
`LocalFolderBackend.unreadable` with a reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exo_assets.science.lightcurves import LightCurveError, read_header_identity
from resources.archive.base import FOUND, MISSING, FetchResult


class LocalFolderBackend:
    """Serve FITS files from `folder` (searched recursively for *.fits and *.fits.gz)."""

    name = "local"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._index: dict[tuple[str, str], list[str]] | None = None
        self.unreadable: list[tuple[str, str]] = []

    def index(self) -> dict[tuple[str, str], list[str]]:
        """(mission, star_id) -> sorted FITS paths; built once per backend instance."""
        if self._index is None:
            index: dict[tuple[str, str], list[str]] = {}
            self.unreadable = []
            if self.folder.is_dir():
                candidates = sorted(p for pat in ("*.fits", "*.fits.gz") for p in self.folder.rglob(pat))
                for path in candidates:
                    try:
                        star_id, mission = read_header_identity(path)
                    except LightCurveError as err:
                        self.unreadable.append((str(path), str(err)))
                        continue
                    index.setdefault((mission, star_id), []).append(str(path.resolve()))
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
