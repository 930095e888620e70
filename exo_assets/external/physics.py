"""Physical TCE inputs of the external sets: stellar parameters, depth, and the physics derived from them.

Sources (see ../shared/data/SOURCES.md):

``vetting``  astronet_vetting/tce_params.csv, joined on (`row_id`, `tic_id`): TIC `star_rad` (R_sun),
             `star_mass` (M_sun), `teff` (K), `logg` (cgs), the unrescaled `Transit_Depth` (ppm), `Tmag` (mag);
             `Duration` there is in hours (days in the shards, which are kept).
``toi``      the TOI catalog (catalogs/toi.csv; raw archive export): the host's `st_rad`, `st_teff`,
             `st_logg`, `st_tmag`, joined by TIC id (star-level values only; no disposition, no planet fit).
``dr24``     the records' own DR24 `tce_*` columns (`tce_sradius`, `tce_slogg`, `tce_steff`, `tce_depth`...).

The derived physics uses the functions the mission pipeline's diagnostics use
(`exo_assets.science.diagnostics`: `StellarParams.density_cgs`, `density_from_a_rs`, `a_rs_from_density`):
planet radius from depth and R_star, the stellar density implied by the transit (P, T14, depth at b = 0)
over the catalog density, and the observed over the expected (catalog-density, b = 0) duration.

Missing stellar values are imputed physically (`impute_stellar`), never by a class-dependent rule:
log g from mass and radius (g = G M / R^2), mass from log g and radius, and where both are missing
(TIC-8 gives neither for giants and many hot or faint stars) M = clip(R, 0.1, 1.3) M_sun, a main-
sequence-like mass for dwarfs and a typical red-giant mass for large stars. A missing radius is left
NaN (LightGBM routes it; `missingness_report` measures how much the missingness alone says).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from exo_assets.science.diagnostics import StellarParams, a_rs_from_density, density_from_a_rs

#: log10 g of the Sun (cgs) and the solar mass (g).
LOGG_SUN = 4.438
MSUN_G = 1.989e33
#: R_sun / R_earth.
RSUN_OVER_REARTH = 109.2
#: Bounds of the mass imputed from the radius when neither mass nor log g is known (M_sun).
IMPUTED_MASS_BOUNDS = (0.1, 1.3)

#: Column -> (unit, meaning) of the physics features (all float64, NaN where not derivable).
PHYSICS_SCHEMA: dict[str, tuple[str, str]] = {
    "star_radius_rsun": ("R_sun", "stellar radius (catalog)"),
    "star_mass_msun": ("M_sun", "stellar mass (catalog; imputed physically where missing)"),
    "star_teff_k": ("K", "effective temperature (catalog)"),
    "star_logg_cgs": ("log10 cm s^-2", "surface gravity (catalog; imputed from M and R where missing)"),
    "star_density_cgs": ("g cm^-3", "catalog mean stellar density 3 g / (4 pi G R)"),
    "star_mass_imputed": ("0/1", "1 where mass and log g were both missing (mass from the radius)"),
    "tmag_catalog": ("mag", "TESS magnitude (unrescaled; vetting and TOI sets)"),
    "depth_ppm": ("ppm", "transit depth (unrescaled)"),
    "log10_depth_ppm": ("log10 ppm", "log10 of depth_ppm"),
    "planet_radius_re": ("R_earth", "sqrt(depth) x R_star"),
    "log10_planet_radius_re": ("log10 R_earth", "log10 of planet_radius_re"),
    "rho_star_transit_cgs": ("g cm^-3", "stellar density implied by P, T14 and depth (b = 0, circular)"),
    "log10_density_ratio": ("dex", "log10(rho_star_transit / star_density_cgs)"),
    "duration_ratio_expected": ("", "observed T14 / T14 expected from the catalog density (b = 0)"),
    "depth_snr_consistency": ("", "log10(SNR / (depth_ppm x sqrt(n_transits x T14_h)))-like: SNR per depth "
                              "and transit time (a noisy star reaches the same SNR only at larger depth)"),
}
PHYSICS_COLUMNS: list[str] = list(PHYSICS_SCHEMA)
#: DR24 record columns used as they are (units in SOURCES.md; tce_duration is in days in the records).
DR24_TCE_COLUMNS: list[str] = [
    "tce_impact", "tce_model_snr", "tce_prad", "tce_eqt", "tce_insol", "tce_depth_err", "tce_prad_err",
    "tce_impact_err", "tce_sradius_err", "tce_slogg_err",
]
ALL_PHYSICS_COLUMNS: list[str] = PHYSICS_COLUMNS + DR24_TCE_COLUMNS


def _num(x, n: int | None = None) -> np.ndarray:
    if x is None:
        return np.full(int(n or 0), np.nan)
    return pd.to_numeric(pd.Series(np.asarray(x).ravel()), errors="coerce").to_numpy(np.float64)


def _pos(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x) & (x > 0), x, np.nan)


def impute_stellar(radius_rsun, mass_msun, logg_cgs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mass M_sun, log g cgs, imputed flag) with the physical rules of the module docstring.

    log g = 4.438 + log10(M) - 2 log10(R); M = 10^(log g - 4.438) R^2; both missing and R known:
    M = clip(R, 0.1, 1.3). The flag is 1.0 where that last rule was used, else 0.0.
    """
    r, m, g = _pos(_num(radius_rsun)), _pos(_num(mass_msun)), _num(logg_cgs)
    g = np.where(np.isfinite(g), g, np.nan)
    with np.errstate(all="ignore"):
        both = ~np.isfinite(m) & ~np.isfinite(g) & np.isfinite(r)
        m = np.where(~np.isfinite(m) & np.isfinite(g) & np.isfinite(r), 10.0 ** (g - LOGG_SUN) * r**2, m)
        m = np.where(both, np.clip(r, *IMPUTED_MASS_BOUNDS), m)
        g = np.where(~np.isfinite(g) & np.isfinite(m) & np.isfinite(r), LOGG_SUN + np.log10(m) - 2 * np.log10(r), g)
    return m, g, both.astype(np.float64)


def _vec(fn, *arrays) -> np.ndarray:
    """Apply a scalar science function row by row (NaN where an input is not finite or it fails)."""
    out = np.full(len(arrays[0]), np.nan)
    for i, args in enumerate(zip(*arrays)):
        if all(np.isfinite(a) for a in args):
            try:
                out[i] = fn(*args)
            except (ValueError, ZeroDivisionError, OverflowError):
                pass
    return out


def physical_features(period_days, duration_days, depth_ppm, radius_rsun, mass_msun=None, logg_cgs=None,
                      teff_k=None, snr=None, tmag=None) -> pd.DataFrame:
    """`PHYSICS_COLUMNS` per row (float64 DataFrame) from the TCE and catalog values.

    Args:
        period_days, duration_days: orbital period and T14 (days).
        depth_ppm: transit depth (ppm, unrescaled).
        radius_rsun, mass_msun, logg_cgs, teff_k: catalog stellar values (NaN where unknown; mass or
            log g may be None when the source has only one of them).
        snr: the pipeline's signal-to-noise ratio (for `depth_snr_consistency`); tmag: TESS mag.
    """
    p = _pos(_num(period_days))
    n = len(p)
    t, d, r = _pos(_num(duration_days, n)), _pos(_num(depth_ppm, n)), _pos(_num(radius_rsun, n))
    m, g, flag = impute_stellar(r, _num(mass_msun, n), _num(logg_cgs, n))
    rho_cat = _vec(lambda gg, rr: StellarParams(logg_cgs=gg, radius_rsun=rr).density_cgs(), g, r)
    with np.errstate(all="ignore"):
        k = np.sqrt(d * 1e-6)
        rp = k * r * RSUN_OVER_REARTH
        # b = 0, circular: T14 = P / pi * asin((1 + k) / (a/Rs))  ->  a/Rs = (1 + k) / sin(pi T14 / P).
        a_obs = (1.0 + k) / np.sin(np.pi * np.minimum(t / p, 0.5))
        rho_tr = _vec(density_from_a_rs, a_obs, p)
        a_cat = _vec(a_rs_from_density, rho_cat, p)
        t_exp = np.where(a_cat > 1.0 + k, p / np.pi * np.arcsin(np.minimum((1.0 + k) / a_cat, 1.0)), np.nan)
        sn = _pos(_num(snr, n))
        n_tr = np.maximum(1.0, 27.0 / p)
        out = {
            "star_radius_rsun": r, "star_mass_msun": m, "star_teff_k": _pos(_num(teff_k, n)), "star_logg_cgs": g,
            "star_density_cgs": rho_cat, "star_mass_imputed": flag, "tmag_catalog": _num(tmag, n),
            "depth_ppm": d, "log10_depth_ppm": np.log10(d), "planet_radius_re": rp,
            "log10_planet_radius_re": np.log10(rp), "rho_star_transit_cgs": rho_tr,
            "log10_density_ratio": np.log10(rho_tr / rho_cat), "duration_ratio_expected": t / t_exp,
            "depth_snr_consistency": np.log10(sn / (d * np.sqrt(n_tr * t * 24.0))),
        }
    frame = pd.DataFrame({c: np.where(np.isfinite(v), v, np.nan) for c, v in out.items()}, columns=PHYSICS_COLUMNS)
    return frame.astype("float64")


def read_tce_params(path) -> pd.DataFrame:
    """tce_params.csv with `row_id`, `tic_id` as int64 (one row per pair).

    Raises:
        FileNotFoundError: no such file. ValueError: key or value columns missing, or repeated keys.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: tce_params file not found")
    tab = pd.read_csv(path)
    need = {"row_id", "tic_id", "Period", "Duration", "Transit_Depth", "star_rad", "star_mass", "teff", "logg"}
    missing = sorted(need - set(tab.columns))
    if missing:
        raise ValueError(f"{path}: tce_params lacks columns {missing}")
    tab = tab.astype({"row_id": "int64", "tic_id": "int64"})
    if tab.duplicated(["row_id", "tic_id"]).any():
        raise ValueError(f"{path}: repeated (row_id, tic_id) keys")
    return tab


def vetting_physics(features: pd.DataFrame, params: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Physics columns for the vetting set's rows from `read_tce_params` (Duration hours -> days).

    Returns (frame aligned with `features`, {"matched": n, "unmatched": n}).
    """
    keys = features[["row_id", "tic_id"]].astype("int64").reset_index(drop=True)
    j = keys.merge(params, on=["row_id", "tic_id"], how="left", validate="one_to_one")
    frame = physical_features(features["period_days"], j["Duration"] / 24.0, j["Transit_Depth"], j["star_rad"],
                              j["star_mass"], j["logg"], j["teff"], j["SN"] if "SN" in j else None,
                              j["Tmag"] if "Tmag" in j else None)
    matched = int(j["Period"].notna().sum())
    return frame, {"matched": matched, "unmatched": int(len(j) - matched)}


def toi_physics(features: pd.DataFrame, catalog_path) -> tuple[pd.DataFrame, dict]:
    """Physics columns for the TOI-views rows: stellar values of the host from a raw TOI export (by TIC id).

    Only star-level columns are read (`st_rad`, `st_logg`, `st_teff`, `st_tmag`); the depth is the
    shard's own `transit_depth_ppm`.
    """
    from exo_assets.science.catalogs import read_archive_csv

    cat = read_archive_csv(Path(catalog_path))
    need = {"tid", "st_rad", "st_logg", "st_teff", "st_tmag"}
    if not need <= set(cat.columns):
        raise ValueError(f"{catalog_path}: TOI catalog lacks {sorted(need - set(cat.columns))}")
    stars = cat[list(need)].apply(pd.to_numeric, errors="coerce").dropna(subset=["tid"])
    stars = stars.astype({"tid": "int64"}).groupby("tid").median()  # one value per star
    j = stars.reindex(features["tic_id"].astype("int64").to_numpy())
    frame = physical_features(features["period_days"], features["duration_days"], features.get("transit_depth_ppm"),
                              j["st_rad"].to_numpy(), None, j["st_logg"].to_numpy(), j["st_teff"].to_numpy(),
                              features.get("snr"), j["st_tmag"].to_numpy())
    matched = int(j["st_rad"].notna().sum())
    return frame, {"matched": matched, "unmatched": int(len(j) - matched)}


def attach_physics(es, source=None) -> dict:
    """Append the physics columns to an `ExternalSet`'s features in place; returns what was joined.

    vetting: `source` is tce_params.csv; toi: a raw TOI catalog export; dr24: the records' own
    columns (already attached by the reader; `source` ignored). Without a source the set is left as
    it is (the columns are absent, so no model uses them).
    """
    dataset = es.meta.get("dataset")
    if dataset == "dr24" or source is None:
        return {"source": "DR24 records" if dataset == "dr24" else None}
    if dataset == "vetting":
        params = read_tce_params(source)
        frame, info = vetting_physics(es.features, params)
        keys = es.features[["row_id", "tic_id"]].astype("int64").reset_index(drop=True)
        raw = keys.merge(params, on=["row_id", "tic_id"], how="left")
        raw_missing = raw[["star_rad", "star_mass", "logg"]].isna()
    else:
        frame, info = toi_physics(es.features, source)
        raw_missing = pd.DataFrame({"star_rad": frame["star_radius_rsun"].isna(),
                                    "star_logg": frame["star_logg_cgs"].isna()})
    for c in PHYSICS_COLUMNS:
        es.features[c] = frame[c].to_numpy()
    labels = es.features["label"].reset_index(drop=True)
    positive = "PC"
    labelled = labels.isin(es.classes).to_numpy()
    info["source"] = str(source)
    if labelled.any():
        info["missingness"] = missingness_report(raw_missing[labelled].reset_index(drop=True),
                                                 labels[labelled].reset_index(drop=True), positive)
        info["missing_after_imputation"] = {c: float(frame.loc[labelled, c].isna().mean())
                                            for c in ("star_radius_rsun", "star_mass_msun", "star_logg_cgs")}
    es.meta["physics"] = info
    return info


def dr24_physics(scalars: pd.DataFrame) -> pd.DataFrame:
    """Physics columns (plus `DR24_TCE_COLUMNS`) from DR24 records (tce_duration in days in the records)."""
    col = lambda c: scalars[c] if c in scalars else None  # noqa: E731
    frame = physical_features(col("tce_period"), col("tce_duration"), col("tce_depth"), col("tce_sradius"), None,
                              col("tce_slogg"), col("tce_steff"), col("tce_model_snr"))
    for c in DR24_TCE_COLUMNS:
        frame[c] = _num(col(c), len(frame)) if c in scalars else np.nan
    return frame


def missingness_report(raw_missing: pd.DataFrame, labels: pd.Series, positive: str) -> dict:
    """How much the missingness of the raw catalog values says about `positive` vs the rest.

    Args:
        raw_missing: one boolean column per raw stellar value (True = missing in the source).
        labels: class names, aligned.
    Returns:
        {"missing_rate_by_class": {col: {class: rate}}, "auc_missing_count": ROC-AUC of the number of
        missing values as a score for `positive` (0.5 = says nothing; below 0.5 = positives miss less)}.
    """
    y = (labels.to_numpy() == positive).astype(int)
    rates = {c: {str(k): float(v) for k, v in raw_missing[c].groupby(labels.to_numpy()).mean().items()}
             for c in raw_missing.columns}
    score = raw_missing.sum(axis=1).to_numpy(np.float64)
    auc = float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")
    return {"missing_rate_by_class": rates, "auc_missing_count": auc}
