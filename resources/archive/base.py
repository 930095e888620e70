"""Common pieces of the light-curve archive backends: the per-star fetch result and the manifest.

Every backend turns the catalog rows of one star into FITS files on disk (MAST's download layout
under the cache folder, or the user's own folder) and reports, per star, what it found. A backend
never raises for one bad star: it returns a `FetchResult` whose `status` is "missing" or "failed"
with a reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

FOUND, MISSING, FAILED, SKIPPED = "found", "missing", "failed", "skipped"

MANIFEST_COLUMNS = [
    "signal_id",
    "star_id",
    "status",
    "reason",
    "files",
    "n_files",
    "n_bytes",
    "attempts",
    "backend",
]


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

    def tess_sectors(self, star_ids: list[str]) -> list[int]:
        """TESS sectors the archive holds light curves for (of these stars, where that matters)."""

    def fetch_star_sector(self, star_id: str, signals: pd.DataFrame, sector: int) -> FetchResult:
        """Make ONE TESS sector's FITS file(s) of the star available locally ("missing" when the
        star was not observed in that sector; never raises for a bad star)."""


def safe_name(name: str) -> str:
    """A star id as a file name ("KIC 123" -> "KIC_123")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def sector_key(sector: int) -> str:
    """Folder name of one TESS sector in the caches ("s0005")."""
    return f"s{int(sector):04d}"


def index_path(cache_dir: Path, mission: str, star_id: str, sector: int | None = None) -> Path:
    """Where a backend records the files (and sizes) it made available for a star (for one TESS
    sector when `sector` is given: `index/TESS/sectors/s0005/<star>.json`)."""
    folder = Path(cache_dir) / "index" / mission
    if sector is not None:
        folder = folder / "sectors" / sector_key(sector)
    return folder / f"{safe_name(star_id)}.json"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (the cache index records it to detect corrupted files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_files(
    cache_dir: Path, mission: str, star_id: str, fingerprint: str | None = None, sector: int | None = None
) -> list[str] | None:
    """The indexed files of a star (of one TESS sector when given) if all are present with their
    recorded sizes and SHA-256 checksums (and the same fingerprint, when given); None means fetch again
    (missing, resized, corrupted or stale)."""
    path = index_path(cache_dir, mission, star_id, sector)
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
        if "sha256" in entry and file_sha256(f) != entry["sha256"]:  # same size, different bytes
            return None
    return [e["path"] for e in entries] or None


def write_index(
    cache_dir: Path,
    mission: str,
    star_id: str,
    paths: list[str],
    fingerprint: str | None = None,
    sector: int | None = None,
) -> None:
    """Record a star's files and sizes (of one TESS sector when given) atomically."""
    from exo_assets.storage import atomic_write_text

    meta: dict[str, object] = {
        "files": [{"path": p, "size": Path(p).stat().st_size, "sha256": file_sha256(p)} for p in paths]
    }
    if fingerprint is not None:
        meta["fingerprint"] = fingerprint
    atomic_write_text(index_path(cache_dir, mission, star_id, sector), json.dumps(meta))


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


def combine_sector_manifests(per_sector: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One whole-mission manifest from per-sector manifests of the same signals (TESS).

    Per signal: "found" with the files of every sector that has them (sector order) if any sector
    has data; else "failed" if a sector failed (the first failure's reason), else "missing"
    (not observed in any of the sectors); "skipped" rows stay skipped. Bytes and tries are summed.

    Raises:
        ValueError: no sectors given.
    """
    if not per_sector:
        raise ValueError("combine_sector_manifests needs at least one sector")
    sectors = sorted(per_sector)
    first = per_sector[sectors[0]]
    by_sector = {n: per_sector[n].set_index("signal_id") for n in sectors}
    rows = []
    for signal_id, star_id, backend in first[["signal_id", "star_id", "backend"]].itertuples(index=False):
        parts = [(n, by_sector[n].loc[signal_id]) for n in sectors if signal_id in by_sector[n].index]
        found = [(n, r) for n, r in parts if r["status"] == FOUND]
        failed = [(n, r) for n, r in parts if r["status"] == FAILED]
        files = [f for _, r in found for f in json.loads(r["files"])]
        if any(r["status"] == SKIPPED for _, r in parts):
            status, reason = SKIPPED, next(r["reason"] for _, r in parts if r["status"] == SKIPPED)
        elif found:
            status, reason = FOUND, ""
        elif failed:
            status = FAILED
            reason = f"failed in TESS sectors {[n for n, _ in failed]} ({failed[0][1]['reason']})"
        else:
            status, reason = MISSING, f"no light curve in TESS sectors {sectors}"
        rows.append(
            {
                "signal_id": signal_id,
                "star_id": star_id,
                "status": status,
                "reason": reason,
                "files": json.dumps(files),
                "n_files": len(files),
                "n_bytes": int(sum(int(r["n_bytes"]) for _, r in found)),
                "attempts": int(sum(int(r["attempts"]) for _, r in parts)),
                "backend": backend,
            }
        )
    return manifest_frame(rows)
