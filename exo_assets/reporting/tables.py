"""Tables behind the report figures (Dagster-free): stage probabilities, reliability bins, class
balance, vetting-flag rates, example selection and the metrics table.

No metric is computed here: every number printed in a report comes from the metrics dicts of
`exo_assets.models.metrics.classification_metrics` stored in the `blend` asset. The helpers below
only reshape those dicts or select rows for plotting (reliability bins come from
`exo_assets.models.metrics.reliability_bins`, the binning of the stored ECE-15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from exo_assets.models.artifacts import STAGES, proba_of

STAGE_LABELS: dict[str, str] = {"booster": "booster", "cnn": "CNN", "blend": "blend", "blend_vetting": "blend+vetting"}
SPLITS: tuple[str, ...] = ("oof", "holdout")
SPLIT_LABELS: dict[str, str] = {"oof": "OOF", "holdout": "holdout"}
PLANET_CLASSES: tuple[str, ...] = ("CP", "PC")
METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("macro_f1", "macro-F1"), ("log_loss", "log-loss"), ("ece_15", "ECE-15"), ("brier", "Brier"),
    ("accuracy", "accuracy"), ("binary_roc_auc", "ROC-AUC"), ("binary_pr_auc", "PR-AUC"))


def fmt(value, digits: int = 4) -> str:
    """A metric as printed in reports: fixed decimals, 'n/a' for missing or non-finite values."""
    if value is None:
        return "n/a"
    value = float(value)
    return f"{value:.{digits}f}" if np.isfinite(value) else "n/a"


def stage_proba(table: pd.DataFrame, stage: str, classes: list[str]) -> np.ndarray:
    """(n, k) probabilities of one stage from a `blend` table (columns `<stage>_p_<class>`)."""
    return proba_of(table, classes, stage)


def label_index(labels, classes: list[str]) -> np.ndarray:
    """Integer class indices of string labels."""
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in labels], dtype=int)


def planet_score(proba: np.ndarray, classes: list[str], positive: tuple[str, ...] = PLANET_CLASSES) -> np.ndarray:
    """Planet (CP + PC) probability per row: the score of the binary planet-vs-FP view, as in
    `classification_metrics`."""
    cols = [classes.index(c) for c in positive if c in classes]
    return np.asarray(proba)[:, cols].sum(axis=1)


def metrics_frame(metrics: dict, stages: tuple[str, ...] = STAGES) -> pd.DataFrame:
    """One row per (split, stage) of a `blend` metrics dict ({"oof": {stage: m}, "holdout": {...}}),
    with the raw metric values (no rounding)."""
    rows = []
    for split in SPLITS:
        for stage in stages:
            m = metrics.get(split, {}).get(stage)
            if m is None:
                continue
            rows.append({"split": SPLIT_LABELS[split], "stage": STAGE_LABELS[stage], "n": int(m["n"]),
                         **{key: m.get(key, float("nan")) for key, _ in METRIC_COLUMNS}})
    return pd.DataFrame(rows, columns=["split", "stage", "n", *[k for k, _ in METRIC_COLUMNS]])


def metrics_table(named: dict[str, dict], digits: int | None = 4) -> pd.DataFrame:
    """One row per named metrics dict (e.g. {"OOF calibrated": m}): `set`, n and the metric columns,
    rounded to `digits` (None: raw values). For Dagster UI tables."""
    rows = [{"set": name, "n": int(m.get("n", 0)), **{label: m.get(key, float("nan")) for key, label in METRIC_COLUMNS}}
            for name, m in named.items() if m]
    frame = pd.DataFrame(rows, columns=["set", "n", *[label for _, label in METRIC_COLUMNS]])
    return frame.round(digits) if digits is not None else frame


def metrics_lines(metrics: dict, stages: tuple[str, ...] = STAGES) -> list[str]:
    """The metrics table as fixed-width text lines (header first), values formatted by `fmt`."""
    header = f"{'split':<9}{'stage':<15}{'n':>5}" + "".join(f"{label:>10}" for _, label in METRIC_COLUMNS)
    lines = [header]
    for _, row in metrics_frame(metrics, stages).iterrows():
        lines.append(f"{row['split']:<9}{row['stage']:<15}{row['n']:>5d}"
                     + "".join(f"{fmt(row[key]):>10}" for key, _ in METRIC_COLUMNS))
    return lines


def per_class_lines(metrics: dict, stage: str = "blend_vetting") -> list[str]:
    """Per-class precision / recall / support of one stage on both splits, as text lines."""
    lines = [f"{'split':<9}{'class':<7}{'precision':>10}{'recall':>10}{'support':>9}"]
    for split in SPLITS:
        m = metrics.get(split, {}).get(stage)
        if m is None:
            continue
        for c in m["classes"]:
            pc = m["per_class"][c]
            lines.append(f"{SPLIT_LABELS[split]:<9}{c:<7}{fmt(pc['precision']):>10}{fmt(pc['recall']):>10}"
                         f"{pc['support']:>9d}")
    return lines


def class_balance(catalog: pd.DataFrame, feature_table: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                  classes: list[str], manifest: pd.DataFrame | None = None) -> pd.DataFrame:
    """Signals per class at each stage of the pipeline.

    Rows: `catalog` (every catalog signal), `selected` (signals of the selected stars, from the
    raw_fits manifest), `with light curve` (manifest status found), `features ok` (feature_table
    status ok), `train` and `holdout` (the model splits). Columns: the classes and `total`.
    """
    stages = {"catalog": catalog}
    if manifest is not None and len(manifest):
        labels = catalog.drop_duplicates("signal_id").set_index("signal_id")["label"]
        sel = manifest.assign(label=labels.reindex(manifest["signal_id"]).to_numpy())
        stages["selected"] = sel
        stages["with light curve"] = sel[sel["status"] == "found"]
    stages["features ok"] = feature_table[feature_table["status"] == "ok"]
    stages["train"] = train
    stages["holdout"] = holdout
    rows = {name: frame["label"].value_counts().reindex(classes, fill_value=0).astype(int) for name, frame in stages.items()}
    out = pd.DataFrame(rows).T
    out["total"] = out.sum(axis=1)
    out.index.name = "stage"
    return out


def vetting_flag_rates(tables: list[pd.DataFrame], vetting: dict, classes: list[str]) -> pd.DataFrame:
    """Share of signals (per true class and overall) that trigger each vetting rule.

    Args:
        tables: `blend` tables (OOF and holdout) with `label` and `flag_<name>` columns.
        vetting: the vetting config dict stored in the blend attrs (`rules` with flag, weight, ...).
    Returns one row per rule: flag, feature, weight, description, n_flagged, rate_all and
    `rate_<class>` (NaN where the class has no signals).
    """
    frame = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) else None
    rows = []
    for rule in vetting.get("rules", []):
        col = f"flag_{rule['flag']}"
        if frame is not None and col in frame:
            hit = frame[col].astype(bool)
            row = {"n_flagged": int(hit.sum()), "rate_all": float(hit.mean())}
            for c in classes:
                sel = frame["label"] == c
                row[f"rate_{c}"] = float(hit[sel].mean()) if sel.any() else float("nan")
        else:
            row = {"n_flagged": 0, "rate_all": float("nan"), **{f"rate_{c}": float("nan") for c in classes}}
        rows.append({"flag": rule["flag"], "feature": rule.get("feature", ""), "weight": float(rule.get("weight", 0.0)),
                     "description": rule.get("description", ""), **row})
    return pd.DataFrame(rows, columns=["flag", "feature", "weight", "description", "n_flagged", "rate_all",
                                       *[f"rate_{c}" for c in classes]])


@dataclass
class Example:
    """One signal shown in the example-view figures.

    Attributes:
        signal_id, label (true class), predicted (top class of the final stage), p_predicted.
        split: "OOF" or "holdout" (where its prediction comes from).
        global_view: (global_bins,) normalised flux over phase -0.5 .. 0.5.
        local_view: (local_bins,) normalised flux; `local_x` its abscissa in transit durations.
    """

    signal_id: str
    label: str
    predicted: str
    p_predicted: float
    split: str
    global_view: np.ndarray
    local_view: np.ndarray
    local_x: np.ndarray

    @property
    def correct(self) -> bool:
        return self.label == self.predicted


def predictions(blend_tables: dict[str, pd.DataFrame], classes: list[str], stage: str = "blend_vetting") -> pd.DataFrame:
    """signal_id, label, predicted, p_predicted, split: the stage's top class per signal (OOF rows for
    training signals, holdout rows for holdout signals)."""
    parts = []
    for split, table in blend_tables.items():
        if not len(table):
            continue
        proba = stage_proba(table, stage, classes)
        top = proba.argmax(axis=1)
        parts.append(pd.DataFrame({"signal_id": table["signal_id"].to_numpy(), "label": table["label"].to_numpy(),
                                   "predicted": np.asarray(classes)[top], "p_predicted": proba.max(axis=1),
                                   "split": SPLIT_LABELS.get(split, split)}))
    if not parts:
        return pd.DataFrame(columns=["signal_id", "label", "predicted", "p_predicted", "split"])
    return pd.concat(parts, ignore_index=True)


def select_examples(preds: pd.DataFrame, views: dict[str, np.ndarray], feature_table: pd.DataFrame,
                    view_config: dict, label: str, per_group: int = 2) -> tuple[list[Example], list[Example]]:
    """(correctly classified, misclassified) examples of one true class, the most confident first.

    Args:
        preds: output of `predictions`.
        views: `cnn_tensors` arrays with `signal_id`, `global`, `local`.
        feature_table: rows with signal_id, period_days, duration_days (for the local view's abscissa).
        view_config: the ViewConfig dict stored with the tensors (local_half_width_durations, ...).
    """
    from exo_assets.science.views import ViewConfig

    cfg = ViewConfig(**{k: v for k, v in view_config.items() if k in ViewConfig.__dataclass_fields__})
    pos = pd.Series(np.arange(len(views["signal_id"])), index=views["signal_id"])
    phys = feature_table.drop_duplicates("signal_id").set_index("signal_id")
    sub = preds[(preds["label"] == label) & preds["signal_id"].isin(pos.index)]
    sub = sub.sort_values(["p_predicted", "signal_id"], ascending=[False, True])
    groups = []
    for correct in (True, False):
        rows = sub[(sub["predicted"] == sub["label"]) == correct].head(per_group)
        out = []
        for _, r in rows.iterrows():
            i = int(pos[r["signal_id"]])
            local = np.asarray(views["local"][i], dtype=float)
            period = float(phys.loc[r["signal_id"], "period_days"]) if r["signal_id"] in phys.index else float("nan")
            duration = float(phys.loc[r["signal_id"], "duration_days"]) if r["signal_id"] in phys.index else float("nan")
            if np.isfinite(period) and np.isfinite(duration) and 0 < duration < period:
                half = cfg.local_half_width(period, duration) / duration
            else:
                half = cfg.local_half_width_durations
            out.append(Example(str(r["signal_id"]), str(r["label"]), str(r["predicted"]), float(r["p_predicted"]),
                               str(r["split"]), np.asarray(views["global"][i], dtype=float), local,
                               np.linspace(-half, half, local.size)))
        groups.append(out)
    return groups[0], groups[1]
