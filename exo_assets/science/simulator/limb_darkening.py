"""Quadratic limb-darkening coefficients (u1, u2) for the Kepler (also K2) and TESS bands.

A small table at log g = 4.5, [Fe/H] = 0, interpolated linearly in Teff, with a mild linear log g
term. The values are rounded approximations of the ATLAS-model tables of Claret & Bloemen (2011,
A&A 529, A75; Kepler band) and Claret (2017, A&A 600, A30; TESS band), good to about +-0.05: enough
for a simulator whose transit shapes only need to look like real ones, not for precise fitting.
The TESS band is redder, so its limb darkening is weaker than Kepler's at the same Teff.
"""

from __future__ import annotations

import numpy as np

#: Teff grid (K) of the tables.
TEFF_GRID = np.array(
    [3000.0, 3500.0, 4000.0, 4500.0, 5000.0, 5500.0, 5750.0, 6000.0, 6500.0, 7000.0, 8000.0, 10000.0]
)

#: (u1, u2) per Teff grid point, log g = 4.5, solar metallicity.
_TABLES: dict[str, np.ndarray] = {
    "Kepler": np.array(
        [
            [0.40, 0.36],
            [0.46, 0.28],
            [0.60, 0.12],
            [0.58, 0.14],
            [0.51, 0.19],
            [0.44, 0.23],
            [0.40, 0.26],
            [0.37, 0.28],
            [0.31, 0.31],
            [0.26, 0.33],
            [0.20, 0.35],
            [0.15, 0.32],
        ]
    ),
    "TESS": np.array(
        [
            [0.22, 0.38],
            [0.27, 0.33],
            [0.42, 0.18],
            [0.45, 0.17],
            [0.41, 0.20],
            [0.36, 0.23],
            [0.33, 0.24],
            [0.31, 0.25],
            [0.26, 0.28],
            [0.22, 0.30],
            [0.17, 0.31],
            [0.12, 0.30],
        ]
    ),
}
_TABLES["K2"] = _TABLES["Kepler"]

#: du1 / d(log g): lower gravity (giants) darkens the limb slightly more in both bands.
DU1_DLOGG = -0.02


def quadratic_ld(teff_k: float, logg_cgs: float, mission: str) -> tuple[float, float]:
    """Quadratic limb-darkening (u1, u2) for a star of `teff_k` (K) and `logg_cgs` in a mission's band.

    Teff outside 3000-10000 K is clamped to the grid; NaN Teff is taken as 5750 K and NaN log g as
    4.5. The result satisfies the physical conditions u1 > 0, u1 + u2 < 1, u1 + 2 u2 > 0.
    """
    table = _TABLES[mission]
    teff = 5750.0 if not np.isfinite(teff_k) else float(np.clip(teff_k, TEFF_GRID[0], TEFF_GRID[-1]))
    logg = 4.5 if not np.isfinite(logg_cgs) else float(np.clip(logg_cgs, 2.5, 5.5))
    u1 = float(np.interp(teff, TEFF_GRID, table[:, 0])) + DU1_DLOGG * (logg - 4.5)
    u2 = float(np.interp(teff, TEFF_GRID, table[:, 1]))
    u1 = min(max(u1, 0.01), 0.95)
    u2 = min(max(u2, -0.45 * u1), 0.98 - u1)
    return round(u1, 4), round(u2, 4)
