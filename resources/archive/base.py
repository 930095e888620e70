"""Common pieces of the light-curve archive backends: the per-star fetch result and the manifest.

Every backend turns the catalog rows of one star into FITS files on disk (MAST's download layout
under the cache folder, or the user's own folder) and reports, per star, what it found. A backend
never raises for one bad star: it returns a `FetchResult` whose `status` is "missing" or "failed"
with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

FOUND, MISSING, FAILED, SKIPPED = "found", "missing", "failed", "skipped"

MANIFEST_COLUMNS = ["signal_id", "star_id", "status", "reason", "files", "n_files", "n_bytes", "attempts", "backend"]


@dataclass
class FetchResult:
    """Outcome of fetching one star's light curves.

    Attributes:
        star_id: catalog star id.
        status: "found", "missing" (the archive has no data), "failed" (an error) or "skipped"
            (the catalog row cannot be processed).
        reason: why it is not "found" ('' when found).
        paths: FITS files of the star (absolute paths).
        attempts: number of tries made (retries included).
    """

    star_id: str
    status: str
    reason: str = ""
    paths: list[str] = field(default_factory=list)
    attempts: int = 1

    @property
    def n_bytes(self) -> int:
        return int(sum(Path(p).stat().st_size for p in self.paths if Path(p).exists()))


class ArchiveBackend(Protocol):
    """What the `LightCurveArchive` resource needs from a backend."""

    name: str

    def fetch_star(self, star_id: str, mission: str, signals: pd.DataFrame) -> FetchResult:
        """Make the star's FITS files available locally (never raises for a bad star)."""


def safe_name(name: str) -> str:
    """A star id as a file name ("KIC 123" -> "KIC_123")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def index_path(cache_dir: Path, mission: str, star_id: str) -> Path:
    """Where a backend records the files (and sizes) it made available for a star."""
    return Path(cache_dir) / "index" / mission / f"{safe_name(star_id)}.json"


def cached_files(cache_dir: Path, mission: str, star_id: str, fingerprint: str | None = None) -> list[str] | None:
    """The indexed files of a star if all are present with their recorded sizes (and the same
    fingerprint, when given); None means fetch again (missing, resized, corrupted or stale)."""
    path = index_path(cache_dir, mission, star_id)
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
        entries = meta["files"]
    except (ValueError, KeyError):
        return None
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        return None
    for entry in entries:
        f = Path(entry["path"])
        if not f.exists() or f.stat().st_size != entry["size"]:
            return None
    return [e["path"] for e in entries] or None


def write_index(cache_dir: Path, mission: str, star_id: str, paths: list[str], fingerprint: str | None = None) -> None:
    """Record a star's files and sizes atomically."""
    from exo_assets.storage import atomic_write_text

    meta = {"files": [{"path": p, "size": Path(p).stat().st_size} for p in paths]}
    if fingerprint is not None:
        meta["fingerprint"] = fingerprint
    atomic_write_text(index_path(cache_dir, mission, star_id), json.dumps(meta))


def manifest_rows(result: FetchResult, signals: pd.DataFrame, backend: str) -> list[dict]:
    """One manifest row per catalog signal of the star."""
    files = json.dumps(result.paths)
    size = result.n_bytes
    return [
        {
            "signal_id": sid,
            "star_id": result.star_id,
            "status": result.status,
            "reason": result.reason,
            "files": files,
            "n_files": len(result.paths),
            "n_bytes": size,
            "attempts": result.attempts,
            "backend": backend,
        }
        for sid in signals["signal_id"]
    ]


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    """The manifest DataFrame (one row per signal, `MANIFEST_COLUMNS`)."""
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return frame.astype({"n_files": "int64", "n_bytes": "int64", "attempts": "int64"})


def manifest_files(manifest: pd.DataFrame, star_id: str) -> list[str]:
    """FITS paths recorded for a star in a manifest."""
    rows = manifest[manifest["star_id"] == star_id]
    return json.loads(rows["files"].iloc[0]) if len(rows) else []
