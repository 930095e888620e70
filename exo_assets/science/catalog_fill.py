"""Label-blind filling of missing catalog values, so that "a value was missing" predicts nothing.

The archive tables miss values in a label-correlated way: 82 % of K2 false positives have no depth
(no planet radius was ever fitted) against 4-16 % of planets, 5 % of Kepler FPs and PCs have no
stellar parameters against 0.1 % of confirmed planets. Left as NaN, these holes are a shortcut a
model learns (K2: "depth missing" alone separates planets from FPs at ROC-AUC 0.86) and real data
from a mission pipeline never offers (a TCE always has a measured depth and a stellar-catalog star).

`fill_catalog` fills, per mission and never looking at the label:
1. physics first: log g from mass and radius where the table has them (K2: `st_mass`, see
   `catalogs.normalise_catalog`); depth = (Rp / R*)^2 where the planet radius is known;
2. stellar parameters (Teff K, log g cgs, R* R_sun) by nearest-neighbour hot-deck: a donor star with
   all three known, drawn among the `K_NEIGHBOURS` donors closest in the star's known parameters
   (standardised), or among all donors when none is known; the magnitude from a random donor;
3. depth (ppm) by hot-deck from the `K_NEIGHBOURS` signals closest in log period;
4. K2's derived duration (d) recomputed from the filled stellar density.
Donors are drawn with a generator seeded by (seed, crc32(mission|star or signal id|column)), so
the fill is deterministic and independent of row order. `imputed` lists the filled columns of each
row (comma-separated; not a model input).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

STAR_COLUMNS: tuple[str, ...] = ("teff_k", "logg_cgs", "radius_rsun")
K_NEIGHBOURS = 15
#: R_earth / R_sun.
RE_PER_RSUN = 0.0091577


def _rng(seed: int, mission: str, key: str, column: str) -> np.random.Generator:
    return np.random.default_rng(
        [int(seed) & 0xFFFFFFFF, zlib.crc32(f"{mission}|{key}|{column}".encode()) & 0xFFFFFFFF]
    )


def _positive(values) -> np.ndarray:
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    return np.isfinite(v) & (v > 0)


def _finite(values) -> np.ndarray:
    return np.isfinite(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float))


def nearest_donor(
    rng: np.random.Generator, donors: np.ndarray, query: np.ndarray, k: int = K_NEIGHBOURS
) -> int:
    """Index of a donor drawn uniformly among the k rows of `donors` (n, d) nearest to `query` (d,),
    using only the query's finite coordinates (all donors when none is finite)."""
    use = np.isfinite(query)
    if not use.any():
        return int(rng.integers(len(donors)))
    d = np.sqrt(((donors[:, use] - query[use]) ** 2).sum(axis=1))
    k = max(1, min(k, len(donors)))
    near = np.sort(np.argpartition(d, k - 1)[:k]) if k < len(donors) else np.arange(len(donors))
    return int(near[rng.integers(len(near))])


def _star_table(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [*STAR_COLUMNS, "mag"]
    return frame.sort_values("signal_id", kind="stable").groupby("star_id", sort=True)[cols].first()


def fill_stars(frame: pd.DataFrame, mission: str, seed: int = 0) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Fill Teff, log g, R* (joint nearest-neighbour hot-deck) and mag per star; return (frame,
    star -> filled)."""
    stars = _star_table(frame)
    valid = pd.DataFrame(
        {c: _positive(stars[c]) if c != "logg_cgs" else _finite(stars[c]) for c in STAR_COLUMNS},
        index=stars.index,
    )
    full = valid.all(axis=1).to_numpy()
    if not full.any():
        return frame, {}
    x = stars[list(STAR_COLUMNS)].to_numpy(float).copy()
    x[:, 0] = np.log10(np.where(x[:, 0] > 0, x[:, 0], np.nan))
    x[:, 2] = np.log10(np.where(x[:, 2] > 0, x[:, 2], np.nan))
    x[~valid.to_numpy()] = np.nan
    mu, sd = np.nanmean(x[full], axis=0), np.nanstd(x[full], axis=0) + 1e-9
    z = (x - mu) / sd
    donors, donor_vals = z[full], stars.loc[full, list(STAR_COLUMNS)].to_numpy(float)
    mags = stars["mag"].to_numpy(float)
    mag_ok = np.isfinite(mags)
    filled: dict[str, list[str]] = {}
    vals = stars[list(STAR_COLUMNS)].to_numpy(float).copy()
    ok = valid.to_numpy()
    ids = stars.index.astype(str)
    for i in np.flatnonzero(~ok.all(axis=1)):
        pick = nearest_donor(_rng(seed, mission, ids[i], "star"), donors, z[i])
        miss = np.flatnonzero(~ok[i])
        vals[i, miss] = donor_vals[pick, miss]
        filled[ids[i]] = [STAR_COLUMNS[j] for j in miss]
    if mag_ok.any():
        for i in np.flatnonzero(~mag_ok):
            mags[i] = float(mags[mag_ok][_rng(seed, mission, ids[i], "mag").integers(mag_ok.sum())])
            filled.setdefault(ids[i], []).append("mag")
    new = pd.DataFrame(vals, index=stars.index, columns=list(STAR_COLUMNS)).assign(mag=mags)
    out = frame.copy()
    for c in (*STAR_COLUMNS, "mag"):
        own = pd.to_numeric(out[c], errors="coerce").astype(float)
        keep = np.isfinite(own) & ((own > 0) | (c == "logg_cgs"))
        out[c] = own.where(keep, out["star_id"].map(new[c]).astype(float))
    return out, filled


def fill_depths(frame: pd.DataFrame, mission: str, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Missing depth (ppm): (Rp/R*)^2 where the planet radius is known, else a hot-deck donor among the
    K_NEIGHBOURS signals nearest in log period. Returns (frame, filled signal ids)."""
    order = np.argsort(frame["signal_id"].astype(str).to_numpy(), kind="stable")
    out = frame.iloc[order].copy()  # donors in signal-id order: the fill does not depend on row order
    depth = pd.to_numeric(out["depth_ppm"], errors="coerce").to_numpy(float)
    ok = np.isfinite(depth) & (depth > 0)
    k = (
        pd.to_numeric(out["planet_radius_re"], errors="coerce").to_numpy(float)
        * RE_PER_RSUN
        / out["radius_rsun"].to_numpy(float)
    )
    physical = ~ok & np.isfinite(k) & (k > 0)
    depth[physical] = k[physical] ** 2 * 1e6
    logp = np.log10(pd.to_numeric(out["period_days"], errors="coerce").to_numpy(float))
    donors = ok & np.isfinite(logp)
    filled = list(out.loc[physical, "signal_id"].astype(str))
    if donors.any():
        d_logp, d_depth = logp[donors][:, None], depth[donors]
        for i in np.flatnonzero(~ok & ~physical):
            sid = str(out["signal_id"].iloc[i])
            pick = nearest_donor(_rng(seed, mission, sid, "depth_ppm"), d_logp, np.array([logp[i]]))
            depth[i] = d_depth[pick]
            filled.append(sid)
    out["depth_ppm"] = depth
    return out.iloc[np.argsort(order, kind="stable")], filled


def fill_catalog(frame: pd.DataFrame, mission: str, seed: int = 0) -> pd.DataFrame:
    """The normalised catalog with missing stellar parameters and depths filled label-blind (module doc).

    Adds or updates the `imputed` column (comma-separated filled columns per row). Period and epoch
    are never filled (a row without a period cannot be processed; K2 epochs come from BLS).
    """
    if len(frame) == 0:
        return frame.assign(imputed=pd.Series(dtype=str))
    out, star_filled = fill_stars(frame, mission, seed)
    out, depth_filled = fill_depths(out, mission, seed)
    imputed = [list(star_filled.get(str(s), [])) for s in out["star_id"].astype(str)]
    depth_set = set(depth_filled)
    for i, sid in enumerate(out["signal_id"].astype(str)):
        if sid in depth_set:
            imputed[i].append("depth_ppm")
    if "duration_derived" in out and out["duration_derived"].any():
        from exo_assets.science.catalogs import _duration_from_density

        m = out["duration_derived"].to_numpy(bool)
        k_re = (
            np.sqrt(out["depth_ppm"].to_numpy(float))
            * 1e-3
            * out["radius_rsun"].to_numpy(float)
            / RE_PER_RSUN
        )
        dur = _duration_from_density(
            out["period_days"].to_numpy(float),
            out["radius_rsun"].to_numpy(float),
            out["logg_cgs"].to_numpy(float),
            k_re,
        )
        out.loc[m, "duration_days"] = dur[m]
    prior = out["imputed"].fillna("").astype(str) if "imputed" in out else pd.Series("", index=out.index)
    out["imputed"] = [
        ",".join(x for x in [*filter(None, p.split(",")), *extra])
        for p, extra in zip(prior, imputed, strict=True)
    ]
    return out


def missingness_auc(frame: pd.DataFrame, columns, seed: int = 0) -> float:
    """Planet (CP+PC) vs FP ROC-AUC of a gradient-boosted classifier on the columns' NaN indicators
    alone, 5-fold stratified cross-validated out-of-fold scores (0.5 = missingness says nothing)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.column_stack([~_finite(frame[c]) for c in columns]).astype(float)
    y = (frame["label"].astype(str) != "FP").to_numpy()
    if x.std(axis=0).max() == 0:
        return 0.5
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    score = cross_val_predict(
        clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(y, score))
