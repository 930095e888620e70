"""Planet geometry consistent with the host star: a/R* from the stellar density, b from the catalog T14.

Units: periods and durations in days, depths as fractions, a/R* and b in stellar radii.
"""

from __future__ import annotations

import numpy as np

from exo_assets.science.simulator import transit_models as tm

#: Planet eccentricities: Beta(0.867, 3.03) (Kipping 2013); catalog stellar density scatter, dex.
ECC_BETA = (0.867, 3.03)
DENSITY_SCATTER_DEX = 0.12
#: Reflected-light geometric albedo range of planets (occultation depth A_g (k / a)^2).
ALBEDO_RANGE = (0.05, 0.4)


def planet_geometry(
    period: float, duration: float, depth: float, a_density: float, u, rng: np.random.Generator
) -> dict:
    """(k, b, a/R* circular-equivalent, e, w, notes) of a planet consistent with its star and its T14.

    The true star's density is the catalog's times 10^N(0, DENSITY_SCATTER_DEX) (catalog stellar
    parameters are estimates), so a/R* = a_density x 10^(N / 3); e ~ Beta(0.867, 3.03), w ~ U(0, 360)
    deg. An eccentric transit lasts as long as a circular one at a_eff = a (1 + e sin w) / sqrt(1 - e^2)
    (Winn 2010, eq. 16). b then follows from T14: sin^2(pi T14 / P) (a_eff^2 - b^2) = (1 + k)^2 - b^2,
    with k re-solved from the depth at that b (3 iterations). Where T14 is longer than a central
    transit allows (b^2 < 0), b = 0 and a_eff comes from T14 ("a/R* from T14"), as for real planets
    whose catalog density is wrong.
    """
    notes = []
    scatter = rng.normal(0.0, DENSITY_SCATTER_DEX)
    ecc = float(np.clip(rng.beta(*ECC_BETA), 0.0, 0.8))
    w = float(rng.uniform(0.0, 360.0))
    eta = (1.0 + ecc * np.sin(np.radians(w))) / np.sqrt(1.0 - ecc**2)
    a_eff = max(a_density * 10.0 ** (scatter / 3.0) * eta, 1.5)
    s2 = np.sin(np.pi * min(duration / period, 0.49)) ** 2
    k, b = float(np.sqrt(depth)), 0.0
    for _ in range(3):
        b2 = ((1.0 + k) ** 2 - a_eff**2 * s2) / (1.0 - s2)
        b = float(np.sqrt(b2)) if b2 > 0 else 0.0
        k = tm.solve_k(depth, min(b, 1.0 + k - 1e-3), u)
    b = min(b, 1.0 + k - 1e-3)
    if ((1.0 + k) ** 2 - a_eff**2 * s2) / (1.0 - s2) <= 0:
        a_eff = tm.a_from_duration(period, duration, k, 0.0)
        notes.append("a/R* from T14 (catalog density too high for the duration)")
    return {
        "k": k,
        "b": b,
        "a": a_eff,
        "ecc": ecc,
        "w": w,
        "density_scatter_dex": float(scatter),
        "a_density": a_density,
        "notes": notes,
    }
