"""Missingness augmentation: training copies with stellar / catalog fields blanked (NaN), so that "this
field was not given" does not decide the class.

At inference a user may not know a star's log g, radius, temperature or magnitude (a CSV upload has no
header; a new star is not in the catalog). A booster trained only on rows where the catalog had them
learns whatever missingness happens to correlate with in the training set. Training on extra copies of
the training rows with random groups of these fields set to NaN teaches LightGBM's missing-value branches
to answer from the measured light-curve features instead.

The copies keep their star (group) and label: they are added to the training rows of a fold only (never
to its validation rows), so star-grouped folds, OOF predictions and the temperature fit are unchanged in
what they measure. Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Groups of feature columns that go missing together: a stellar parameter and every diagnostic
#: computed from it (rho_star_catalog = f(log g, radius); density_ratio and duration_ratio use it).
DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("teff_k",),
    ("logg_cgs", "rho_star_catalog_cgs", "density_ratio", "duration_ratio"),
    ("radius_rsun", "rho_star_catalog_cgs", "density_ratio", "duration_ratio"),
    ("mag",),
    ("catalog_depth_ppm",),
)


@dataclass(frozen=True)
class MissingnessConfig:
    """How training rows are copied with fields blanked.

    Attributes:
        rate: probability (0-1) that each group is blanked in a copy, independently; 0 (default) disables
            the augmentation altogether.
        copies: augmented copies per training row (the originals are kept).
        all_missing_rate: probability (0-1) that a copy has every group blanked (a bare CSV upload).
        groups: column groups blanked together; columns absent from the table are ignored.
        seed: random seed.
    """

    rate: float = 0.0
    copies: int = 1
    all_missing_rate: float = 0.15
    groups: tuple[tuple[str, ...], ...] = DEFAULT_GROUPS
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0.0 <= self.rate <= 1.0 and 0.0 <= self.all_missing_rate <= 1.0):
            raise ValueError(f"rates must be within [0, 1], got {self.rate}, {self.all_missing_rate}")
        if self.copies < 0:
            raise ValueError(f"copies must be >= 0, got {self.copies}")

    @property
    def enabled(self) -> bool:
        """Augmentation runs when there are copies to make and `rate` > 0 (the default config is off)."""
        return self.copies > 0 and self.rate > 0


def augment_missing(
    X: np.ndarray, y: np.ndarray, columns: list[str], config: MissingnessConfig, seed_offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `X` followed by `config.copies` copies with random column groups set to NaN.

    Args:
        X: (n, f) float feature matrix, columns named by `columns`; y: (n,) labels.
        seed_offset: added to `config.seed` (e.g. the fold number), so folds draw different masks.
    Returns:
        (X_aug, y_aug) of (n * (1 + copies), f) and (n * (1 + copies),); the first n rows are `X`, `y`.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if not config.enabled or len(X) == 0:
        return X, y
    index = {c: i for i, c in enumerate(columns)}
    groups = [[index[c] for c in g if c in index] for g in config.groups]
    groups = [g for g in groups if g]
    if not groups:
        return X, y
    rng = np.random.default_rng(config.seed + seed_offset)
    blocks, labels = [X], [y]
    for _ in range(config.copies):
        copy = X.copy()
        blank_all = rng.random(len(X)) < config.all_missing_rate
        for cols in groups:
            hit = blank_all | (rng.random(len(X)) < config.rate)
            copy[np.ix_(hit, np.asarray(cols))] = np.nan
        blocks.append(copy)
        labels.append(y)
    return np.concatenate(blocks), np.concatenate(labels)
