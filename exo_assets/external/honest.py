"""Star-disjoint validation for the external benchmark.

The shared train and validation shards of the vetting set have stars in common (249 stars; some
validation PCs are the same signal as a training one), so a validation figure over all rows rewards
memorising stars. Every choice the benchmark makes on the validation shard (early stopping, the
temperatures, the blend weight) is therefore made on the *star-disjoint* rows only: validation signals
whose star (`star_id`: TIC / KIC) has no signal in the training shards. Both the star-disjoint figures
(the honest ones) and the all-row figures are reported.

`crossfit_disjoint` gives every validation row a probability from parameters it did not choose:
disjoint rows from parameters fit on the other half of the disjoint stars, overlap rows from
parameters fit on all disjoint rows (the overlap rows never choose anything).
"""

from __future__ import annotations

import numpy as np

from exo_assets.models.blend import BlendConfig, BlendModel, apply_blend, fit_blend

#: Fewest disjoint validation rows that may drive the choices (below: all rows are used, and said so).
MIN_DISJOINT_ROWS = 20


def star_disjoint_mask(train_stars, val_stars) -> np.ndarray:
    """True for each validation row whose star has no row in the training set."""
    train = set(np.asarray(train_stars).tolist())
    return np.array([s not in train for s in np.asarray(val_stars).tolist()], dtype=bool)


def choice_rows(disjoint: np.ndarray, y: np.ndarray, min_rows: int = MIN_DISJOINT_ROWS) -> tuple[np.ndarray, str]:
    """(rows that drive the validation choices, a note): the disjoint rows when there are enough of them
    and they hold at least two classes, else every row (and the note says so)."""
    disjoint = np.asarray(disjoint, dtype=bool)
    if disjoint.sum() >= min_rows and len(np.unique(np.asarray(y)[disjoint])) > 1:
        return disjoint, "star-disjoint validation rows"
    return np.ones_like(disjoint), (f"only {int(disjoint.sum())} star-disjoint validation rows: all rows used "
                                    "for the choices (figures optimistic)")


def crossfit_disjoint(pb: np.ndarray, pc: np.ndarray, y: np.ndarray, groups: np.ndarray, choose: np.ndarray,
                      classes: list[str], config: BlendConfig, seed: int) -> tuple[np.ndarray, dict, BlendModel]:
    """Blend probabilities for every validation row from parameters fit on rows it is not part of.

    Args:
        pb, pc: raw (n, k) probabilities of the booster and the CNN on the validation rows.
        y: class indices; groups: star ids; choose: rows allowed to fit parameters (star-disjoint).
    Returns:
        (probabilities, {"fit_on_A": ..., "fit_on_B": ...}, the blend fit on every `choose` row).
    """
    choose = np.asarray(choose, dtype=bool)
    stars = np.unique(groups[choose])
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(stars)[: len(stars) // 2].tolist())
    in_a = np.array([g in half for g in groups]) & choose
    in_b = choose & ~in_a
    out = np.zeros_like(pb)
    parts = {}
    for name, fit_rows, score_rows in (("A", in_a, in_b), ("B", in_b, in_a)):
        model = fit_blend(pb[fit_rows], pc[fit_rows], y[fit_rows], classes, config)
        out[score_rows] = apply_blend(model, pb[score_rows], pc[score_rows])
        parts[f"fit_on_{name}"] = model.to_dict()
    final = fit_blend(pb[choose], pc[choose], y[choose], classes, config)
    if (~choose).any():
        out[~choose] = apply_blend(final, pb[~choose], pc[~choose])
    return out, parts, final


def average_members(probas: list[np.ndarray]) -> np.ndarray:
    """Mean of the members' (n, k) probabilities (an ensemble of independently trained CNNs)."""
    if not probas:
        raise ValueError("no ensemble members")
    shapes = {p.shape for p in probas}
    if len(shapes) != 1:
        raise ValueError(f"members' probabilities differ in shape: {sorted(shapes)}")
    return np.mean(np.stack(probas), axis=0)
