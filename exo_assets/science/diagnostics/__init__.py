"""Physical vetting diagnostics of one transit signal (Dagster-free, pure functions on arrays).

`compute_diagnostics` measures, on a cleaned and detrended light curve (time in days BKJD/BTJD,
relative flux ~1.0), the quantities a human vetter or the Kepler Robovetter looks at: depth and
signal-to-noise, odd/even depth difference, secondary eclipse, V-shape, a Mandel-Agol fit with the
implied stellar density, a narrow box-least-squares refinement and per-transit consistency. Every
column is a measurement; where one is not measurable it is NaN and `reasons[column]` says why.
`DIAGNOSTIC_SCHEMA` lists the columns with unit and meaning.

Windows (phase measured from mid-transit, D = catalog duration T14):
- full window |phase| < D/2 (box of the transit): SNR, MES, per-transit statistics;
- core window |phase| < D/4 (flat bottom for planets): depth, odd/even depths;
- out of transit |phase| >= D: scatter (1.4826 x MAD) over all of it; baseline (median) over the
  local annulus D <= |phase| < 3D, so a slightly imperfect detrending does not bias depths.

Noise: every uncertainty starts from the out-of-transit robust scatter per cadence and is multiplied by
the red-noise factor beta measured on the out-of-transit curve at T14 (`red_noise_beta`; Pont et al.
2006, Winn et al. 2008); the odd/even test also trusts the per-transit depth scatter when larger, and
the search over other phases (`max_other_sigma`) is judged against the spread of dips at all phases
(model-shift style, trials-aware). The Mandel-Agol parameters use the catalog stellar density as a
prior where it is known and come with 1-sigma errors.

Epoch: when the transit is significant (trapezoid depth >= 7 sigma) the windows are centred on the
trapezoid-fitted centre rather than the catalog epoch (a stale ephemeris would otherwise bias every
window measurement); the shift is the `epoch_offset_days` column. Other known signals of the same
star can be masked out first (`other_signals`), so that a sibling planet's transits do not pose
as this signal's odd/even difference, secondary or extra depth.

Models: the trapezoid and the Mandel-Agol model (batman, quadratic limb darkening fixed from Teff
and log g with `limb_darkening`, circular orbit, period fixed; free: baseline, centre, Rp/Rs, b, a/Rs) are
averaged over each phase bin convolved with one exposure (mid-point sub-samples), so long-cadence
smearing does not masquerade as a V shape or a low stellar density.

Speed: the trapezoid and Mandel-Agol fits run on the folded curve binned to ~150 points around
the transit; the box-least-squares refinement only sees cadences within a few durations of the
transit phase (enough for the narrow period grid); the search over other phases uses bincount
sums. All of it takes ~0.1-0.2 s for a 65,000-cadence Kepler curve on one core.

One measurement per module (as in exovetter), each filling its columns of the result and a reason for
every column it cannot measure:

| module | measures |
|---|---|
| `schema` | the columns (`DIAGNOSTIC_SCHEMA`), `StellarParams`, `DiagnosticsConfig`, constants |
| `physics` | trapezoid shape, T14, density <-> a/Rs, cadence, limb darkening |
| `folding` | the binned folded curve the fits run on |
| `depth` | depth, SNR, MES, per-transit consistency, single-event share |
| `odd_even` | odd/even depth difference |
| `secondary` | secondary eclipse at phase 0.5 |
| `other_phases` | strongest dip at any other phase |
| `trapezoid` | trapezoid fit: V-shape, T14, refined epoch |
| `mandel_agol` | Mandel-Agol fit: Rp/Rs, b, a/Rs, fitted stellar density, BIC |
| `bls` | box least squares: epoch estimate (K2) and the narrow periodogram around P |
| `density` | catalog vs fitted stellar density, expected duration |
| `core` | `compute_diagnostics`, which runs them in order |
"""

from exo_assets.science.diagnostics.bls import estimate_epoch_bls
from exo_assets.science.diagnostics.core import compute_diagnostics
from exo_assets.science.diagnostics.mandel_agol import mandel_agol_flux
from exo_assets.science.diagnostics.physics import (
    a_rs_from_density,
    cadence_days,
    density_from_a_rs,
    limb_darkening,
    t14_from_params,
    trapezoid,
)
from exo_assets.science.diagnostics.schema import (
    DAY_S,
    DIAGNOSTIC_SCHEMA,
    G_CGS,
    NUMERIC_COLUMNS,
    RSUN_CM,
    STRING_COLUMNS,
    DiagnosticsConfig,
    StellarParams,
)

__all__ = [
    "DAY_S",
    "DIAGNOSTIC_SCHEMA",
    "G_CGS",
    "NUMERIC_COLUMNS",
    "RSUN_CM",
    "STRING_COLUMNS",
    "DiagnosticsConfig",
    "StellarParams",
    "a_rs_from_density",
    "cadence_days",
    "compute_diagnostics",
    "density_from_a_rs",
    "estimate_epoch_bls",
    "limb_darkening",
    "mandel_agol_flux",
    "t14_from_params",
    "trapezoid",
]
