"""`exo-assets benchmark-tfrecord`: the project's booster, CNN, calibration and blend on AstroNet TFRecords.

Train shards fit both branches; the validation shard's *star-disjoint* rows (signals whose star has
no training signal, `exo_assets.external.honest`) are used for early stopping, the temperatures and
the blend weight, with exactly the classes the Dagster assets use (BoosterModel, CNNClassifier,
fit_blend). The CNN branch is an ensemble of `cnn_members` independently seeded networks (probabilities
averaged, as AstroNet and Yu et al. average ~10). Physical inputs (`physics.attach_physics`: stellar
parameters, unrescaled depth, planet radius, density and duration ratios) join when a source is given
(`--tce-params`), and always for DR24 (the records carry them).
The booster sees the allowed shard scalars, the view features of `science.view_features` and the scalars
derived from them (`benchmark_booster_config`); the CNN sees the views, with the allowed shard scalars
in its dense head (`benchmark_cnn_config`).
Reported validation figures are *cross-fitted*: temperatures and alpha are fit on one half of the
disjoint validation stars and applied to the other half (and vice versa); rows of shared stars get the
parameters of all disjoint rows. `validation` holds the star-disjoint figures, `validation_all_rows`
the figures over every validation row. Early stopping sees all disjoint rows (a small optimism, stated
in metrics.json). Test shards are scored with parameters fit on all disjoint validation rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from exo_assets.external.honest import average_members, choice_rows, crossfit_disjoint, star_disjoint_mask
from exo_assets.external.stacking import crossfit_cnns, stack_frame
from exo_assets.models.blend import BlendConfig, apply_blend
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
    elif dataset == "dr24":
        pc = classes.index("PC")
        is_pc = (y == pc).astype(int)
        out["planet_vs_fp_roc_auc"] = float(roc_auc_score(is_pc, proba[:, pc]))
        out["planet_vs_fp_accuracy"] = float(np.mean((proba[:, pc] >= 0.5) == is_pc))
        out["accuracy_3class"] = float(np.mean(proba.argmax(axis=1) == y))
        out["pc_ap"] = float(average_precision_score(is_pc, proba[:, pc]))
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


def _stage_report(dataset, classes, y, proba, seed) -> dict:
    m = classification_metrics(y, proba, classes, positive_classes=("CP", "PC"), negative_class="FP")
    return {"n": int(len(y)), "log_loss": m["log_loss"], "macro_f1": m["macro_f1"], "ece_15": m["ece_15"],
            **task_scores(dataset, classes, y, proba), "ci95": bootstrap_intervals(dataset, classes, y, proba, seed=seed)}


def _id_columns(es) -> dict:
    """Prediction key columns: DR24 `kepid`, `tce_plnt_num`; the TESS sets `row_id`, `tic_id`."""
    f = es.features
    if es.meta.get("dataset") == "dr24":
        return {"kepid": f["tic_id"].to_numpy(), "tce_plnt_num": f["row_id"].to_numpy()}
    return {"row_id": f["row_id"].to_numpy(), "tic_id": f["tic_id"].to_numpy()}


def benchmark_sets(tr, va, te, seed: int = 0, cnn_epochs: int = 60, log=print,
                   blend_min_gain_se: float = BlendConfig.min_gain_se, cnn_members: int = 1,
                   cnn_stack_folds: int = 0, return_val: bool = False):
    """Train on `tr`, tune on the star-disjoint rows of `va`, score `te` (three `ExternalSet`s of one dataset).

    Returns the test predictions (`row_id`, `tic_id` -- DR24: `kepid`, `tce_plnt_num` -- and one
    `p_<CLASS>` column per class; one row per signal) and the metrics dict written to metrics.json;
    with `return_val` also the validation rows' cross-fitted probabilities per stage (val_predictions.csv).
    Used by `run_benchmark` (the CLI) and by the `external_benchmark` asset: one implementation.
    `blend_min_gain_se`: the blend's do-no-harm margin (`BlendConfig.min_gain_se`; the project
    default 2 standard errors, as in the Dagster `blend` asset). `cnn_members`: CNNs averaged.
    `cnn_stack_folds` (k >= 2): instead, k fold CNNs cross-fitted on the training stars; their out-of-fold
    log-probabilities become booster inputs (`stacking`) and their mean is the blend's CNN branch.
    """
    from exo_assets.external.tfrecord_reader import model_feature_columns
    from exo_assets.models.cnn import CNNClassifier

    started = time.perf_counter()
    timings = {}
    dataset, classes = tr.meta["dataset"], list(tr.classes)
    cols = model_feature_columns(tr.features)
    y_tr, y_va = encode_labels(tr.features["label"], classes), encode_labels(va.features["label"], classes)
    groups = va.features["star_id"].to_numpy()
    disjoint = star_disjoint_mask(tr.features["star_id"], groups)
    choose, choose_note = choice_rows(disjoint, y_va)
    log(f"[benchmark] {dataset}: train {len(tr.features)}, val {len(va.features)} ({int(disjoint.sum())} "
        f"star-disjoint), test {len(te.features)} signals; classes {classes}; choices on {choose_note}")

    channels = [c for c in ("local", "odd", "even", "secondary") if c in tr.views]
    scalar_cols = cnn_scalar_columns(cols)

    def cnn_inputs(es, rows=None) -> dict:
        out = {**es.views, CNN_SCALAR_CHANNEL: es.features[scalar_cols].to_numpy(np.float64)}
        return out if rows is None else {k: np.asarray(v)[rows] for k, v in out.items()}

    def fit_cnn(rows, member: int):
        cfg = benchmark_cnn_config(channels, cnn_epochs, seed + 1000 * member)
        return CNNClassifier(classes, cfg).fit(cnn_inputs(tr, rows), y_tr[rows], cnn_inputs(va, choose), y_va[choose])

    t = time.perf_counter()
    oof_tr = None
    if cnn_stack_folds:  # k fold CNNs: out-of-fold inputs of the booster, and the CNN ensemble of the blend
        oof_tr, cnns = crossfit_cnns(fit_cnn, lambda m, rows: m.predict_proba(cnn_inputs(tr, rows)), len(y_tr), y_tr,
                                     tr.features["star_id"].to_numpy(), cnn_stack_folds, seed, len(classes), log)
    else:
        cnns = []
        for member in range(max(1, int(cnn_members))):
            cnns.append(fit_cnn(np.arange(len(y_tr)), member))
            log(f"[benchmark] cnn member {member}: best epoch {cnns[-1].best_epoch} ({time.perf_counter() - t:.1f} s)")
    timings["cnn_s"] = time.perf_counter() - t

    def cnn_proba(es) -> np.ndarray:
        return average_members([c.predict_proba(cnn_inputs(es)) for c in cnns])

    t = time.perf_counter()
    va_c = va.features.loc[choose]
    booster = train_booster_with_validation(tr.features[cols], y_tr, va_c[cols], y_va[choose], classes,
                                            benchmark_booster_config(seed), {"dataset": dataset})
    plain_booster = booster
    stack = {}
    if oof_tr is not None:  # the booster that also sees the CNN's out-of-fold probabilities
        stack = {"va": stack_frame(cnn_proba(va), classes), "te": stack_frame(cnn_proba(te), classes)}
        x_tr = pd.concat([tr.features[cols].reset_index(drop=True), stack_frame(oof_tr, classes)], axis=1)
        x_va = pd.concat([va.features[cols].reset_index(drop=True), stack["va"]], axis=1)
        booster = train_booster_with_validation(x_tr, y_tr, x_va.loc[choose], y_va[choose], classes,
                                                benchmark_booster_config(seed), {"dataset": dataset, "stacked": True})
        stack["va_x"] = x_va
        stack["te_x"] = pd.concat([te.features[cols].reset_index(drop=True), stack["te"]], axis=1)
    timings["booster_s"] = time.perf_counter() - t
    log(f"[benchmark] booster: {booster.meta['best_iteration']} trees ({timings['booster_s']:.1f} s)")

    pb_va = booster.predict_proba(stack.get("va_x", va.features), calibrated=False)
    pc_va = cnn_proba(va)
    blend_cfg = BlendConfig(min_gain_se=blend_min_gain_se)
    blended_cf, crossfit, final_blend = crossfit_disjoint(pb_va, pc_va, y_va, groups, choose, classes, blend_cfg, seed)
    # Each branch alone, temperature-calibrated and cross-fitted the same way (alpha fixed at 0 with
    # the branch in the booster slot).
    only_b, _, _ = crossfit_disjoint(pb_va, pc_va, y_va, groups, choose, classes, BlendConfig(alpha_max=0.0), seed)
    only_c, _, _ = crossfit_disjoint(pc_va, pb_va, y_va, groups, choose, classes, BlendConfig(alpha_max=0.0), seed)
    member_reports = {}
    if len(cnns) > 1:  # each member alone on the disjoint rows: what the averaging adds
        for i, c in enumerate(cnns):
            pm, _, _ = crossfit_disjoint(c.predict_proba(cnn_inputs(va)), pb_va, y_va, groups, choose, classes,
                                         BlendConfig(alpha_max=0.0), seed)
            member_reports[f"cnn_member_{i}"] = task_scores(dataset, classes, y_va[choose], pm[choose])

    stages = [("booster", only_b), ("cnn", only_c), ("blend", blended_cf)]
    if plain_booster is not booster:  # the booster without the CNN inputs: what the stacking adds
        pp = plain_booster.predict_proba(va.features, calibrated=False)
        stages.insert(0, ("booster_without_cnn", crossfit_disjoint(pp, pc_va, y_va, groups, choose, classes,
                                                                   BlendConfig(alpha_max=0.0), seed)[0]))
    val_report, all_report = {}, {}
    for name, proba in stages:
        val_report[name] = _stage_report(dataset, classes, y_va[choose], proba[choose], seed)
        all_report[name] = _stage_report(dataset, classes, y_va, proba, seed)
    for name, r in val_report.items():
        log(f"[benchmark] val ({choose_note}) {name}: " + ", ".join(
            f"{k}={v:.4f}" for k, v in r.items() if isinstance(v, float)))
    for name, r in all_report.items():
        log(f"[benchmark] val (all rows) {name}: " + ", ".join(
            f"{k}={v:.4f}" for k, v in r.items() if isinstance(v, float)))

    pb_te = booster.predict_proba(stack.get("te_x", te.features), calibrated=False)
    p_te = apply_blend(final_blend, pb_te, cnn_proba(te))
    preds = pd.DataFrame(_id_columns(te))
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = p_te[:, i]
    if preds.duplicated(list(preds.columns[:2])).any():
        raise RuntimeError(f"predictions would hold a repeated ({', '.join(preds.columns[:2])})")
    test_report = {}
    labelled = te.features["label"].isin(classes).to_numpy()
    if labelled.any() and len(np.unique(te.features.loc[labelled, "label"])) > 1:
        y_te = encode_labels(te.features.loc[labelled, "label"], classes)
        test_report = task_scores(dataset, classes, y_te, p_te[labelled])
    timings["fit_and_score_s"] = time.perf_counter() - started
    metrics = {
        "dataset": dataset, "classes": classes, "seed": seed, "data": EXTERNAL_DATA_LABEL,
        "n": {"train": len(tr.features), "val": len(va.features), "val_star_disjoint": int(disjoint.sum()),
              "test": len(te.features)},
        "features": cols, "cnn_channels": ["global", *channels], "cnn_scalar_inputs": scalar_cols,
        "cnn_config": cnns[0].config.to_dict(), "cnn_members": len(cnns), "cnn_stack_folds": int(cnn_stack_folds),
        "cnn_best_epoch": cnns[0].best_epoch, "cnn_best_epochs": [c.best_epoch for c in cnns],
        "booster_top_features": booster.feature_importance().head(20).to_dict(orient="records"),
        "validation": val_report, "validation_all_rows": all_report, "validation_cnn_members": member_reports,
        "validation_note": f"choices (early stopping, temperatures, alpha) on {choose_note}; `validation` is "
        "scored on those rows, cross-fitted on halves of their stars; `validation_all_rows` on every validation "
        "row (rows of stars also in train scored with parameters fit on the disjoint rows)",
        "blend": {"final": final_blend.to_dict(), "crossfit": crossfit, "min_gain_se": blend_min_gain_se},
        "physics": {"train": tr.meta.get("physics"), "val": va.meta.get("physics"), "test": te.meta.get("physics")},
        "test": test_report, "timings_s": timings,
        "reader": {"train": tr.meta, "val": va.meta, "test": te.meta},
    }
    if not return_val:
        return preds, metrics
    val_preds = pd.DataFrame({**_id_columns(va), "label": va.features["label"].to_numpy(), "star_disjoint": disjoint})
    for name, proba in stages:
        for i, c in enumerate(classes):
            val_preds[f"{name}_p_{c}"] = proba[:, i]
    return preds, metrics, val_preds


def resolve_physics_source(tce_params: str | None, dataset: str, train: list[str],
                           labels_from: str | None) -> str | None:
    """The physics source (`physics.attach_physics`): `tce_params` as given; "auto" -> vetting: the
    tce_params.csv next to the training shards; toi: `labels_from` when it is a raw TOI export (has `tid`,
    `st_rad`); otherwise none. "none" or None -> none (DR24 records always carry theirs)."""
    if tce_params not in ("auto",):
        return None if tce_params in (None, "", "none") else tce_params
    if dataset == "vetting":
        candidate = Path(train[0]).parent / "tce_params.csv"
        return str(candidate) if candidate.exists() else None
    if dataset == "toi" and labels_from and Path(labels_from).exists():
        from exo_assets.science.catalogs import read_archive_csv

        cols = set(read_archive_csv(Path(labels_from)).columns)
        return labels_from if {"tid", "st_rad"} <= cols else None
    return None


def run_benchmark(train: list[str], val: list[str], test: list[str], out_dir: str | Path,
                  labels_from: str | None = None, seed: int = 0, cnn_epochs: int = 60,
                  log=print, blend_min_gain_se: float = BlendConfig.min_gain_se, tce_params: str | None = "auto",
                  cnn_members: int = 1, cnn_stack_folds: int = 0) -> dict:
    """Read the shards, join the physics (`tce_params`), `benchmark_sets`, write predictions.csv and
    metrics.json into `out_dir`."""
    from exo_assets.external.physics import attach_physics
    from exo_assets.external.tfrecord_reader import load_external

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tr = load_external(train, labels_from=labels_from)
    va = load_external(val, dataset=tr.meta["dataset"], labels_from=labels_from)
    te = load_external(test, dataset=tr.meta["dataset"], labels_from=labels_from, require_labels=False)
    source = resolve_physics_source(tce_params, tr.meta["dataset"], train, labels_from)
    if source:
        log(f"[benchmark] physical inputs from {source}")
    for es in (tr, va, te):
        attach_physics(es, source)
    read_s = time.perf_counter() - started
    preds, metrics, val_preds = benchmark_sets(tr, va, te, seed, cnn_epochs, log, blend_min_gain_se, cnn_members,
                                               cnn_stack_folds, return_val=True)
    metrics["timings_s"].update({"read_s": read_s, "total_s": time.perf_counter() - started})
    atomic_write_text(out_dir / "predictions.csv", preds.to_csv(index=False))
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2, default=float))
    atomic_write_text(out_dir / "val_predictions.csv", val_preds.to_csv(index=False))
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
    parser.add_argument("--cnn-members", type=int, default=1,
                        help="independently seeded CNNs whose probabilities are averaged (default %(default)s)")
    parser.add_argument("--cnn-stack-folds", type=int, default=0,
                        help="k >= 2: k CNNs cross-fitted on the training stars; their out-of-fold probabilities "
                             "are booster inputs and their mean the blend's CNN (0 = off, default)")
    parser.add_argument("--tce-params", default="auto",
                        help="physical inputs: vetting -> astronet_vetting/tce_params.csv; toi -> the raw TOI "
                             "catalog (catalogs/toi.csv) for the hosts' stellar values; DR24 records carry their "
                             "own. 'auto' (default): a tce_params.csv next to the training shards (vetting), the "
                             "--labels-from catalog when it is a raw TOI export (toi); 'none': without")
