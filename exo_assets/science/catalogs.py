"""NASA Exoplanet Archive catalogs: trimming, label mapping, normalisation and leakage guards.

Three source tables (NASA Exoplanet Archive CSV exports, public domain):
- Kepler: KOI cumulative table (`koi_*` columns; epochs in BKJD, durations in hours, depths in ppm).
- TESS: TESS Objects of Interest (`pl_tranmid` in BJD, `pl_trandurh` in hours, `pl_trandep` in ppm).
- K2: planets and candidates (default parameter set per planet); it has no epoch, duration or
  depth columns, so depth is derived from Rp/Rs and duration from the stellar density (flagged).

The normalised catalog has one row per signal and the columns of `CATALOG_COLUMNS`. Columns that
come from the vetting that produced the labels (`koi_score`, `koi_fpflag_*`, `koi_pdisposition`,
comments) are leakage: they are never part of the catalog; the simulator reads the false-positive
flags through `load_generation_hints` only.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from exo_assets.science.missions import MISSIONS, mission_info

LABELS: tuple[str, ...] = ("CP", "PC", "FP")

#: Raw disposition -> project label, per mission.
LABEL_MAPS: dict[str, dict[str, str]] = {
    "Kepler": {"CONFIRMED": "CP", "CANDIDATE": "PC", "FALSE POSITIVE": "FP"},
    "TESS": {"CP": "CP", "KP": "CP", "PC": "PC", "APC": "PC", "FP": "FP", "FA": "FP"},
    "K2": {"CONFIRMED": "CP", "CANDIDATE": "PC", "FALSE POSITIVE": "FP", "REFUTED": "FP"},
}

#: Raw columns kept in the shipped (trimmed) copy of each table.
SHIPPED_COLUMNS: dict[str, list[str]] = {
    "Kepler": [
        "kepid",
        "kepoi_name",
        "koi_disposition",
        "koi_fpflag_nt",
        "koi_fpflag_ss",
        "koi_fpflag_co",
        "koi_fpflag_ec",
        "koi_period",
        "koi_time0bk",
        "koi_impact",
        "koi_duration",
        "koi_depth",
        "koi_prad",
        "koi_steff",
        "koi_slogg",
        "koi_srad",
        "koi_kepmag",
        "ra",
        "dec",
    ],
    "TESS": [
        "toi",
        "tid",
        "tfopwg_disp",
        "pl_tranmid",
        "pl_orbper",
        "pl_trandurh",
        "pl_trandep",
        "pl_rade",
        "st_tmag",
        "st_teff",
        "st_logg",
        "st_rad",
        "ra",
        "dec",
    ],
    "K2": [
        "pl_name",
        "hostname",
        "default_flag",
        "disposition",
        "pl_orbper",
        "pl_rade",
        "st_teff",
        "st_logg",
        "st_rad",
        "st_mass",
        "sy_gaiamag",
        "ra",
        "dec",
    ],
}

SOURCE_FILES: dict[str, str] = {
    "Kepler": "koi_cumulative.csv",
    "TESS": "toi.csv",
    "K2": "k2pandc.csv",
}

#: Column -> (unit, meaning) of the normalised catalog.
CATALOG_SCHEMA: dict[str, tuple[str, str]] = {
    "signal_id": ("", "signal identifier (KOI name, TOI number, K2 planet name)"),
    "star_id": ("", "host star identifier: 'KIC n', 'TIC n', 'EPIC n' or a K2 host name"),
    "mission": ("", "Kepler, K2 or TESS"),
    "label": ("", "CP confirmed planet / PC planet candidate / FP false positive"),
    "period_days": ("d", "orbital period"),
    "epoch": ("BKJD or BTJD", "mid-transit time in the mission's time system (NaN for K2)"),
    "epoch_system": ("", "time system of `epoch`: BKJD (Kepler, K2) or BTJD (TESS)"),
    "duration_days": ("d", "transit duration T14"),
    "depth_ppm": ("ppm", "transit depth"),
    "impact": ("", "impact parameter b (NaN where the table has none)"),
    "planet_radius_re": ("R_earth", "planet radius"),
    "teff_k": ("K", "stellar effective temperature"),
    "logg_cgs": ("log10(cm s^-2)", "stellar surface gravity"),
    "radius_rsun": ("R_sun", "stellar radius"),
    "mag": ("mag", "Kepler mag (Kepler), Gaia G as Kp proxy (K2), TESS mag (TESS)"),
    "ra_deg": ("deg", "right ascension"),
    "dec_deg": ("deg", "declination"),
    "depth_derived": ("", "True where depth was derived from (Rp/Rs)^2 rather than measured"),
    "duration_derived": ("", "True where duration was derived from period and stellar density"),
    "imputed": (
        "",
        "comma-separated columns filled label-blind (exo_assets.science.catalog_fill); '' if none",
    ),
}
CATALOG_COLUMNS: list[str] = list(CATALOG_SCHEMA)

#: Exact raw column names that derive from the vetting that produced the labels.
LEAKAGE_COLUMNS: frozenset[str] = frozenset(
    {
        "koi_score",
        "koi_pdisposition",
        "koi_disposition",
        "koi_fpflag_nt",
        "koi_fpflag_ss",
        "koi_fpflag_co",
        "koi_fpflag_ec",
        "koi_comment",
        "koi_vet_stat",
        "koi_vet_date",
        "koi_disp_prov",
        "tfopwg_disp",
        "disposition",
        "disp_refname",
        "soltype",
        "comments",
        "toi_id",
        "toi",
        "kepoi_name",
        "kepler_name",
        "pl_name",
        "pl_controv_flag",
    }
)
#: Substrings that mark a column as disposition-derived wherever they appear.
LEAKAGE_PATTERNS: tuple[str, ...] = ("fpflag", "disposition", "disp_", "score", "comment", "vet_")

#: Columns that identify a row but are not physics; models must not see them either.
IDENTIFIER_COLUMNS: frozenset[str] = frozenset({"signal_id", "star_id", "mission", "label", "epoch_system"})


class LeakageError(ValueError):
    """Raised when a table that feeds a model carries a disposition-derived column."""


def leakage_columns(columns) -> list[str]:
    """Return the columns of `columns` that are disposition-derived (exact names or patterns)."""
    found = []
    for col in columns:
        low = str(col).lower()
        if low in LEAKAGE_COLUMNS or any(p in low for p in LEAKAGE_PATTERNS):
            found.append(col)
    return found


def assert_no_leakage(columns) -> None:
    """Raise `LeakageError` if any of `columns` is disposition-derived."""
    bad = leakage_columns(columns)
    if bad:
        raise LeakageError(f"disposition-derived (leakage) columns must not reach a model: {bad}")


def default_catalog_dir() -> Path:
    """Folder of the trimmed catalogs shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "catalogs"


def shipped_path(mission: str, catalog_dir: Path | None = None) -> Path:
    """Path of the shipped, trimmed copy of a mission's table (gzip CSV)."""
    name = SOURCE_FILES[mission].replace(".csv", ".csv.gz")
    return Path(catalog_dir or default_catalog_dir()) / name


def read_archive_csv(path: Path) -> pd.DataFrame:
    """Read a NASA Exoplanet Archive CSV export (lines starting with '#' are comments)."""
    return pd.read_csv(path, comment="#", low_memory=False)


def trim_source_tables(source_dir: Path, dest_dir: Path | None = None) -> list[Path]:
    """Write trimmed gzip copies of the three archive exports (only `SHIPPED_COLUMNS`).

    The export date in each file's comment header is kept as a `# exported:` line.
    """
    dest = Path(dest_dir or default_catalog_dir())
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for mission in MISSIONS:
        src = Path(source_dir) / SOURCE_FILES[mission]
        frame = read_archive_csv(src)
        if mission == "K2":
            frame = frame[frame["default_flag"] == 1]
        frame = frame[SHIPPED_COLUMNS[mission]]
        out = shipped_path(mission, dest)
        with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
            fh.write(f"# NASA Exoplanet Archive export {src.name}, trimmed to the columns exo-assets uses\n")
            fh.write(f"# exported: {_export_date(src)}\n")
            frame.to_csv(fh, index=False)
        written.append(out)
    return written


def _export_date(path: Path) -> str:
    """The export timestamp: the second comment line of an archive export
    (e.g. 'Sat Oct  4 10:09:07 2025')."""
    with open(path, encoding="utf-8") as fh:
        lines = [fh.readline() for _ in range(2)]
    if len(lines) == 2 and lines[1].startswith("#") and lines[1].strip("# \n"):
        return " ".join(lines[1].strip("# \n").split())
    return "unknown"


def catalog_version(mission: str, catalog_dir: Path | None = None) -> str:
    """The export line recorded in the shipped table's header (provenance for reports)."""
    with gzip.open(shipped_path(mission, catalog_dir), "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# exported:"):
                return line.split(":", 1)[1].strip()
            if not line.startswith("#"):
                break
    return "unknown"


def map_labels(dispositions: pd.Series, mission: str) -> pd.Series:
    """Map raw dispositions to CP/PC/FP; unmapped values become NaN."""
    mapping = LABEL_MAPS[mission]
    return dispositions.astype("string").str.strip().str.upper().map(mapping)


def _duration_from_density(period_days, radius_rsun, logg_cgs, planet_radius_re):
    """Central-transit T14 (days) from period and stellar density (via log g and radius).

    a/Rs = (G M P^2 / (4 pi^2 Rs^3))^(1/3) with M = g Rs^2 / G, so a/Rs = (g P^2 / (4 pi^2 Rs))^(1/3).
    T14 = P/pi * arcsin(sqrt((1+k)^2) / (a/Rs)) for b = 0. Missing log g is taken as 4.44 (solar).
    """
    rsun_cm = 6.957e10
    g = 10.0 ** np.where(np.isfinite(logg_cgs), logg_cgs, 4.438)
    rs = np.where(np.isfinite(radius_rsun) & (radius_rsun > 0), radius_rsun, 1.0) * rsun_cm
    p_s = period_days * 86400.0
    a_rs = (g * p_s**2 / (4.0 * np.pi**2 * rs)) ** (1.0 / 3.0)
    k = np.where(np.isfinite(planet_radius_re), planet_radius_re * 0.0091577 / (rs / rsun_cm), 0.0)
    arg = np.clip((1.0 + k) / a_rs, 0.0, 1.0)
    return period_days / np.pi * np.arcsin(arg)


def normalise_catalog(raw: pd.DataFrame, mission: str) -> pd.DataFrame:
    """Turn a raw archive table into the project's per-signal catalog (`CATALOG_COLUMNS`).

    Rows whose disposition maps to no label are dropped. Units: days, ppm, K, R_sun.
    """
    info = mission_info(mission)
    out = pd.DataFrame(index=raw.index)
    if mission == "Kepler":
        out["signal_id"] = "KOI " + raw["kepoi_name"].astype(str)
        out["star_id"] = "KIC " + raw["kepid"].astype("int64").astype(str)
        out["label"] = map_labels(raw["koi_disposition"], mission)
        out["period_days"] = raw["koi_period"]
        out["epoch"] = raw["koi_time0bk"]
        out["duration_days"] = raw["koi_duration"] / 24.0
        out["depth_ppm"] = raw["koi_depth"]
        out["impact"] = raw["koi_impact"]
        out["planet_radius_re"] = raw["koi_prad"]
        out["teff_k"] = raw["koi_steff"]
        out["logg_cgs"] = raw["koi_slogg"]
        out["radius_rsun"] = raw["koi_srad"]
        out["mag"] = raw["koi_kepmag"]
        out["depth_derived"] = False
        out["duration_derived"] = False
    elif mission == "TESS":
        out["signal_id"] = "TOI " + raw["toi"].map(lambda v: f"{v:.2f}")
        out["star_id"] = "TIC " + raw["tid"].astype("int64").astype(str)
        out["label"] = map_labels(raw["tfopwg_disp"], mission)
        out["period_days"] = raw["pl_orbper"]
        out["epoch"] = raw["pl_tranmid"] - info.bjd_offset
        out["duration_days"] = raw["pl_trandurh"] / 24.0
        out["depth_ppm"] = raw["pl_trandep"]
        out["impact"] = np.nan
        out["planet_radius_re"] = raw["pl_rade"]
        out["teff_k"] = raw["st_teff"]
        out["logg_cgs"] = raw["st_logg"]
        out["radius_rsun"] = raw["st_rad"]
        out["mag"] = raw["st_tmag"]
        out["depth_derived"] = False
        out["duration_derived"] = False
    elif mission == "K2":
        raw = raw[raw["default_flag"] == 1] if "default_flag" in raw else raw
        out = pd.DataFrame(index=raw.index)
        out["signal_id"] = "K2 " + raw["pl_name"].astype(str)
        out["star_id"] = raw["hostname"].astype(str)
        out["label"] = map_labels(raw["disposition"], mission)
        out["period_days"] = raw["pl_orbper"]
        out["epoch"] = np.nan
        k = raw["pl_rade"] * 0.0091577 / raw["st_rad"]
        out["depth_ppm"] = (k**2) * 1e6
        out["duration_days"] = _duration_from_density(
            raw["pl_orbper"].to_numpy(float),
            raw["st_rad"].to_numpy(float),
            raw["st_logg"].to_numpy(float),
            raw["pl_rade"].to_numpy(float),
        )
        out["impact"] = np.nan
        out["planet_radius_re"] = raw["pl_rade"]
        out["teff_k"] = raw["st_teff"]
        # log g from mass and radius where the table gives no log g (g = G M / R^2; solar 4.438)
        from_mass = (
            4.438
            + np.log10(raw["st_mass"].where(raw["st_mass"] > 0))
            - 2 * np.log10(raw["st_rad"].where(raw["st_rad"] > 0))
        )
        use_mass = raw["st_logg"].isna() & from_mass.notna()
        out["logg_cgs"] = raw["st_logg"].where(~use_mass, from_mass)
        out["radius_rsun"] = raw["st_rad"]
        out["mag"] = raw["sy_gaiamag"]
        out["imputed"] = np.where(use_mass, "logg_cgs", "")
        out["depth_derived"] = True
        out["duration_derived"] = True
    else:  # pragma: no cover - mission_info already raised
        raise ValueError(mission)
    if "imputed" not in out:
        out["imputed"] = ""
    out["mission"] = mission
    out["epoch_system"] = info.time_system
    out["ra_deg"] = raw["ra"]
    out["dec_deg"] = raw["dec"]
    out = out[out["label"].notna()]
    out = out.drop_duplicates("signal_id")
    out = out[CATALOG_COLUMNS].reset_index(drop=True)
    for col in ("depth_derived", "duration_derived"):
        out[col] = out[col].astype(bool)
    assert_no_leakage([c for c in out.columns])
    return out


def load_catalog(mission: str, catalog_dir: Path | None = None, fill: bool = True) -> pd.DataFrame:
    """Load the shipped table of `mission` and return the normalised per-signal catalog.

    With `fill` (default) missing stellar parameters and depths are filled label-blind
    (`catalog_fill.fill_catalog`; column `imputed`), so that missingness cannot predict the label.
    """
    raw = read_archive_csv(shipped_path(mission, catalog_dir))
    frame = normalise_catalog(raw, mission)
    if fill:
        from exo_assets.science.catalog_fill import fill_catalog

        frame = fill_catalog(frame, mission)[CATALOG_COLUMNS]
    return frame


def load_generation_hints(mission: str, catalog_dir: Path | None = None) -> pd.DataFrame:
    """False-positive mechanism flags per signal, for the simulator's generation only.

    Returns columns `signal_id`, `fp_ss` (stellar eclipse), `fp_co` (centroid offset),
    `fp_nt` (not transit-like), `fp_ec` (ephemeris match). Only Kepler has them; other
    missions return an empty frame. These are leakage: never join them into a model input.
    """
    if mission != "Kepler":
        return pd.DataFrame(columns=["signal_id", "fp_ss", "fp_co", "fp_nt", "fp_ec"])
    raw = read_archive_csv(shipped_path(mission, catalog_dir))
    return pd.DataFrame(
        {
            "signal_id": "KOI " + raw["kepoi_name"].astype(str),
            "fp_ss": raw["koi_fpflag_ss"].fillna(0).astype(int),
            "fp_co": raw["koi_fpflag_co"].fillna(0).astype(int),
            "fp_nt": raw["koi_fpflag_nt"].fillna(0).astype(int),
            "fp_ec": raw["koi_fpflag_ec"].fillna(0).astype(int),
        }
    )


def validate_catalog_rows(catalog: pd.DataFrame) -> pd.Series:
    """Reason per row why a signal cannot be processed ('' where usable).

    A usable row has a finite positive period and a finite positive duration.
    """
    reasons = pd.Series("", index=catalog.index, dtype=object)
    bad_period = ~(np.isfinite(catalog["period_days"]) & (catalog["period_days"] > 0))
    reasons[bad_period] = "catalog period is missing or not positive"
    bad_dur = ~(np.isfinite(catalog["duration_days"]) & (catalog["duration_days"] > 0)) & ~bad_period
    reasons[bad_dur] = "catalog duration is missing or not positive"
    return reasons


def select_targets(catalog: pd.DataFrame, max_stars: int, seed: int = 0) -> pd.DataFrame:
    """A seeded, label-balanced sample of stars, keeping every signal of a chosen star.

    Stars are grouped by their "worst" label (FP over PC over CP) and drawn round-robin over the
    three labels so that small demo runs see every class; `max_stars <= 0` keeps the whole catalog.
    Rows keep the catalog's order.
    """
    if max_stars <= 0 or catalog["star_id"].nunique() <= max_stars:
        return catalog.reset_index(drop=True)
    rank = {"FP": 0, "PC": 1, "CP": 2}
    star_label = (
        catalog.assign(_r=catalog["label"].map(rank))
        .groupby("star_id")["_r"]
        .min()
        .map({v: k for k, v in rank.items()})
    )
    rng = np.random.default_rng(seed)
    pools = {}
    for label in LABELS:
        stars = np.sort(star_label.index[star_label == label].to_numpy())
        pools[label] = list(rng.permutation(stars))
    chosen: list[str] = []
    while len(chosen) < max_stars and any(pools.values()):
        for label in LABELS:
            if pools[label] and len(chosen) < max_stars:
                chosen.append(pools[label].pop())
    keep = catalog["star_id"].isin(set(chosen))
    return catalog[keep].reset_index(drop=True)
