"""Model assets (per mission): `holdout_split` -> `calibrated_booster` + `cnn_oof` -> `blend`.

Thin wiring of exo_assets.models; every metric is labelled with the data provenance
(simulated / local / MAST).
"""

import dataclasses
import json
import time
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from exo_assets.assets.metadata import markdown_table
from exo_assets.assets.report import blend_figures_metadata, model_figures_metadata
from exo_assets.assets.settings import dataclass_kwargs, default
from exo_assets.models.artifacts import (
    CLASSES,
    STAGES,
    blend_attrs,
    booster_files,
    cnn_files,
    proba_of,
    probability_frame,
    stage_table,
)
from exo_assets.models.blend import BlendConfig
from exo_assets.models.booster import BoosterConfig, booster_features, train_calibrated_booster
from exo_assets.models.cnn_config import CNNConfig
from exo_assets.models.crossfit import compare, crossfit, crossfit_temperature, enough_rows, star_halves
from exo_assets.models.datasets import encode_labels, frame_hash, index_folds, make_split, train_holdout
from exo_assets.models.metrics import classification_metrics
from exo_assets.models.missingness import MissingnessConfig
from exo_assets.partitions import mission_partitions
from exo_assets.science.features import MODEL_FEATURES
from exo_assets.storage import TableBundle
from resources.archive import LightCurveArchive
from resources.compute import ComputeResource

MODELS = "models"


class SplitSettings(dg.Config):
    """Holdout and cross-validation settings (stars, not signals, are split)."""

    holdout_fraction: float = Field(default=default(make_split, "holdout_fraction"), ge=0.0, lt=1.0)
    seed: int = default(make_split, "seed")
    n_splits: int = Field(default=default(make_split, "n_splits"), ge=2)
    n_repeats: int = Field(default=default(make_split, "n_repeats"), ge=1)


@dg.asset(
    partitions_def=mission_partitions,
    group_name=MODELS,
    kinds={"json"},
    owners=["team:exo-assets"],
    description="Star-grouped, label-stratified holdout (15% of stars by default) and the repeated "
    "StratifiedGroupKFold folds of the training signals, shared by the booster and the CNN.",
)
def holdout_split(
    context: dg.AssetExecutionContext, config: SplitSettings, feature_table: pd.DataFrame
) -> dg.Output[dict]:
    split = make_split(feature_table, config.holdout_fraction, config.seed, config.n_splits, config.n_repeats)
    return dg.Output(
        split,
        metadata={
            "train_stars": len(split["train_stars"]),
            "holdout_stars": len(split["holdout_stars"]),
            "folds": len(split["folds"]),
            "seed": config.seed,
        },
    )


@dg.asset_check(
    asset="holdout_split",
    partitions_def=mission_partitions,
    additional_ins={"feature_table": dg.AssetIn()},
    description="No holdout star in any training fold; each training signal validated once per repeat.",
)
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
    return dg.AssetCheckResult(
        passed=not overlap and ok_counts,
        metadata={"overlapping_stars": len(overlap), "every_signal_validated_once_per_repeat": ok_counts},
    )


class BoosterSettings(dg.Config):
    """LightGBM settings (see exo_assets.models.booster.BoosterConfig)."""

    num_boost_round: int = default(BoosterConfig, "num_boost_round")
    learning_rate: float = default(BoosterConfig, "learning_rate")
    num_leaves: int = default(BoosterConfig, "num_leaves")
    min_data_in_leaf: int = default(BoosterConfig, "min_data_in_leaf")
    early_stopping_rounds: int = default(BoosterConfig, "early_stopping_rounds")
    seed: int = default(BoosterConfig, "seed")
    #: missingness augmentation (exo_assets.models.missingness; off in the library): per-group blanking
    #: rate, copies per row. On in the pipeline: a field an API user may not have must not decide the class.
    missing_rate: float = 0.3
    missing_copies: int = default(MissingnessConfig, "copies")

    def booster_config(self) -> BoosterConfig:
        return BoosterConfig(
            **dataclass_kwargs(self, BoosterConfig),
            missing=MissingnessConfig(rate=self.missing_rate, copies=self.missing_copies, seed=self.seed),
        )


def fold_metric_summary(y: np.ndarray, proba: np.ndarray, folds: list, classes: list[str]) -> dict:
    """Mean and sd over folds of macro-F1 and log-loss of the given OOF predictions."""
    rows = [classification_metrics(y[va], proba[va], classes) for _, va in folds if len(va)]
    out = {}
    for key in ("macro_f1", "log_loss"):
        vals = np.array([r[key] for r in rows], dtype=float)
        out[key] = {"mean": float(np.nanmean(vals)), "sd": float(np.nanstd(vals))}
    return out


@dg.asset(
    partitions_def=mission_partitions,
    group_name=MODELS,
    kinds={"lightgbm"},
    owners=["team:exo-assets"],
    ins={"feature_table": dg.AssetIn(), "holdout_split": dg.AssetIn()},
    description="LightGBM multiclass booster on feature_table over the training stars: star-grouped CV (OOF "
    "probabilities), temperature scaling on OOF log-loss, final model on all training stars. Stored as "
    "LightGBM's text model + JSON metadata, with OOF and holdout probabilities.",
)
def calibrated_booster(
    context: dg.AssetExecutionContext,
    config: BoosterSettings,
    feature_table: pd.DataFrame,
    holdout_split: dict,
    archive: LightCurveArchive,
) -> dg.Output[TableBundle]:
    started = time.perf_counter()
    train, hold = train_holdout(feature_table, holdout_split)
    folds = index_folds(train, holdout_split)
    if not folds:
        raise dg.Failure(
            "not enough labelled training signals for cross-validation "
            f"({len(train)} rows, labels {sorted(train['label'].unique())}); more stars are needed "
            "(raise --targets, or add FITS files for --backend local)"
        )
    y = encode_labels(train["label"])
    meta = {
        "provenance": archive.provenance,
        "mission": context.partition_key,
        "input_hashes": {"feature_table": frame_hash(train), "split_seed": holdout_split["seed"]},
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "n_train": len(train),
    }
    features = booster_features(MODEL_FEATURES)  # without what an API user cannot give (catalog depth)
    model, oof_raw, oof = train_calibrated_booster(
        train[features], y, train["star_id"].to_numpy(), folds, CLASSES, config.booster_config(), meta
    )
    cv_raw = classification_metrics(y, oof_raw, CLASSES)
    cv_cal = classification_metrics(y, oof, CLASSES)
    model.meta["cv"] = {
        **model.meta["cv"],
        "oof_uncalibrated": cv_raw,
        "oof_calibrated": cv_cal,
        "per_fold": fold_metric_summary(y, oof, folds, CLASSES),
    }
    hold_proba = model.predict_proba(hold[features]) if len(hold) else np.zeros((0, len(CLASSES)))
    bundle = TableBundle(
        tables={
            "oof": probability_frame(train["signal_id"], train["label"], oof, CLASSES),
            "oof_raw": probability_frame(train["signal_id"], train["label"], oof_raw, CLASSES),
            "holdout": probability_frame(hold["signal_id"], hold["label"], hold_proba, CLASSES),
            "importance": model.feature_importance(),
        },
        files=booster_files(model),
        attrs=model.to_json(),
    )
    per_fold = model.meta["cv"]["per_fold"]
    return dg.Output(
        bundle,
        metadata={
            "provenance": archive.provenance,
            "oof_macro_f1": cv_cal["macro_f1"],
            "oof_log_loss_uncalibrated": cv_raw["log_loss"],
            "oof_log_loss_calibrated": cv_cal["log_loss"],
            "cv_macro_f1": (
                f"{per_fold['macro_f1']['mean']:.3f} ± {per_fold['macro_f1']['sd']:.3f} "
                f"({archive.provenance})"
            ),
            "temperature": model.temperature,
            "train_signals": len(train),
            "holdout_signals": len(hold),
            "top_features": markdown_table(model.feature_importance().head(12).round(1)),
            **model_figures_metadata(
                "booster",
                {"OOF calibrated": cv_cal, "OOF uncalibrated": cv_raw},
                y,
                oof,
                CLASSES,
                context.partition_key,
                archive.provenance,
                importance=model.feature_importance(),
            ),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def _stars_of(frame: pd.DataFrame, feature_table: pd.DataFrame) -> np.ndarray:
    return feature_table.set_index("signal_id").loc[frame["signal_id"], "star_id"].to_numpy()


@dg.asset_check(
    asset="calibrated_booster",
    partitions_def=mission_partitions,
    additional_ins={"feature_table": dg.AssetIn()},
    description="Temperature scaling helps on stars it was not fitted on: fitted on one star-disjoint "
    "half of the OOF rows and applied to the other (both ways), its log-loss is not worse than the "
    "uncalibrated OOF log-loss beyond two standard errors; figures finite.",
)
def booster_calibration_helps(
    calibrated_booster: TableBundle, feature_table: pd.DataFrame
) -> dg.AssetCheckResult:
    raw_frame = (
        calibrated_booster["oof_raw"] if "oof_raw" in calibrated_booster else calibrated_booster["oof"]
    )
    y = encode_labels(raw_frame["label"])
    raw = proba_of(raw_frame, CLASSES)
    calibrated = proba_of(calibrated_booster["oof"], CLASSES)
    halves = star_halves(_stars_of(raw_frame, feature_table))
    finite = bool(np.isfinite(calibrated).all())
    if enough_rows(halves):
        result, mode = compare(y, raw, crossfit_temperature(raw, y, halves), tolerance_se=2.0), "cross-fitted"
    else:  # too few rows to judge on unseen stars: the in-sample rule (fitted T never worse than T = 1)
        result, mode = (
            compare(y, raw, calibrated, tolerance_se=1e-9),
            "in-sample (too few rows per star half)",
        )
    return dg.AssetCheckResult(
        passed=result.passed and finite,
        metadata={
            **result.metadata(),
            "mode": mode,
            "oof_finite": finite,
            "temperature": calibrated_booster.attrs.get("temperature"),
        },
    )


class CNNSettings(dg.Config):
    """CNN training settings (see exo_assets.models.cnn.CNNConfig); `cv_repeats` limits the CNN to the
    first repeats of the shared folds (each repeat gives every training signal one OOF prediction)."""

    epochs: int = default(CNNConfig, "epochs")
    patience: int = default(CNNConfig, "patience")
    batch_size: int = default(CNNConfig, "batch_size")
    lr: float = default(CNNConfig, "lr")
    focal_gamma: float = default(CNNConfig, "focal_gamma")
    seed: int = default(CNNConfig, "seed")
    cv_repeats: int = Field(default=1, ge=1)

    def cnn_config(self) -> CNNConfig:
        return CNNConfig(**dataclass_kwargs(self, CNNConfig), num_threads=1)


def _views_for(tensors, signal_ids) -> dict:
    from exo_assets.science.features import VIEW_NAMES

    pos = pd.Series(np.arange(len(tensors["signal_id"])), index=tensors["signal_id"])
    idx = pos.loc[list(signal_ids)].to_numpy(int)
    return {name: tensors[name][idx] for name in VIEW_NAMES if name in tensors.arrays}


@dg.asset(
    partitions_def=mission_partitions,
    group_name=MODELS,
    kinds={"pytorch"},
    owners=["team:exo-assets"],
    ins={"cnn_tensors": dg.AssetIn(), "feature_table": dg.AssetIn(), "holdout_split": dg.AssetIn()},
    description="Dual-branch 1-D CNN (global view; local + odd + even + secondary channels), focal loss with "
    "class weights, flip/noise augmentation, early stopping on macro-F1 of an inner star-grouped split. OOF "
    "probabilities on the same folds as the booster, a final model (state_dict + JSON) and holdout "
    "probabilities.",
)
def cnn_oof(
    context: dg.AssetExecutionContext,
    config: CNNSettings,
    cnn_tensors,
    feature_table: pd.DataFrame,
    holdout_split: dict,
    archive: LightCurveArchive,
    compute: ComputeResource,
) -> dg.Output[TableBundle]:
    # imported here: loading the code location should not pay for torch
    from exo_assets.models.cnn import CNNClassifier
    from exo_assets.models.cnn import cnn_oof as fit_cnn_oof

    started = time.perf_counter()
    train, hold = train_holdout(feature_table, holdout_split)
    per_repeat = holdout_split["cv"]["n_splits"]
    folds = index_folds(train, holdout_split)[: per_repeat * config.cv_repeats]
    if not folds:
        raise dg.Failure(
            "not enough labelled training signals for cross-validation; more stars are needed "
            "(raise --targets, or add FITS files for --backend local)"
        )
    views = _views_for(cnn_tensors, train["signal_id"])
    y = encode_labels(train["label"])
    cfg = config.cnn_config()
    # the folds train in parallel worker processes (one torch thread each; same result as one by one)
    oof, info = fit_cnn_oof(
        views, y, train["star_id"].to_numpy(), folds, CLASSES, cfg, log=context.log.info, map_fn=compute.map
    )
    final = CNNClassifier(
        CLASSES,
        dataclasses.replace(cfg, epochs=max(1, info["median_best_epoch"] or cfg.epochs), min_epochs=1),
    )
    final.fit(views, y)
    hold_proba = (
        final.predict_proba(_views_for(cnn_tensors, hold["signal_id"]))
        if len(hold)
        else np.zeros((0, len(CLASSES)))
    )
    oof_metrics = classification_metrics(y, oof, CLASSES)
    attrs = {
        "provenance": archive.provenance,
        "mission": context.partition_key,
        "cv": info,
        "oof_metrics": oof_metrics,
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        # the views' settings travel with the model, so inference builds the same views
        "view_config": cnn_tensors.attrs.get("view_config", {}),
    }
    bundle = TableBundle(
        tables={
            "oof": probability_frame(train["signal_id"], train["label"], oof, CLASSES),
            "holdout": probability_frame(hold["signal_id"], hold["label"], hold_proba, CLASSES),
        },
        files=cnn_files(final),
        attrs=json.loads(json.dumps(attrs, default=float)),
    )
    return dg.Output(
        bundle,
        metadata={
            "provenance": archive.provenance,
            "oof_macro_f1": oof_metrics["macro_f1"],
            "oof_log_loss": oof_metrics["log_loss"],
            "folds": len(folds),
            "median_best_epoch": info["median_best_epoch"],
            **model_figures_metadata(
                "cnn", {"OOF": oof_metrics}, y, oof, CLASSES, context.partition_key, archive.provenance
            ),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


class BlendSettings(dg.Config):
    """Blend search space and vetting config (empty path: the packaged, versioned vetting.yaml)."""

    alpha_max: float = Field(default=default(BlendConfig, "alpha_max"), ge=0.0, le=1.0)
    alpha_grid: int = Field(default=default(BlendConfig, "alpha_grid"), ge=2)
    min_gain_se: float = default(BlendConfig, "min_gain_se")
    gate_feature: str = ""  # "" = BlendConfig's None (one global alpha)
    vetting_config: str = ""


@dg.asset(
    partitions_def=mission_partitions,
    group_name=MODELS,
    kinds={"json", "parquet"},
    owners=["team:exo-assets"],
    ins={"calibrated_booster": dg.AssetIn(), "cnn_oof": dg.AssetIn(), "feature_table": dg.AssetIn()},
    description="Temperature-calibrated alpha*CNN + (1-alpha)*booster fitted on OOF log-loss with do-no-harm "
    "(alpha = 0 unless the blend beats the calibrated booster), then physical vetting penalties in "
    "logit space. "
    "Metrics per stage on OOF and, once, on the holdout stars.",
)
def blend(
    context: dg.AssetExecutionContext,
    config: BlendSettings,
    calibrated_booster: TableBundle,
    cnn_oof: TableBundle,
    feature_table: pd.DataFrame,
    archive: LightCurveArchive,
) -> dg.Output[TableBundle]:
    from exo_assets.models.blend import apply_blend, fit_blend
    from exo_assets.models.vetting import apply_vetting, load_vetting_config
    from exo_assets.models.vetting_fit import fit_vetting

    b_oof, c_oof = calibrated_booster["oof"], cnn_oof["oof"]
    if b_oof["signal_id"].tolist() != c_oof["signal_id"].tolist():
        raise dg.Failure("booster and CNN OOF rows do not align by signal_id")
    features = feature_table.set_index("signal_id")
    gate = config.gate_feature or None
    bcfg = BlendConfig(
        alpha_max=config.alpha_max,
        alpha_grid=config.alpha_grid,
        min_gain_se=config.min_gain_se,
        gate_feature=gate,
    )
    y = encode_labels(b_oof["label"])
    gate_oof = features.loc[b_oof["signal_id"], gate].to_numpy(float) if gate else None
    model = fit_blend(proba_of(b_oof, CLASSES), proba_of(c_oof, CLASSES), y, CLASSES, bcfg, gate_oof)
    # vetting: the YAML's rules with this mission's injection thresholds, weights / bias / temperature
    # fitted on the blend's OOF rows (or the stage dropped where it does not help cross-fitted)
    vetting, vet_report = fit_vetting(
        apply_blend(model, proba_of(b_oof, CLASSES), proba_of(c_oof, CLASSES), gate_oof),
        features.loc[b_oof["signal_id"]].reset_index(drop=True),
        y,
        CLASSES,
        load_vetting_config(config.vetting_config or None).for_mission(context.partition_key),
        _stars_of(b_oof, feature_table),
    )

    def stages(b_frame, c_frame):
        ids = b_frame["signal_id"]
        gv = features.loc[ids, gate].to_numpy(float) if gate else None
        pb, pc = proba_of(b_frame, CLASSES), proba_of(c_frame, CLASSES)
        pbl = apply_blend(model, pb, pc, gv) if len(ids) else pb
        vet = (
            apply_vetting(pbl, features.loc[ids].reset_index(drop=True), CLASSES, vetting)
            if len(ids)
            else None
        )
        pv = vet.proba if vet is not None else pbl
        return {"booster": pb, "cnn": pc, "blend": pbl, "blend_vetting": pv}, vet

    oof_stages, oof_vet = stages(b_oof, c_oof)
    b_hold, c_hold = calibrated_booster["holdout"], cnn_oof["holdout"]
    hold_stages, hold_vet = stages(
        b_hold, c_hold.set_index("signal_id").loc[b_hold["signal_id"]].reset_index()
    )
    y_hold = encode_labels(b_hold["label"])
    metrics: dict[str, Any] = {"provenance": archive.provenance, "oof": {}, "holdout": {}}
    for stage in STAGES:
        metrics["oof"][stage] = classification_metrics(y, oof_stages[stage], CLASSES)
        if len(y_hold):
            metrics["holdout"][stage] = classification_metrics(y_hold, hold_stages[stage], CLASSES)

    bundle = TableBundle(
        tables={
            "oof": stage_table(b_oof, oof_stages, CLASSES, oof_vet),
            "holdout": stage_table(b_hold, hold_stages, CLASSES, hold_vet),
        },
        attrs={
            **blend_attrs(model, vetting, metrics, CLASSES, archive.provenance, context.partition_key),
            "blend_config": {
                "alpha_max": bcfg.alpha_max,
                "alpha_grid": bcfg.alpha_grid,
                "min_gain_se": bcfg.min_gain_se,
                "gate_feature": bcfg.gate_feature,
            },
        },
    )
    rows = []
    for split_name in ("oof", "holdout"):
        for stage, m in metrics[split_name].items():
            rows.append(
                {
                    "split": split_name,
                    "stage": stage,
                    "macro_f1": m["macro_f1"],
                    "log_loss": m["log_loss"],
                    "ece_15": m["ece_15"],
                    "brier": m["brier"],
                    "planet_vs_fp_roc_auc": m.get("binary_roc_auc"),
                }
            )
    summary = pd.DataFrame(rows).round(4)
    hold_final = metrics["holdout"].get("blend_vetting", {})
    return dg.Output(
        bundle,
        metadata={
            "provenance": archive.provenance,
            "alpha": model.alpha,
            "vetting_stage": "kept" if vet_report["kept"] else "dropped (no cross-fitted gain)",
            "vetting_crossfit_gain": vet_report["crossfit_gain"],
            "vetting_crossfit_gain_se": vet_report["crossfit_gain_se"],
            "vetting_fit": dg.MetadataValue.json(
                {k: vet_report[k] for k in ("flag_rate", "fit_on_all_rows")}
            ),
            "holdout_macro_f1": hold_final.get("macro_f1", float("nan")),
            "holdout_log_loss": hold_final.get("log_loss", float("nan")),
            "holdout_roc_auc_planet_vs_fp": hold_final.get("binary_roc_auc", float("nan")),
            "metrics": dg.MetadataValue.md(
                f"**Data: {archive.provenance}** — figures on simulated data are not "
                f"real-world accuracy.\n\n" + summary.to_markdown(index=False)
            ),
            **blend_figures_metadata(
                metrics, bundle.tables, CLASSES, context.partition_key, archive.provenance
            ),
        },
    )


@dg.asset_check(
    asset="blend",
    partitions_def=mission_partitions,
    additional_ins={
        "calibrated_booster": dg.AssetIn(),
        "cnn_oof": dg.AssetIn(),
        "feature_table": dg.AssetIn(),
    },
    description="Do no harm on unseen stars: the blend refitted on one star-disjoint half of the OOF rows "
    "and applied to the other (both ways) has a log-loss not worse than the calibrated booster's beyond "
    "two standard errors.",
)
def blend_do_no_harm(
    blend: TableBundle, calibrated_booster: TableBundle, cnn_oof: TableBundle, feature_table: pd.DataFrame
) -> dg.AssetCheckResult:
    from exo_assets.models.blend import BlendConfig, apply_blend, fit_blend

    b_oof, c_oof = (
        calibrated_booster["oof"],
        cnn_oof["oof"].set_index("signal_id").loc[calibrated_booster["oof"]["signal_id"]].reset_index(),
    )
    y = encode_labels(b_oof["label"])
    p_b, p_c = proba_of(b_oof, CLASSES), proba_of(c_oof, CLASSES)
    b = blend.attrs["blend"]
    cfg = BlendConfig(**blend.attrs.get("blend_config", {}))  # the settings the blend was fitted with
    gate = b.get("gate_feature")
    gate_values = (
        feature_table.set_index("signal_id").loc[b_oof["signal_id"], gate].to_numpy(float) if gate else None
    )

    def fit(train):
        model = fit_blend(
            p_b[train],
            p_c[train],
            y[train],
            CLASSES,
            cfg,
            gate_values[train] if gate_values is not None else None,
        )
        return lambda rows: apply_blend(
            model, p_b[rows], p_c[rows], gate_values[rows] if gate_values is not None else None
        )

    halves = star_halves(_stars_of(b_oof, feature_table))
    if not enough_rows(halves):  # too few rows to judge on unseen stars: the fitted blend's in-sample rule
        return dg.AssetCheckResult(
            passed=bool(b["oof_logloss_blend"] <= b["oof_logloss_booster"] + 1e-12),
            metadata={
                "mode": "in-sample (too few rows per star half)",
                "alpha": b["alpha"],
                "oof_logloss_blend": b["oof_logloss_blend"],
                "oof_logloss_booster": b["oof_logloss_booster"],
            },
        )
    result = compare(y, p_b, crossfit(fit, halves, len(y), len(CLASSES)), tolerance_se=2.0)
    return dg.AssetCheckResult(
        passed=result.passed, metadata={**result.metadata(), "mode": "cross-fitted", "alpha": b["alpha"]}
    )


@dg.asset_check(
    asset="blend",
    partitions_def=mission_partitions,
    description="Metrics of every stage are present and finite on OOF (and holdout when it has rows).",
)
def blend_metrics_finite(blend: TableBundle) -> dg.AssetCheckResult:
    metrics = blend.attrs["metrics"]
    bad = [
        f"{split}/{stage}"
        for split in ("oof", "holdout")
        for stage, m in metrics[split].items()
        if not all(np.isfinite([m["macro_f1"], m["log_loss"], m["ece_15"], m["brier"]]))
    ]
    missing = [s for s in STAGES if s not in metrics["oof"]]
    return dg.AssetCheckResult(
        passed=not bad and not missing,
        metadata={"non_finite": ", ".join(bad) or "none", "missing_stages": ", ".join(missing) or "none"},
    )
