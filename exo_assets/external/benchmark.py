"""`exo-assets benchmark-tfrecord`: the project's booster, CNN, calibration and blend on AstroNet TFRecords.

Train shards fit both branches; the validation shard is used for early stopping, the temperatures and
the blend weight, exactly the classes the Dagster assets use (BoosterModel, CNNClassifier, fit_blend).
The booster sees the allowed shard scalars, the view features of `science.view_features` and the scalars
derived from them (`benchmark_booster_config`); the CNN sees the views, with the allowed shard scalars
in its dense head (`benchmark_cnn_config`).
Reported validation figures are *cross-fitted*: temperatures and alpha are fit on one half of the
validation stars and applied to the other half (and vice versa), so the blend is never scored on the
rows that chose its weight. Early stopping still sees the whole validation shard (a small optimism,
stated in metrics.json). Every test shard is then scored with parameters fit on the whole validation set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from exo_assets.models.blend import BlendConfig, apply_blend, fit_blend
from exo_assets.models.booster import BoosterConfig, train_booster_with_validation
from exo_assets.models.datasets import encode_labels
from exo_assets.models.metrics import classification_metrics
from exo_assets.storage import atomic_write_text


#: What the figures are measured on: the shards given, not the embedded simulator. (The sets in
#: ../shared/data are real TESS signals; this code cannot tell real shards from synthetic ones.)
EXTERNAL_DATA_LABEL = "AstroNet-format TFRecord shards (external data, not the embedded simulator)"


def precision_at_recall(y_true: np.ndarray, score: np.ndarray, recall: float = 0.82) -> float:
    """Best precision among thresholds whose recall is at least `recall`."""
    prec, rec, _ = precision_recall_curve(y_true, score)
    ok = rec >= recall
    return float(prec[ok].max()) if ok.any() else float("nan")


def task_scores(dataset: str, classes: list[str], y: np.ndarray, proba: np.ndarray) -> dict:
    """The headline figures of a dataset (vetting: PC vs rest and PC+EB vs J; toi: macro-F1, planet vs FP)."""
    out = {}
    if dataset == "vetting":
        pc = classes.index("PC")
        is_pc = (y == pc).astype(int)
        out["vetting_ap"] = float(average_precision_score(is_pc, proba[:, pc]))
        out["vetting_precision_at_recall_0.82"] = precision_at_recall(is_pc, proba[:, pc], 0.82)
        signal = [classes.index("PC"), classes.index("EB")]
        is_sig = np.isin(y, signal).astype(int)
        out["triage_ap"] = float(average_precision_score(is_sig, proba[:, signal].sum(axis=1)))
    else:
        m = classification_metrics(y, proba, classes)
        out["macro_f1"] = m["macro_f1"]
        planet = [classes.index("CP"), classes.index("PC")]
        out["planet_vs_fp_roc_auc"] = float(roc_auc_score(np.isin(y, planet).astype(int), proba[:, planet].sum(axis=1)))
    return out


def bootstrap_intervals(dataset: str, classes: list[str], y: np.ndarray, proba: np.ndarray, n_boot: int = 500,
                        seed: int = 0) -> dict:
    """95% percentile intervals of `task_scores` over bootstrap resamples of the rows."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        try:
            for k, v in task_scores(dataset, classes, y[idx], proba[idx]).items():
                draws.setdefault(k, []).append(v)
        except ValueError:  # a resample without a positive
            continue
    return {k: [float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))] for k, v in draws.items()}


def _crossfit_blend(pb: np.ndarray, pc: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: list[str],
                    config: BlendConfig, seed: int) -> tuple[np.ndarray, dict]:
    """Blend probabilities for every validation row from parameters fit on the other half of the stars."""
    stars = np.unique(groups)
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(stars)[: len(stars) // 2].tolist())
    in_a = np.array([g in half for g in groups])
    out = np.zeros_like(pb)
    parts = {}
    for name, fit_rows in (("A", in_a), ("B", ~in_a)):
        model = fit_blend(pb[fit_rows], pc[fit_rows], y[fit_rows], classes, config)
        out[~fit_rows] = apply_blend(model, pb[~fit_rows], pc[~fit_rows])
        parts[f"fit_on_{name}"] = model.to_dict()
    return out, parts


def benchmark_booster_config(seed: int = 0) -> BoosterConfig:
    """Booster settings of the benchmark (chosen on the vetting validation shard and 5-fold star-grouped
    CV of the training shards: extremely randomised trees over ~100 correlated view features, small
    leaves, half the features per tree; early stopping on the validation shard)."""
    return BoosterConfig(seed=seed, num_boost_round=3000, learning_rate=0.03, num_leaves=15, min_data_in_leaf=40,
                         feature_fraction=0.5, extra_trees=True, early_stopping_rounds=100)


#: Name of the scalar input of the benchmark CNN (an entry of its views dict, see `CNNConfig.scalar_channels`).
CNN_SCALAR_CHANNEL = "scalars"


def cnn_scalar_columns(feature_columns: list[str]) -> list[str]:
    """Scalars fed to the CNN's dense head: the allowed shard scalars present, plus the duty cycle
    (as Astronet-Vetting: views through the convolutions, catalogue scalars into the head). The
    view-derived features stay with the booster, so the CNN learns the shapes itself."""
    from exo_assets.external.tfrecord_reader import ALLOWED_SCALARS

    return [c for c in (*ALLOWED_SCALARS, "duty_cycle") if c in feature_columns]


def benchmark_cnn_config(local_channels: list[str], epochs: int = 60, seed: int = 0):
    """CNN settings of the benchmark: the default dual-branch net, plain cross-entropy (no class
    weights), the shard scalars in the head, early stopping on the validation log-loss (what the blend
    is chosen on; the macro-F1 of a 50-PC validation shard jumps by +-0.05 between epochs)."""
    from exo_assets.models.cnn import CNNConfig

    return CNNConfig(global_channels=("global",), local_channels=tuple(local_channels), epochs=epochs,
                     patience=8, min_epochs=12, seed=seed, batch_size=128, num_threads=1, focal_gamma=0.0,
                     class_weighting="none", early_stopping="log_loss", scalar_channels=(CNN_SCALAR_CHANNEL,))


def benchmark_sets(tr, va, te, seed: int = 0, cnn_epochs: int = 60, log=print,
                   blend_min_gain_se: float = BlendConfig.min_gain_se) -> tuple[pd.DataFrame, dict]:
    """Train on `tr`, tune on `va`, score `te` (three `ExternalSet`s of one dataset).

    Returns the test predictions (`row_id`, `tic_id`, one `p_<CLASS>` column per class; one row per
    signal) and the metrics dict written to metrics.json. Used by `run_benchmark` (the CLI) and by the
    `external_benchmark` asset: one implementation.
    `blend_min_gain_se`: the blend's do-no-harm margin (`BlendConfig.min_gain_se`; the project
    default 2 standard errors, as in the Dagster `blend` asset).
    """
    from exo_assets.external.tfrecord_reader import model_feature_columns
    from exo_assets.models.cnn import CNNClassifier

    started = time.perf_counter()
    timings = {}
    dataset, classes = tr.meta["dataset"], list(tr.classes)
    log(f"[benchmark] {dataset}: train {len(tr.features)}, val {len(va.features)}, test {len(te.features)} signals; "
        f"classes {classes}")

    cols = model_feature_columns(tr.features)
    y_tr, y_va = encode_labels(tr.features["label"], classes), encode_labels(va.features["label"], classes)
    t = time.perf_counter()
    booster = train_booster_with_validation(tr.features[cols], y_tr, va.features[cols], y_va, classes,
                                            benchmark_booster_config(seed), {"dataset": dataset})
    timings["booster_s"] = time.perf_counter() - t
    log(f"[benchmark] booster: {booster.meta['best_iteration']} trees ({timings['booster_s']:.1f} s)")

    channels = [c for c in ("local", "odd", "even", "secondary") if c in tr.views]
    scalar_cols = cnn_scalar_columns(cols)
    cnn_cfg = benchmark_cnn_config(channels, cnn_epochs, seed)

    def cnn_inputs(es) -> dict:
        return {**es.views, CNN_SCALAR_CHANNEL: es.features[scalar_cols].to_numpy(np.float64)}

    t = time.perf_counter()
    cnn = CNNClassifier(classes, cnn_cfg).fit(cnn_inputs(tr), y_tr, cnn_inputs(va), y_va)
    timings["cnn_s"] = time.perf_counter() - t
    log(f"[benchmark] cnn: best epoch {cnn.best_epoch} ({timings['cnn_s']:.1f} s)")

    pb_va = booster.predict_proba(va.features, calibrated=False)
    pc_va = cnn.predict_proba(cnn_inputs(va))
    blend_cfg = BlendConfig(min_gain_se=blend_min_gain_se)
    groups = va.features["star_id"].to_numpy()
    blended_cf, crossfit = _crossfit_blend(pb_va, pc_va, y_va, groups, classes, blend_cfg, seed)
    # Each branch alone, temperature-calibrated and cross-fitted the same way (alpha fixed at 0 with
    # the branch in the booster slot).
    only_b, _ = _crossfit_blend(pb_va, pc_va, y_va, groups, classes, BlendConfig(alpha_max=0.0), seed)
    only_c, _ = _crossfit_blend(pc_va, pb_va, y_va, groups, classes, BlendConfig(alpha_max=0.0), seed)
    final_blend = fit_blend(pb_va, pc_va, y_va, classes, blend_cfg)

    val_report = {}
    for name, proba in (("booster", only_b), ("cnn", only_c), ("blend", blended_cf)):
        m = classification_metrics(y_va, proba, classes, positive_classes=("CP", "PC"), negative_class="FP")
        val_report[name] = {"log_loss": m["log_loss"], "macro_f1": m["macro_f1"], "ece_15": m["ece_15"],
                            **task_scores(dataset, classes, y_va, proba),
                            "ci95": bootstrap_intervals(dataset, classes, y_va, proba, seed=seed)}
    for name, r in val_report.items():
        log(f"[benchmark] val {name}: " + ", ".join(f"{k}={v:.4f}" for k, v in r.items() if isinstance(v, float)))

    pb_te = booster.predict_proba(te.features, calibrated=False)
    pc_te = cnn.predict_proba(cnn_inputs(te))
    p_te = apply_blend(final_blend, pb_te, pc_te)
    preds = pd.DataFrame({"row_id": te.features["row_id"].to_numpy(), "tic_id": te.features["tic_id"].to_numpy()})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = p_te[:, i]
    if preds.duplicated(["row_id", "tic_id"]).any():
        raise RuntimeError("predictions would hold a repeated (row_id, tic_id)")
    test_report = {}
    labelled = te.features["label"].isin(classes).to_numpy()
    if labelled.any() and len(np.unique(te.features.loc[labelled, "label"])) > 1:
        y_te = encode_labels(te.features.loc[labelled, "label"], classes)
        test_report = task_scores(dataset, classes, y_te, p_te[labelled])
    timings["fit_and_score_s"] = time.perf_counter() - started
    metrics = {
        "dataset": dataset, "classes": classes, "seed": seed, "data": EXTERNAL_DATA_LABEL,
        "n": {"train": len(tr.features), "val": len(va.features), "test": len(te.features)},
        "features": cols, "cnn_channels": ["global", *channels], "cnn_scalar_inputs": scalar_cols,
        "cnn_config": cnn_cfg.to_dict(), "cnn_best_epoch": cnn.best_epoch,
        "booster_top_features": booster.feature_importance().head(20).to_dict(orient="records"),
        "validation": val_report, "validation_note": "temperatures and alpha cross-fitted on halves of the "
        "validation stars; early stopping of both branches used the whole validation shard",
        "blend": {"final": final_blend.to_dict(), "crossfit": crossfit, "min_gain_se": blend_min_gain_se},
        "test": test_report, "timings_s": timings,
        "reader": {"train": tr.meta, "val": va.meta, "test": te.meta},
    }
    return preds, metrics


def run_benchmark(train: list[str], val: list[str], test: list[str], out_dir: str | Path,
                  labels_from: str | None = None, seed: int = 0, cnn_epochs: int = 60,
                  log=print, blend_min_gain_se: float = BlendConfig.min_gain_se) -> dict:
    """Read the shards, `benchmark_sets`, write predictions.csv and metrics.json into `out_dir`."""
    from exo_assets.external.tfrecord_reader import load_external

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tr = load_external(train, labels_from=labels_from)
    va = load_external(val, dataset=tr.meta["dataset"], labels_from=labels_from)
    te = load_external(test, dataset=tr.meta["dataset"], labels_from=labels_from, require_labels=False)
    read_s = time.perf_counter() - started
    preds, metrics = benchmark_sets(tr, va, te, seed, cnn_epochs, log, blend_min_gain_se)
    metrics["timings_s"].update({"read_s": read_s, "total_s": time.perf_counter() - started})
    atomic_write_text(out_dir / "predictions.csv", preds.to_csv(index=False))
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2, default=float))
    log(f"[benchmark] wrote {out_dir / 'predictions.csv'} ({len(preds)} rows) and metrics.json "
        f"in {metrics['timings_s']['total_s']:.0f} s")
    return metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", nargs="+", required=True, help="training shards")
    parser.add_argument("--val", nargs="+", required=True, help="validation shards")
    parser.add_argument("--test", nargs="+", required=True, help="test shards to score")
    parser.add_argument("--out", required=True, help="output folder (predictions.csv, metrics.json)")
    parser.add_argument("--labels-from", help="TOI catalog CSV for the TOI-views set (default: the shipped TOI table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blend-min-gain-se", type=float, default=BlendConfig.min_gain_se,
                        help="do-no-harm margin of the blend, in standard errors of the paired log-loss gain "
                             "(default %(default)s, as the Dagster blend asset)")
    parser.add_argument("--cnn-epochs", type=int, default=60,
                        help="maximum CNN epochs (early stopping on the validation log-loss, patience 8)")
