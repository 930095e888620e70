"""Classification metrics: macro-F1, log-loss, ECE (15 bins), Brier, per-class precision/recall,
confusion matrix, and binary planet-vs-false-positive ROC-AUC / PR-AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from exo_assets.models.calibration import log_loss


def reliability_bins(y: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> dict[str, list]:
    """Top-label reliability diagram: equal-width confidence bins over [0, 1] (the bins of the ECE).

    Returns {"bin_lower", "bin_upper", "confidence" (mean top probability), "accuracy" (share of rows
    whose top class is the label), "counts"}, non-empty bins only, in increasing confidence.
    """
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    conf = proba.max(axis=1) if len(proba) else np.zeros(0)
    correct = (proba.argmax(axis=1) == y).astype(float) if len(proba) else np.zeros(0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    out: dict[str, list] = {"bin_lower": [], "bin_upper": [], "confidence": [], "accuracy": [], "counts": []}
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            out["bin_lower"].append(float(edges[b]))
            out["bin_upper"].append(float(edges[b + 1]))
            out["confidence"].append(float(conf[sel].mean()))
            out["accuracy"].append(float(correct[sel].mean()))
            out["counts"].append(int(sel.sum()))
    return out


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins, weighted by count."""
    bins = reliability_bins(y, proba, n_bins)
    n = len(y)
    ece = 0.0
    for count, acc, conf in zip(bins["counts"], bins["accuracy"], bins["confidence"], strict=True):
        ece += count / n * abs(acc - conf)
    return float(ece)


def brier_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass Brier score: mean over rows of the squared distance to the one-hot label."""
    onehot = np.eye(proba.shape[1])[np.asarray(y, dtype=int)]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def classification_metrics(
    y: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    positive_classes: tuple[str, ...] = ("CP", "PC"),
    negative_class: str = "FP",
) -> dict:
    """All metrics of one set of predictions (JSON-serialisable).

    Args:
        y: integer labels indexing `classes`; proba: (n, k) probabilities.
        positive_classes / negative_class: the binary view (planet vs false positive) for ROC/PR AUC;
            skipped when those classes are absent from `classes`.
    """
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    pred = proba.argmax(axis=1)
    labels = list(range(len(classes)))
    prec, rec, _, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    out = {
        "n": int(len(y)),
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "log_loss": log_loss(y, proba),
        "ece_15": expected_calibration_error(y, proba, 15),
        "brier": brier_score(y, proba),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "per_class": {
            c: {"precision": float(prec[i]), "recall": float(rec[i]), "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "classes": list(classes),
    }
    pos = [classes.index(c) for c in positive_classes if c in classes]
    if pos and negative_class in classes:
        is_pos = np.isin(y, pos).astype(int)
        score = proba[:, pos].sum(axis=1)
        if 0 < is_pos.sum() < len(is_pos):
            out["binary_roc_auc"] = float(roc_auc_score(is_pos, score))
            out["binary_pr_auc"] = float(average_precision_score(is_pos, score))
    return out
