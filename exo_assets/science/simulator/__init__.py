"""Catalog-seeded physical light-curve simulator for Kepler, K2 and TESS (Dagster-free).

`simulate_star(rows_of_one_star, mission)` turns a star's catalog rows (exo_assets.science.catalogs)
into PDCSAP-like photometry, one `Segment` per Kepler quarter / K2 campaign / TESS sector, and
`write_star_fits` writes them as MAST-like FITS files that `lightkurve.read` opens as
KeplerLightCurve / TessLightCurve, plus a truth JSON (tests only; never read by models).

Units: times in days in mission time (BKJD = BJD - 2454833 for Kepler/K2, BTJD = BJD - 2457000
for TESS), durations and periods in days, depths and noise in ppm, fluxes in e-/s.

Physical choices (details in each module):
- Baselines (`baselines`): Kepler quarters Q2.. (Q2 starts BKJD 169.76, ~90 d each, 29.4-min
  cadence) with two ~1-day monthly downlink gaps and momentum dumps every 3 d; one 80-day C5-like
  K2 campaign from BKJD 2304.5 with a mid-campaign downlink, 2-day dumps and 5.9-hour thruster
  firings; TESS sector n from BTJD 1325.3 + 27.4 (n - 1), 26.9 d at 2-min cadence, with the
  1.1-day mid-sector downlink, 3.125-day momentum dumps and scattered-light exclusions. Gap
  cadences keep their times and carry NaN flux and the quality bits the pipelines use.
- Ephemerides: transits at epoch + k * period, propagated from the catalog epoch into the data;
  a NaN epoch (K2) is drawn uniformly within the first period of the data.
- Planets (CP and PC): batman Mandel-Agol transits with quadratic limb darkening from Teff and
  log g (`limb_darkening`); Rp/Rs solved so the mid-transit depth equals the catalog depth; b from
  the catalog (clipped to <= 1, drawn U(0, 0.9) if NaN); a/Rs from the catalog duration, period, b
  and k; 29.4-min exposures smeared with batman supersampling (15 sub-exposures).
- False positives (`signals`): Kepler flags choose the mechanism (ss -> eclipsing binary; co or ec
  -> diluted background binary; nt -> variability / systematic / single event); other missions draw
  it with the Kepler flag frequencies 45.7 : 39.0 : 31.5. EBs have Planck-law secondaries, grazing
  (V) or flat eclipses, 40 % caught at half their period (unequal odd/even); background binaries
  are diluted to the catalog depth and shift the centroid.
- Noise (`noise`): white noise from a photon + read/sky + floor precision model calibrated on real
  Kepler and TESS files, AR(1) red noise, quasi-periodic rotational modulation (0.1-1 %
  peak-to-peak, 5-30 d), residual ramps after each restart, K2 roll sawtooth, ~1 % randomly flagged
  cadences (some impulsive outliers) and a few unflagged outliers. NaN catalog values are filled
  (Teff 5750 K, log g 4.44, R 1 R_sun, typical magnitude) and recorded in the truth.
- Files (`fits_writer`, `fits_format`): FITS bytes are formatted directly (astropy's header
  machinery costs ~100 ms per file; this takes ~1 ms) and verified with astropy and lightkurve in
  the tests; truth JSON under cache_dir/truth/{mission}/{safe_star_id}.json.
- Determinism: every random stream is seeded from (config.seed, crc32(mission|star_id)[, crc32
  (signal_id)]), never Python's hash(); row order does not matter.
"""

from exo_assets.science.simulator.core import (
    DEFAULT_BITMASK,
    SIMULATOR_VERSION,
    Segment,
    SimulatedStar,
    SimulatorConfig,
    simulate_star,
)
from exo_assets.science.simulator.fits_writer import (
    read_truth,
    safe_star_id,
    segment_path,
    target_number,
    truth_path,
    write_star_fits,
)
from exo_assets.science.simulator.signals import MECHANISMS

__all__ = [
    "DEFAULT_BITMASK",
    "MECHANISMS",
    "SIMULATOR_VERSION",
    "SimulatedStar",
    "SimulatorConfig",
    "Segment",
    "read_truth",
    "safe_star_id",
    "segment_path",
    "simulate_star",
    "target_number",
    "truth_path",
    "write_star_fits",
]
