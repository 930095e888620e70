"""Reading Kepler, K2 and TESS light-curve FITS files into plain arrays.

Every archive backend (MAST downloads, a local folder, the simulator) ends in FITS files that go
through `read_lightcurve_file`, which uses lightkurve's readers (PDCSAP flux, all cadences kept
with their quality flags so that cleaning decides what to mask). Times stay in the mission's time
system: BKJD (BJD - 2454833) for Kepler/K2, BTJD (BJD - 2457000) for TESS, in days.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

MIN_FILE_BYTES = 2880  # one FITS block: anything shorter cannot be a FITS file


class LightCurveError(ValueError):
    """A light-curve file or array that cannot be used; `str(err)` is the recorded reason."""


@dataclass
class LightCurveData:
    """One star's light curve as arrays (one or several quarters / campaigns / sectors).

    Attributes:
        star_id: "KIC n", "EPIC n", "TIC n" (or the OBJECT name where no number exists).
        mission: "Kepler", "K2" or "TESS".
        time: float64 days, BKJD (Kepler/K2) or BTJD (TESS).
        flux: float64 PDCSAP flux, e-/s (NaN where the pipeline wrote none).
        flux_err: float64 flux uncertainty, e-/s.
        quality: int32 quality bitmask of the mission.
        segment: int32 quarter / campaign / sector number of each cadence.
        sources: the files the arrays came from.
        header: selected primary-header values (TEFF, LOGG, RADIUS, magnitude, SIMULATD, ...).
    """

    star_id: str
    mission: str
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    segment: np.ndarray
    sources: list[str] = field(default_factory=list)
    header: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.time.size)


_HEADER_KEYS = (
    "OBJECT",
    "TELESCOP",
    "MISSION",
    "KEPLERID",
    "TICID",
    "QUARTER",
    "CAMPAIGN",
    "SECTOR",
    "TEFF",
    "LOGG",
    "RADIUS",
    "KEPMAG",
    "TESSMAG",
    "SIMULATD",
    "CREATOR",
)


def _mission_from_header(hdr) -> str:
    telescope = str(hdr.get("TELESCOP", "")).strip().upper()
    mission = str(hdr.get("MISSION", "")).strip().upper()
    if telescope == "TESS":
        return "TESS"
    if telescope == "KEPLER":
        return "K2" if (mission == "K2" or hdr.get("CAMPAIGN") not in (None, "")) else "Kepler"
    raise LightCurveError(f"not a Kepler/K2/TESS light curve (TELESCOP={hdr.get('TELESCOP')!r})")


def star_id_from_header(hdr) -> str:
    """Star identifier from a primary header: 'KIC n', 'EPIC n' or 'TIC n'."""
    mission = _mission_from_header(hdr)
    if mission == "TESS" and hdr.get("TICID") not in (None, ""):
        return f"TIC {int(hdr['TICID'])}"
    obj = str(hdr.get("OBJECT", "")).strip()
    if mission in ("Kepler", "K2") and hdr.get("KEPLERID") not in (None, ""):
        prefix = "KIC" if mission == "Kepler" else "EPIC"
        # A K2 host known by name (e.g. "K2-18") keeps its name in OBJECT.
        if mission == "K2" and obj and not obj.upper().startswith(("EPIC", "KIC", "KTWO")):
            return obj
        return f"{prefix} {int(hdr['KEPLERID'])}"
    if obj:
        return obj
    raise LightCurveError("FITS header names no star (no KEPLERID, TICID or OBJECT)")


def read_header_identity(path: str | Path) -> tuple[str, str]:
    """(star_id, mission) from a FITS primary header, without reading the data.

    Raises LightCurveError with a reason for files that are empty, truncated, not FITS or not
    Kepler/K2/TESS light curves.
    """
    path = Path(path)
    _check_size(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, lazy_load_hdus=False, memmap=False) as hdul:
                hdr = hdul[0].header.copy()
    except Exception as exc:  # astropy raises OSError / various for garbage
        raise LightCurveError(f"corrupt or unreadable FITS ({type(exc).__name__}: {exc})") from None
    truncated = [w for w in caught if "truncated" in str(w.message).lower()]
    if truncated:
        raise LightCurveError(f"truncated FITS ({truncated[0].message})")
    return star_id_from_header(hdr), _mission_from_header(hdr)


def _check_size(path: Path) -> None:
    if not path.exists():
        raise LightCurveError(f"file does not exist: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise LightCurveError("empty file (0 bytes)")
    if size < MIN_FILE_BYTES or size % 2880 != 0:
        raise LightCurveError(f"truncated FITS ({size} bytes is not a whole number of 2880-byte blocks)")


def read_lightcurve_file(path: str | Path) -> LightCurveData:
    """Read one Kepler/K2/TESS light-curve FITS file with lightkurve (PDCSAP flux, no cadence dropped).

    Raises:
        LightCurveError: empty, truncated or corrupt file; not a light curve; no usable columns.
    """
    import lightkurve as lk

    path = Path(path)
    star_id, mission = read_header_identity(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lc = lk.read(str(path), quality_bitmask="none")
    except Exception as exc:
        raise LightCurveError(f"not a readable light curve ({type(exc).__name__}: {exc})") from None
    if not isinstance(lc, lk.LightCurve):
        raise LightCurveError(f"not a light curve (lightkurve read a {type(lc).__name__})")
    time = np.asarray(lc.time.value, dtype=np.float64)
    flux = np.asarray(lc.flux.value, dtype=np.float64)
    flux_err = np.asarray(lc.flux_err.value, dtype=np.float64)
    if time.size == 0:
        raise LightCurveError("light curve has no cadences")
    quality = np.asarray(lc.quality.value if hasattr(lc.quality, "value") else lc.quality, dtype=np.int64)
    hdr = {k: lc.meta.get(k) for k in _HEADER_KEYS if lc.meta.get(k) is not None}
    seg_no = hdr.get("QUARTER", hdr.get("CAMPAIGN", hdr.get("SECTOR", 0))) or 0
    return LightCurveData(
        star_id=star_id,
        mission=mission,
        time=time,
        flux=flux,
        flux_err=flux_err,
        quality=quality.astype(np.int32),
        segment=np.full(time.size, int(seg_no), dtype=np.int32),
        sources=[str(path)],
        header=hdr,
    )


def stitch(parts: list[LightCurveData]) -> LightCurveData:
    """Concatenate the segments of one star, sorted by time (segments keep their numbers)."""
    if not parts:
        raise LightCurveError("no light-curve segments to stitch")
    ids = {p.star_id for p in parts}
    if len(ids) > 1:
        raise LightCurveError(f"segments of different stars cannot be stitched: {sorted(ids)}")
    order = np.argsort(np.concatenate([p.time for p in parts]), kind="stable")

    def cat(name):
        return np.concatenate([getattr(p, name) for p in parts])[order]

    header = dict(parts[0].header)
    return LightCurveData(
        star_id=parts[0].star_id,
        mission=parts[0].mission,
        time=cat("time"),
        flux=cat("flux"),
        flux_err=cat("flux_err"),
        quality=cat("quality"),
        segment=cat("segment"),
        sources=[s for p in parts for s in p.sources],
        header=header,
    )


def read_star(paths: Sequence[str | Path]) -> tuple[LightCurveData | None, list[tuple[str, str]]]:
    """Read and stitch all files of one star.

    Returns the stitched light curve (None if no file was readable) and a list of
    (file name, reason) for files that could not be read; bad files never raise.
    """
    good, bad = [], []
    for path in paths:
        try:
            good.append(read_lightcurve_file(path))
        except LightCurveError as err:
            bad.append((Path(path).name, str(err)))
    if not good:
        return None, bad
    return stitch(good), bad
