"""Per-star cleaned light curves on disk: one Parquet file per star in a curve folder.

The `cleaned_curves` asset streams through this module: each worker writes the star it cleaned
straight into a staging folder (`write_star_curve`) and hands back only the file's name; the
`features` step reads one star at a time (`read_star_curve`). No step holds every star's curve at
once, so memory does not grow with the catalog; the folder is moved into the asset's versioned
bundle by the IO manager (see `resources.io_managers.write_bundle`), so a failed re-materialization
leaves the previous curves readable.

File layout: `<folder>/<star file>.parquet` with columns `time` (float64 days, BKJD/BTJD), `flux`
(float32 relative flux, out-of-transit level 1), `flux_err` (float32) and `segment` (int32 quarter /
campaign / sector). Workers on a Dask cluster need the staging folder on storage they all share.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from exo_assets.storage.atomic import atomic_path

CURVE_SCHEMA = pa.schema([("time", pa.float64()), ("flux", pa.float32()), ("flux_err", pa.float32()),
                          ("segment", pa.int32())])
STAGING = ".staging"
STALE_AFTER_S = 2 * 86400.0


@dataclass
class StoredCurve:
    """One star's cleaned curve as stored: float64 time (days), float32 flux and flux_err, int32 segment."""

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    segment: np.ndarray

    def __len__(self) -> int:
        return int(self.time.size)


def curve_file_name(star_id: str) -> str:
    """File name of a star's curve: its id made path-safe plus a short hash (ids differing only in
    characters that the safe form replaces, e.g. 'KIC 1' and 'KIC_1', never collide)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(star_id)).strip("._") or "star"
    return f"{safe[:80]}-{hashlib.sha1(str(star_id).encode()).hexdigest()[:8]}.parquet"


def write_star_curve(folder: str | Path, star_id: str, time, flux, flux_err, segment) -> str:
    """Write one star's cleaned curve atomically into `folder`; returns the file name (relative)."""
    name = curve_file_name(star_id)
    table = pa.Table.from_arrays(
        [pa.array(np.asarray(time, dtype=np.float64)), pa.array(np.asarray(flux, dtype=np.float32)),
         pa.array(np.asarray(flux_err, dtype=np.float32)), pa.array(np.asarray(segment, dtype=np.int32))],
        schema=CURVE_SCHEMA)
    with atomic_path(Path(folder) / name, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return name


def read_star_curve(path: str | Path) -> StoredCurve:
    """Read a curve written by `write_star_curve` (raises FileNotFoundError / ValueError when absent or bad)."""
    table = pq.read_table(path)
    if table.schema.names[:4] != CURVE_SCHEMA.names:
        raise ValueError(f"{path}: not a stored curve (columns {table.schema.names})")
    cols = {name: table.column(name).to_numpy() for name in CURVE_SCHEMA.names}
    return StoredCurve(cols["time"], cols["flux"], cols["flux_err"], cols["segment"])


def staging_folder(storage_root: str | Path, asset: str, partition: str | None,
                   stale_after_s: float = STALE_AFTER_S) -> Path:
    """A new, empty folder under `<storage_root>/.staging/` for one materialization's streamed files.

    Folders left there by a process killed mid-run (older than `stale_after_s`) are removed first.
    """
    root = Path(storage_root) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > stale_after_s:
                shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{asset}-{partition or 'all'}-{uuid.uuid4().hex[:12]}"
    folder.mkdir(exist_ok=False)
    return folder


def discard(folder: str | Path | None) -> None:
    """Remove a staging folder (a failed materialization leaves nothing behind)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
