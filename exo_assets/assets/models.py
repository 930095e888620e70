"""Model assets (per mission): `holdout_split` -> `calibrated_booster` + `cnn_oof` -> `blend`.

Thin wiring of exo_assets.models; every metric is labelled with the data provenance
(simulated / local / MAST).
"""

import time

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from exo_assets.assets.metadata import markdown_table
from exo_assets.models.booster import BoosterConfig, model_json, train_calibrated_booster
from exo_assets.models.datasets import (
    CLASSES,
    encode_labels,
    frame_hash,
    index_folds,
    make_split,
    probability_frame,
    train_holdout,
)
from exo_assets.models.metrics import classification_metrics
from exo_assets.partitions import mission_partitions
from exo_assets.science.features import MODEL_FEATURES
from exo_assets.storage import TableBundle
from resources.archive import LightCurveArchive

MODELS = "models"


class SplitSettings(dg.Config):
    """Holdout and cross-validation settings (stars, not signals, are split)."""

    holdout_fraction: float = Field(default=0.12, ge=0.0, lt=1.0)
    seed: int = 0
    n_splits: int = Field(default=5, ge=2)
    n_repeats: int = Field(default=3, ge=1)


@dg.asset(
    partitions_def=mission_partitions, group_name=MODELS, kinds={"json"}, owners=["team:exo-assets"],
    description="Star-grouped, label-stratified holdout (12% of stars by default) and the repeated "
    "StratifiedGroupKFold folds of the training signals, shared by the booster and the CNN.",
)
def holdout_split(context: dg.AssetExecutionContext, config: SplitSettings, feature_table: pd.DataFrame) -> dg.Output[dict]:
    split = make_split(feature_table, config.holdout_fraction, config.seed, config.n_splits, config.n_repeats)
    return dg.Output(split, metadata={
        "train_stars": len(split["train_stars"]), "holdout_stars": len(split["holdout_stars"]),
        "folds": len(split["folds"]), "seed": config.seed,
    })


@dg.asset_check(asset="holdout_split", partitions_def=mission_partitions, additional_ins={"feature_table": dg.AssetIn()},
                description="No holdout star in any training fold; each training signal validated once per repeat.")
def holdout_disjoint(holdout_split: dict, feature_table: pd.DataFrame) -> dg.AssetCheckResult:
    holdout = set(holdout_split["holdout_stars"])
    star_of = feature_table.set_index("signal_id")["star_id"]
    fold_stars = {star_of[s] for f in holdout_split["folds"] for s in f["val_signals"]}
    overlap = holdout & (fold_stars | set(holdout_split["train_stars"]))
    train, _ = train_holdout(feature_table, holdout_split)
    counts = pd.Series(0, index=train["signal_id"])
    for f in holdout_split["folds"]:
        counts[f["val_signals"]] += 1
    repeats = holdout_split["cv"]["n_repeats"]
    ok_counts = bool((counts == repeats).all()) if repeats else True
    return dg.AssetCheckResult(passed=not overlap and ok_counts, metadata={
        "overlapping_stars": len(overlap), "every_signal_validated_once_per_repeat": ok_counts})


class BoosterSettings(dg.Config):
    """LightGBM settings (see exo_assets.models.booster.BoosterConfig)."""

    num_boost_round: int = 600
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 5
    early_stopping_rounds: int = 40
    seed: int = 0

    def booster_config(self) -> BoosterConfig:
        return BoosterConfig(num_boost_round=self.num_boost_round, learning_rate=self.learning_rate,
                             num_leaves=self.num_leaves, min_data_in_leaf=self.min_data_in_leaf,
                             early_stopping_rounds=self.early_stopping_rounds, seed=self.seed)


def fold_metric_summary(y: np.ndarray, proba: np.ndarray, folds: list, classes: list[str]) -> dict:
    """Mean and sd over folds of macro-F1 and log-loss of the given OOF predictions."""
    rows = [classification_metrics(y[va], proba[va], classes) for _, va in folds if len(va)]
    out = {}
    for key in ("macro_f1", "log_loss"):
        vals = np.array([r[key] for r in rows], dtype=float)
        out[key] = {"mean": float(np.nanmean(vals)), "sd": float(np.nanstd(vals))}
    return out


@dg.asset(
    partitions_def=mission_partitions, group_name=MODELS, kinds={"lightgbm"}, owners=["team:exo-assets"],
    ins={"feature_table": dg.AssetIn(), "holdout_split": dg.AssetIn()},
    description="LightGBM multiclass booster on feature_table over the training stars: star-grouped CV (OOF "
    "probabilities), temperature scaling on OOF log-loss, final model on all training stars. Stored as "
    "LightGBM's text model + JSON metadata, with OOF and holdout probabilities.",
)
def calibrated_booster(context: dg.AssetExecutionContext, config: BoosterSettings, feature_table: pd.DataFrame,
                       holdout_split: dict, archive: LightCurveArchive) -> dg.Output[TableBundle]:
    started = time.perf_counter()
    train, hold = train_holdout(feature_table, holdout_split)
    folds = index_folds(train, holdout_split)
    if not folds:
        raise dg.Failure("not enough labelled training signals for cross-validation "
                         f"({len(train)} rows, labels {sorted(train['label'].unique())}); raise --targets")
    y = encode_labels(train["label"])
    meta = {"provenance": archive.provenance, "mission": context.partition_key,
            "input_hashes": {"feature_table": frame_hash(train), "split_seed": holdout_split["seed"]},
            "trained_at": pd.Timestamp.now(tz="UTC").isoformat(), "n_train": len(train)}
    model, oof_raw, oof = train_calibrated_booster(train[MODEL_FEATURES], y, train["star_id"].to_numpy(), folds,
                                                   CLASSES, config.booster_config(), meta)
    cv_raw = classification_metrics(y, oof_raw, CLASSES)
    cv_cal = classification_metrics(y, oof, CLASSES)
    model.meta["cv"] = {**model.meta["cv"], "oof_uncalibrated": cv_raw, "oof_calibrated": cv_cal,
                        "per_fold": fold_metric_summary(y, oof, folds, CLASSES)}
    hold_proba = model.predict_proba(hold[MODEL_FEATURES]) if len(hold) else np.zeros((0, len(CLASSES)))
    bundle = TableBundle(
        tables={"oof": probability_frame(train["signal_id"], train["label"], oof, CLASSES),
                "holdout": probability_frame(hold["signal_id"], hold["label"], hold_proba, CLASSES),
                "importance": model.feature_importance()},
        files={"model.lgb.txt": model.to_text().encode(), "model.json": model_json(model).encode()},
        attrs=model.to_json(),
    )
    per_fold = model.meta["cv"]["per_fold"]
    return dg.Output(bundle, metadata={
        "provenance": archive.provenance,
        "oof_macro_f1": cv_cal["macro_f1"],
        "oof_log_loss_uncalibrated": cv_raw["log_loss"],
        "oof_log_loss_calibrated": cv_cal["log_loss"],
        "cv_macro_f1": f"{per_fold['macro_f1']['mean']:.3f} ± {per_fold['macro_f1']['sd']:.3f} ({archive.provenance})",
        "temperature": model.temperature,
        "train_signals": len(train),
        "holdout_signals": len(hold),
        "top_features": markdown_table(model.feature_importance().head(12).round(1)),
        "seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset_check(asset="calibrated_booster", partitions_def=mission_partitions,
                description="Temperature scaling does not raise the OOF log-loss; metrics are finite.")
def booster_calibration_helps(calibrated_booster: TableBundle) -> dg.AssetCheckResult:
    cv = calibrated_booster.attrs["cv"]
    raw, cal = cv["oof_uncalibrated"]["log_loss"], cv["oof_calibrated"]["log_loss"]
    finite = all(np.isfinite([raw, cal, cv["oof_calibrated"]["macro_f1"]]))
    return dg.AssetCheckResult(passed=bool(cal <= raw + 1e-9 and finite),
                               metadata={"oof_log_loss_uncalibrated": raw, "oof_log_loss_calibrated": cal})
