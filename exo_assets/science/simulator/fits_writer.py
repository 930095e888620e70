"""Write simulated stars as MAST-like light-curve FITS files plus a truth JSON (no lightkurve).

Layout under `cache_dir` (the folders lightkurve's MAST downloads use):
- Kepler: mastDownload/Kepler/kplr{kic:09d}_lc_Q{q}/kplr{kic:09d}-q{q:02d}_llc.fits
- K2:     mastDownload/K2/ktwo{epic:09d}-c{c:02d}_lc/ktwo{epic:09d}-c{c:02d}_llc.fits
- TESS:   mastDownload/TESS/tess-s{sector:04d}-{tic:016d}/tess-s{sector:04d}-{tic:016d}-0000-s_lc.fits
- truth:  truth/{mission}/{safe_star_id}.json (outside mastDownload, so nothing that globs the
  light curves ever sees it; the truth is for tests only and never read by models).

Headers follow the SPOC/Kepler pipeline files closely enough for `lightkurve.read` to return a
KeplerLightCurve / TessLightCurve (TELESCOP, ORIGIN and CREATOR containing
"LightCurveExporterPipelineModule"), with SIMULATD = T (and TESS's own SIMDATA = T) marking the
data as simulated. Each file has a data-less primary HDU, the LIGHTCURVE binary table (TIME in
BKJD/BTJD with BJDREFI 2454833 / 2457000, SAP and PDCSAP fluxes in e-/s, SAP_QUALITY or QUALITY,
MOM_CENTR1/2 centroids) and a small APERTURE image. The bytes are formatted by `fits_format`
(astropy's header machinery costs ~100 ms per file). Writes are atomic: a temporary file in the
destination folder, then os.replace.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from exo_assets.science.missions import mission_info
from exo_assets.science.simulator import fits_format as ff
from exo_assets.science.simulator.core import Segment, SimulatedStar
from exo_assets.science.simulator.rng import stable_hash

CREATOR = "LightCurveExporterPipelineModule exo-assets simulator"
ORIGIN = "exo-assets simulator"
SIMULATED_COMMENT = "SIMULATED DATA made by the exo-assets simulator; not mission data"
FAKE_EPIC_BASE = 290_000_000  # outside the real EPIC range (201-251 million)
_TIME_UNIT = {"BKJD": "BJD - 2454833", "BTJD": "BJD - 2457000, days"}


def target_number(star_id: str, mission: str) -> int:
    """KEPLERID / TICID of a star: the number in 'KIC n' / 'EPIC n' / 'TIC n'.

    K2 hosts known only by name (e.g. 'K2-18', 'BD+20 594') get a stable fake 9-digit EPIC-like id
    290000000 + crc32(name) mod 1e7, outside the real EPIC range; the name goes into OBJECT.
    """
    m = re.fullmatch(r"\s*(KIC|EPIC|TIC|KTWO|KPLR)\s*0*(\d+)\s*", str(star_id), flags=re.IGNORECASE)
    if m:
        return int(m.group(2))
    if mission == "K2":
        return FAKE_EPIC_BASE + stable_hash(str(star_id)) % 10_000_000
    raise ValueError(f"cannot derive a {mission} target number from star id {star_id!r}")


def safe_star_id(star_id: str) -> str:
    """File-name-safe star id: 'KIC 11442793' -> 'KIC_11442793', 'BD+20 594' -> 'BD+20_594'."""
    return re.sub(r"[^A-Za-z0-9+.-]+", "_", str(star_id)).strip("_") or "star"


def segment_path(star_id: str, mission: str, number: int, cache_dir: Path) -> Path:
    """Path of one segment's FITS file under `cache_dir` (MAST download layout)."""
    tid = target_number(star_id, mission)
    root = Path(cache_dir) / "mastDownload" / mission
    if mission == "Kepler":
        return root / f"kplr{tid:09d}_lc_Q{number}" / f"kplr{tid:09d}-q{number:02d}_llc.fits"
    if mission == "K2":
        stem = f"ktwo{tid:09d}-c{number:02d}"
        return root / f"{stem}_lc" / f"{stem}_llc.fits"
    if mission == "TESS":
        stem = f"tess-s{number:04d}-{tid:016d}"
        return root / stem / f"{stem}-0000-s_lc.fits"
    mission_info(mission)
    raise ValueError(mission)


def truth_path(star_id: str, mission: str, cache_dir: Path) -> Path:
    """Path of a star's truth JSON: cache_dir/truth/{mission}/{safe_star_id}.json."""
    mission_info(mission)
    return Path(cache_dir) / "truth" / mission / f"{safe_star_id(star_id)}.json"


def read_truth(star_id: str, mission: str, cache_dir: Path) -> dict:
    """Load the truth JSON written by `write_star_fits` (tests and validation only)."""
    with open(truth_path(star_id, mission, cache_dir), encoding="utf-8") as fh:
        return json.load(fh)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _val(v):
    """Header value: None (written blank) for missing or non-finite numbers."""
    if v is None:
        return None
    try:
        return None if not np.isfinite(v) else float(v)
    except TypeError:
        return v


def _object_name(star: SimulatedStar, tid: int) -> str:
    prefix = star.star_id.split()[0].upper() if star.star_id.split() else ""
    return f"{prefix} {tid}" if prefix in ("KIC", "TIC", "EPIC") else star.star_id


def _identity_cards(star: SimulatedStar, seg: Segment) -> list[tuple]:
    """(keyword, value, comment) shared by the primary and the LIGHTCURVE header."""
    mission = star.mission
    cat = star.truth.get("star", {}).get("catalog", {})
    tid = target_number(star.star_id, mission)
    out: list[tuple] = [
        ("TELESCOP", "TESS" if mission == "TESS" else "Kepler", "telescope"),
        ("INSTRUME", "TESS Photometer" if mission == "TESS" else "Kepler Photometer", "detector type"),
        ("OBJECT", _object_name(star, tid), "string version of target id"),
    ]
    if mission == "TESS":
        out.append(("TICID", tid, "unique tess target identifier"))
    else:
        out.append(("KEPLERID", tid, "unique Kepler target identifier"))
    out += [
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", _val(cat.get("ra_deg")), "[deg] right ascension"),
        ("DEC_OBJ", _val(cat.get("dec_deg")), "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
    ]
    return out


def _primary_cards(star: SimulatedStar, seg: Segment) -> list[str]:
    mission = star.mission
    cat = star.truth.get("star", {}).get("catalog", {})
    ident = _identity_cards(star, seg)
    cards = [
        ("NEXTEND", 2, "number of standard extensions"),
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("SIMDATA", True, "file is based on simulated data"),
        ("SIMULATD", True, "simulated by the exo-assets simulator"),
        ("ORIGIN", ORIGIN, "institution responsible for this file"),
        ("CREATOR", CREATOR, "program"),
        ("PROCVER", f"exo-assets-simulator-{star.truth.get('simulator_version', '1')}", "SW version"),
        ("FILEVER", "6.1" if mission != "TESS" else "1.0", "file format version"),
        ("TIMVERSN", "OGIP/93-003", "OGIP memo number for file format"),
    ]
    cards += ident[:4]
    if mission == "TESS":
        h = stable_hash(star.star_id)
        cards += [
            ("SECTOR", seg.number, "Observing sector"),
            ("CAMERA", 1 + h % 4, "Camera number"),
            ("CCD", 1 + (h >> 4) % 4, "CCD chip number"),
        ]
    elif mission == "Kepler":
        cards += [("QUARTER", seg.number, "Observing quarter"), ("OBSMODE", "long cadence", "observing mode")]
    else:
        cards += [
            ("CAMPAIGN", seg.number, "Observing campaign number"),
            ("OBSMODE", "long cadence", "observing mode"),
        ]
    cards.append(("MISSION", mission, "Mission name"))
    cards += ident[4:]
    if mission == "TESS":
        cards.append(("TESSMAG", _val(cat.get("mag")), "[mag] TESS magnitude"))
    else:
        cards.append(("KEPMAG", _val(cat.get("mag")), "[mag] Kepler magnitude (Kp)"))
    cards += [
        ("TEFF", _val(cat.get("teff_k")), "[K] Effective temperature"),
        ("LOGG", _val(cat.get("logg_cgs")), "[cm/s2] log10 surface gravity"),
        ("RADIUS", _val(cat.get("radius_rsun")), "[solar radii] stellar radius"),
    ]
    if mission == "TESS":
        cards += [
            ("TSTART", float(seg.time[0]), "observation start time in TJD"),
            ("TSTOP", float(seg.time[-1]), "observation stop time in TJD"),
        ]
    return [ff.card(*c) for c in cards] + [ff.card("COMMENT", SIMULATED_COMMENT)]


def _lightcurve_bytes(star: SimulatedStar, seg: Segment) -> bytes:
    mission = star.mission
    info = mission_info(mission)
    n = seg.time.size
    cad = info.cadence_days
    ref = 131.512 if mission != "TESS" else 1325.2956
    cadenceno = np.round((seg.time - ref) / cad) + (1105 if mission != "TESS" else 4697)
    sap = seg.sap_flux if seg.sap_flux is not None else seg.flux
    ratio = np.nanmedian(sap) / np.nanmedian(seg.flux) if np.isfinite(seg.flux).any() else 1.0
    bkg = seg.sap_bkg if seg.sap_bkg is not None else np.zeros(n)
    nan = np.full(n, np.nan)
    ccol = seg.centroid_col if seg.centroid_col is not None else nan
    crow = seg.centroid_row if seg.centroid_row is not None else nan
    cen_err = np.where(np.isfinite(ccol), 1e-3, np.nan)
    qname = "QUALITY" if mission == "TESS" else "SAP_QUALITY"
    columns = [
        ("TIME", "D", _TIME_UNIT[info.time_system], "D14.7", seg.time),
        ("TIMECORR", "E", "d", "E13.6", np.zeros(n)),
        ("CADENCENO", "J", None, "I10", cadenceno),
        ("SAP_FLUX", "E", "e-/s", "E14.7", sap),
        ("SAP_FLUX_ERR", "E", "e-/s", "E14.7", seg.flux_err * ratio),
        ("SAP_BKG", "E", "e-/s", "E14.7", bkg),
        ("SAP_BKG_ERR", "E", "e-/s", "E14.7", np.sqrt(np.abs(bkg))),
        ("PDCSAP_FLUX", "E", "e-/s", "E14.7", seg.flux),
        ("PDCSAP_FLUX_ERR", "E", "e-/s", "E14.7", seg.flux_err),
        (qname, "J", None, "B16.16", seg.quality),
        ("MOM_CENTR1", "D", "pixel", "F10.5", ccol),
        ("MOM_CENTR1_ERR", "E", "pixel", "E14.7", cen_err),
        ("MOM_CENTR2", "D", "pixel", "F10.5", crow),
        ("MOM_CENTR2_ERR", "E", "pixel", "E14.7", cen_err),
    ]
    cards = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "LIGHTCURVE", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("SIMDATA", True, "file is based on simulated data"),
        *_identity_cards(star, seg),
        ("TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times"),
        ("TASSIGN", "SPACECRAFT", "where time is assigned"),
        ("TIMESYS", "TDB", "time system is barycentric JD"),
        ("BJDREFI", int(info.bjd_offset), "integer part of BJD reference date"),
        ("BJDREFF", 0.0, "fraction of the day in BJD reference date"),
        ("TIMEUNIT", "d", "time unit for TIME, TSTART and TSTOP"),
        ("TELAPSE", float(seg.time[-1] - seg.time[0]), "[d] TSTOP - TSTART"),
        ("TSTART", float(seg.time[0]), "observation start time in BJD-BJDREF"),
        ("TSTOP", float(seg.time[-1]), "observation stop time in BJD-BJDREF"),
        ("TIMEPIXR", 0.5, "bin time beginning=0 middle=0.5 end=1"),
        ("TIMEDEL", float(cad), "[d] time resolution of data"),
        ("CROWDSAP", 1.0, "Ratio of target flux to total flux in op. ap."),
        ("FLFRCSAP", 0.85 if mission != "TESS" else 0.80, "Frac. of target flux w/in the op. aperture"),
    ]
    return ff.bintable_hdu(columns, [ff.card(*c) for c in cards] + [ff.card("COMMENT", SIMULATED_COMMENT)])


def _aperture_bytes(star: SimulatedStar, seg: Segment) -> bytes:
    ap = np.ones((5, 5), np.int32)
    ap[1:4, 1:4] = 3  # bit 1 collected, bit 2 in the optimal aperture
    cards = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "APERTURE", "name of extension"),
        *_identity_cards(star, seg)[:3],
    ]
    return ff.image_hdu(ap, [ff.card(*c) for c in cards])


def fits_bytes(star: SimulatedStar, seg: Segment) -> bytes:
    """The complete FITS file of one segment (primary, LIGHTCURVE, APERTURE)."""
    return (
        ff.primary_hdu(_primary_cards(star, seg)) + _lightcurve_bytes(star, seg) + _aperture_bytes(star, seg)
    )


def write_star_fits(star: SimulatedStar, cache_dir: Path) -> list[Path]:
    """Write one FITS per segment in MAST's download layout plus the truth JSON; return the FITS paths.

    Each file is written to a temporary name in its destination folder and moved into place with
    os.replace, so readers never see a partial file. Existing files are replaced.
    """
    paths = []
    for seg in star.segments:
        data = fits_bytes(star, seg)
        path = segment_path(star.star_id, star.mission, seg.number, cache_dir)
        _atomic_write(path, lambda fh, d=data: fh.write(d))
        paths.append(path)
    text = json.dumps(star.truth, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    _atomic_write(truth_path(star.star_id, star.mission, cache_dir), lambda fh: fh.write(text))
    return paths
