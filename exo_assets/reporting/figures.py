"""Report figures (Dagster-free), drawn with matplotlib's object-oriented API (no pyplot state).

Every function draws into `fig` (a `Figure` or a `SubFigure`, e.g. a region of a PDF page) or, when
`fig` is None, into a new constrained-layout `Figure` of its default size (`FIGURE_SIZES`, inches);
it returns what it drew into. `reporting.png.to_png` renders a Figure to PNG bytes of exactly size x dpi
pixels.
Titles carry the data provenance (e.g. "simulated"): figures on simulated data are not real-world
accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from exo_assets.models.metrics import reliability_bins
from exo_assets.reporting.png import shrink_png, small_png, to_png
from exo_assets.reporting.tables import STAGE_LABELS, STAGES, fmt

__all__ = ["shrink_png", "small_png", "to_png"]  # encoders re-exported beside the figures they encode

CLASS_COLORS: dict[str, str] = {"CP": "#1b9e77", "PC": "#7570b3", "FP": "#d95f02"}
STAGE_COLORS: dict[str, str] = {"booster": "#1f77b4", "cnn": "#ff7f0e", "blend": "#2ca02c", "blend_vetting": "#d62728"}
FIGURE_SIZES: dict[str, tuple[float, float]] = {
    "class_balance": (10.0, 4.5),
    "confusion": (12.0, 6.4),
    "reliability": (11.0, 5.5),
    "roc_pr": (10.0, 8.0),
    "importance": (8.0, 5.5),
    "shap_summary": (12.0, 6.0),
    "examples": (12.0, 6.5),
    "vetting_flags": (9.0, 4.5),
    "summary": (11.0, 7.0),
}


def new_figure(name: str, fig=None):
    """`fig` itself, or a new constrained-layout Figure of the default size of figure `name`."""
    return fig if fig is not None else Figure(figsize=FIGURE_SIZES[name], layout="constrained")


def _color(cls: str, i: int) -> str:
    return CLASS_COLORS.get(cls, f"C{i}")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.35", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def class_balance_figure(balance: pd.DataFrame, classes: list[str], title: str, fig=None):
    """Signals per class at each pipeline stage: counts (log scale, left) and class shares (right).

    Args:
        balance: rows = stages (catalog, selected, ..., train, holdout), columns = classes (+ total),
            as returned by `tables.class_balance`.
    """
    fig = new_figure("class_balance", fig)
    ax_n, ax_f = fig.subplots(1, 2, width_ratios=[1.3, 1])
    stages = list(balance.index)
    x = np.arange(len(stages))
    width = 0.8 / max(1, len(classes))
    for i, c in enumerate(classes):
        counts = balance[c].to_numpy(float)
        bars = ax_n.bar(x + (i - (len(classes) - 1) / 2) * width, np.where(counts > 0, counts, np.nan), width,
                        color=_color(c, i), label=c)
        for rect, n in zip(bars, counts):
            if n > 0:
                ax_n.annotate(f"{int(n)}", (rect.get_x() + rect.get_width() / 2, n), ha="center", va="bottom",
                              fontsize=6.5, xytext=(0, 1), textcoords="offset points")
    ax_n.set_yscale("log")
    ax_n.set_ylim(0.8, max(10.0, float(balance[classes].to_numpy().max()) * 3))
    ax_n.set_xticks(x, stages, rotation=20, ha="right", fontsize=8)
    ax_n.set_ylabel("signals (log scale)")
    ax_n.set_title("signals per class", fontsize=10)
    ax_n.legend(fontsize=8, ncols=len(classes), loc="upper right")
    totals = balance[classes].sum(axis=1).to_numpy(float)
    bottom = np.zeros(len(stages))
    for i, c in enumerate(classes):
        share = np.divide(balance[c].to_numpy(float), totals, out=np.zeros(len(stages)), where=totals > 0)
        ax_f.bar(x, share, 0.65, bottom=bottom, color=_color(c, i), label=c)
        for xi, (b, s) in enumerate(zip(bottom, share)):
            if s >= 0.06:
                ax_f.text(xi, b + s / 2, f"{s:.0%}", ha="center", va="center", fontsize=7, color="white")
        bottom += share
    ax_f.set_xticks(x, stages, rotation=20, ha="right", fontsize=8)
    ax_f.set_ylim(0, 1)
    ax_f.set_ylabel("share of signals")
    ax_f.set_title("class shares", fontsize=10)
    fig.suptitle(title, fontsize=11)
    return fig


def confusion_figure(panels: list[tuple[str, list | None]], classes: list[str], title: str, ncols: int = 4, fig=None):
    """Confusion matrices (rows: true class, columns: predicted), coloured by the share of the true
    class, annotated with counts.

    Args:
        panels: (panel title, confusion matrix as nested lists or None when not available).
    """
    fig = new_figure("confusion", fig)
    nrows = int(np.ceil(len(panels) / ncols))
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    image = None
    k = len(classes)
    for idx, ax in enumerate(axes.flat):
        if idx >= len(panels):
            ax.set_visible(False)
            continue
        name, cm = panels[idx]
        if cm is None:
            _empty(ax, "no rows")
            ax.set_title(name, fontsize=9)
            continue
        cm = np.asarray(cm, dtype=float)
        rows = cm.sum(axis=1, keepdims=True)
        share = np.divide(cm, rows, out=np.full_like(cm, np.nan), where=rows > 0)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(k):
            for j in range(k):
                s = share[i, j]
                ax.text(j, i, f"{int(cm[i, j])}" + ("" if np.isnan(s) else f"\n{s:.0%}"), ha="center", va="center",
                        fontsize=8, color="white" if (not np.isnan(s) and s > 0.6) else "black")
        ax.set_xticks(range(k), classes, fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        ax.set_title(f"{name} (n={int(cm.sum())})", fontsize=9)
        if idx % ncols == 0:
            ax.set_ylabel("true class", fontsize=8)
        if idx // ncols == nrows - 1 or idx + ncols >= len(panels):
            ax.set_xlabel("predicted class", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, label="share of the true class")
    fig.suptitle(title, fontsize=11)
    return fig


def reliability_figure(splits: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float]]], title: str,
                       n_bins: int = 15, fig=None):
    """Top-label reliability diagrams, one column per split: accuracy vs mean confidence per
    confidence bin (`exo_assets.models.metrics.reliability_bins`, the binning of ECE-15) and, below,
    how many signals fall in each bin.

    Args:
        splits: split title -> stage -> (integer labels, (n, k) probabilities, stored ECE-15).
    """
    fig = new_figure("reliability", fig)
    ncols = max(1, len(splits))
    axes = fig.subplots(2, ncols, height_ratios=[3, 1], squeeze=False, sharex="col")
    edges = np.linspace(0, 1, n_bins + 1)
    for col, (split, stages) in enumerate(splits.items()):
        ax, ax_h = axes[0, col], axes[1, col]
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
        drawn = False
        for stage, (y, proba, ece) in stages.items():
            if len(y) == 0:
                continue
            bins = reliability_bins(y, proba, n_bins)
            color = STAGE_COLORS.get(stage, None)
            ax.plot(bins["confidence"], bins["accuracy"], "o-", ms=4, lw=1.3, color=color,
                    label=f"{STAGE_LABELS.get(stage, stage)} (ECE-15 {fmt(ece, 3)})")
            counts = np.zeros(n_bins)
            counts[np.round(np.asarray(bins["bin_lower"]) * n_bins).astype(int)] = bins["counts"]
            ax_h.step(edges, np.r_[counts, counts[-1]], where="post", color=color, lw=1.2)
            drawn = True
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(split, fontsize=10)
        ax.set_ylabel("accuracy (top class correct)")
        if drawn:
            ax.legend(fontsize=7.5, loc="best")
        else:
            ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes, color="0.35")
        ax_h.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax_h.set_xlabel("confidence (top-class probability)")
        ax_h.set_ylabel("signals", fontsize=8)
    fig.suptitle(title, fontsize=11)
    return fig


def roc_pr_figure(splits: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float | None, float | None]]], title: str,
                  fig=None):
    """ROC (top row) and precision-recall (bottom row) curves of the binary planet (CP + PC) vs FP
    view, one column per split; legend values are the stored ROC-AUC and average precision.

    Args:
        splits: split title -> stage -> (is_planet 0/1, planet score, stored ROC-AUC, stored PR-AUC).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig = new_figure("roc_pr", fig)
    ncols = max(1, len(splits))
    axes = fig.subplots(2, ncols, squeeze=False)
    for col, (split, stages) in enumerate(splits.items()):
        ax_r, ax_p = axes[0, col], axes[1, col]
        prevalence = None
        for stage, (is_pos, score, roc_auc, pr_auc) in stages.items():
            is_pos = np.asarray(is_pos, dtype=int)
            if len(is_pos) == 0 or is_pos.min() == is_pos.max():
                continue
            prevalence = float(is_pos.mean())
            color = STAGE_COLORS.get(stage, None)
            name = STAGE_LABELS.get(stage, stage)
            fpr, tpr, _ = roc_curve(is_pos, score)
            ax_r.plot(fpr, tpr, color=color, lw=1.4, label=f"{name} (AUC {fmt(roc_auc, 3)})")
            precision, recall, _ = precision_recall_curve(is_pos, score)
            ax_p.step(recall, precision, where="post", color=color, lw=1.4, label=f"{name} (AP {fmt(pr_auc, 3)})")
        ax_r.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1)
        ax_r.set_title(f"{split}: ROC", fontsize=10)
        ax_r.set_xlabel("false-positive rate (FP called planet)")
        ax_r.set_ylabel("true-positive rate (planets found)")
        ax_p.set_title(f"{split}: precision-recall", fontsize=10)
        ax_p.set_xlabel("recall (planets found)")
        ax_p.set_ylabel("precision (planet calls correct)")
        for ax in (ax_r, ax_p):
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-0.01, 1.03)
        if prevalence is None:
            for ax in (ax_r, ax_p):
                ax.text(0.5, 0.5, "not defined: needs both planets and FPs", ha="center", va="center",
                        transform=ax.transAxes, color="0.35", fontsize=9)
        else:
            ax_p.axhline(prevalence, ls="--", color="0.5", lw=1, label=f"chance ({prevalence:.2f})")
            ax_r.legend(fontsize=7.5, loc="lower right")
            ax_p.legend(fontsize=7.5, loc="lower left")
    fig.suptitle(title, fontsize=11)
    return fig


def importance_figure(share: pd.DataFrame, title: str, top: int = 15, fig=None):
    """Horizontal bars of each feature's share of the booster's total split gain (top `top`).

    Args:
        share: `explain.gain_share` output (feature, gain, share).
    """
    fig = new_figure("importance", fig)
    ax = fig.subplots()
    head = share.head(top).iloc[::-1]
    if head.empty:
        _empty(ax, "no importance available")
    else:
        bars = ax.barh(head["feature"], 100 * head["share"], color="#1f77b4")
        for rect, s in zip(bars, head["share"]):
            ax.text(rect.get_width(), rect.get_y() + rect.get_height() / 2, f" {100 * s:.1f}%", va="center", fontsize=7)
        ax.set_xlim(0, max(5.0, 100 * float(head["share"].max()) * 1.18))
        ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("share of total split gain (%)")
    ax.set_title(f"top {min(top, len(share))} of {len(share)} features", fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig


def shap_figure(summary, title: str, top: int = 12, focus_class: str = "FP", fig=None):
    """SHAP summary: mean |SHAP| per class (stacked bars, left) and a beeswarm of one class's SHAP
    values coloured by the feature value's rank (right).

    Args:
        summary: `explain.ShapSummary`.
    """
    fig = new_figure("shap_summary", fig)
    ax_b, ax_s = fig.subplots(1, 2, width_ratios=[1, 1.25])
    if len(summary.values) == 0:
        _empty(ax_b, "no rows to explain")
        _empty(ax_s, "no rows to explain")
        fig.suptitle(title, fontsize=11)
        return fig
    mean = summary.mean_abs().head(top)
    order = mean["feature"].tolist()[::-1]
    left = np.zeros(len(order))
    for i, c in enumerate(summary.classes):
        vals = mean.set_index("feature").loc[order, c].to_numpy()
        ax_b.barh(order, vals, left=left, color=_color(c, i), label=c)
        left += vals
    ax_b.set_xlim(0, max(1e-9, float(left.max())) * 1.08)
    ax_b.set_xlabel("mean |SHAP| (log-odds)")
    ax_b.tick_params(axis="y", labelsize=8)
    ax_b.legend(fontsize=8, title="class", title_fontsize=8, loc="lower right")
    ax_b.set_title(f"mean |SHAP| per class, {len(summary.values)} of {summary.n_total} rows", fontsize=9)

    ci = summary.classes.index(focus_class) if focus_class in summary.classes else len(summary.classes) - 1
    rng = np.random.default_rng(0)
    scatter = None
    for row, feature in enumerate(order):
        j = summary.features.index(feature)
        vals = summary.values[:, ci, j]
        data = summary.data[:, j]
        finite = np.isfinite(data)
        rank = np.full(len(data), np.nan)
        if finite.sum() > 1:
            rank[finite] = pd.Series(data[finite]).rank(pct=True).to_numpy()
        elif finite.any():
            rank[finite] = 0.5
        jitter = rng.uniform(-0.3, 0.3, len(vals))
        if (~finite).any():
            ax_s.scatter(vals[~finite], row + jitter[~finite], s=6, color="0.7", lw=0, rasterized=True)
        scatter = ax_s.scatter(vals[finite], row + jitter[finite], s=6, c=rank[finite], cmap="coolwarm", vmin=0,
                               vmax=1, lw=0, rasterized=True)
    ax_s.axvline(0, color="0.4", lw=0.8)
    ax_s.set_yticks(range(len(order)), order, fontsize=8)
    ax_s.set_ylim(-0.6, len(order) - 0.4)
    ax_s.set_xlabel(f"SHAP value for {summary.classes[ci]} (log-odds; grey: feature missing)")
    ax_s.set_title(f"per-signal SHAP values, class {summary.classes[ci]}", fontsize=9)
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax_s, shrink=0.8, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value (rank)")
    fig.suptitle(title, fontsize=11)
    return fig


def _robust_ylim(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return
    lo, hi = np.percentile(finite, [0.5, 99.5])
    lo, hi = min(lo, -1.0), max(hi, 0.2)
    pad = 0.08 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)


def example_views_figure(groups: dict[str, tuple[list, list]], title: str, per_group: int = 1, fig=None):
    """Phase-folded global (whole orbit) and local (around the transit) views, one row per true class
    (and example): correctly classified signals on the left, misclassified ones on the right, the most
    confident first.

    Args:
        groups: true class -> (correctly classified, misclassified) lists of `tables.Example`.
        per_group: examples per (class, correct / misclassified) group.
    """
    fig = new_figure("examples", fig)
    left, right = fig.subfigures(1, 2, wspace=0.03)
    labels = list(groups)
    rows = max(1, len(labels) * per_group)
    for side, (sub, heading) in enumerate(((left, "classified correctly"), (right, "misclassified"))):
        axes = sub.subplots(rows, 2, squeeze=False, width_ratios=[1.4, 1])
        for li, label in enumerate(labels):
            group = groups[label][side]
            for k in range(per_group):
                ax_g, ax_l = axes[li * per_group + k]
                if k >= len(group):
                    if k == 0:
                        _empty(ax_g, f"no true {label} signal {heading}")
                    else:
                        ax_g.set_visible(False)
                    ax_l.set_visible(False)
                    continue
                ex = group[k]
                g = ex.global_view
                # thousands of points: rasterized in the PDF (one image instead of one path per marker)
                ax_g.plot(np.linspace(-0.5, 0.5, g.size), g, ".", ms=1.2, color="0.25", rasterized=True)
                ax_g.set_xlim(-0.5, 0.5)
                _robust_ylim(ax_g, g)
                ax_l.plot(ex.local_x, ex.local_view, ".-", ms=2.0, lw=0.6, color=_color(ex.label, li))
                ax_l.set_xlim(ex.local_x[0], ex.local_x[-1])
                _robust_ylim(ax_l, ex.local_view)
                ax_g.set_title(f"{ex.signal_id}: true {ex.label} -> {ex.predicted} (p={ex.p_predicted:.2f}, "
                               f"{ex.split})", fontsize=8, loc="left")
                ax_g.set_ylabel("norm. flux", fontsize=8)
                for ax in (ax_g, ax_l):
                    ax.tick_params(labelsize=7)
        axes[-1, 0].set_xlabel("orbital phase (global view)", fontsize=8)
        axes[-1, 1].set_xlabel("(t - t0) / T14 (local view)", fontsize=8)
        sub.suptitle(heading, fontsize=10)
    fig.suptitle(title, fontsize=11)
    return fig


def vetting_flags_figure(rates: pd.DataFrame, classes: list[str], title: str, fig=None):
    """Share of signals of each true class that trigger each vetting rule (logit weight in the label).

    Args:
        rates: `tables.vetting_flag_rates` output.
    """
    fig = new_figure("vetting_flags", fig)
    ax = fig.subplots()
    if rates.empty:
        _empty(ax, "no vetting rules")
        fig.suptitle(title, fontsize=11)
        return fig
    y = np.arange(len(rates))[::-1]
    height = 0.8 / max(1, len(classes))
    for i, c in enumerate(classes):
        vals = rates[f"rate_{c}"].to_numpy(float)
        ax.barh(y + ((len(classes) - 1) / 2 - i) * height, np.nan_to_num(vals), height, color=_color(c, i), label=c)
    ax.set_yticks(y, [f"{f} (w={w:g})" for f, w in zip(rates["flag"], rates["weight"])], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of signals flagged (OOF + holdout)")
    ax.legend(fontsize=8, title="true class", title_fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=11)
    return fig


def summary_figure(summary: pd.DataFrame, title: str, stages: tuple[str, ...] = STAGES, fig=None):
    """Cross-mission bars: macro-F1 (top) and planet-vs-FP ROC-AUC (bottom) per mission and stage, for
    OOF (left) and holdout (right).

    Args:
        summary: rows with columns mission, split ("OOF"/"holdout"), stage (STAGE_LABELS value),
            macro_f1, binary_roc_auc.
    """
    fig = new_figure("summary", fig)
    axes = fig.subplots(2, 2, squeeze=False, sharey="row")
    missions = list(dict.fromkeys(summary["mission"])) if len(summary) else []
    x = np.arange(len(missions))
    width = 0.8 / max(1, len(stages))
    for row, (metric, name) in enumerate((("macro_f1", "macro-F1"), ("binary_roc_auc", "planet-vs-FP ROC-AUC"))):
        for col, split in enumerate(("OOF", "holdout")):
            ax = axes[row, col]
            for i, stage in enumerate(stages):
                sel = summary[(summary["split"] == split) & (summary["stage"] == STAGE_LABELS[stage])]
                vals = sel.set_index("mission").reindex(missions)[metric].to_numpy(float) if len(sel) else np.full(
                    len(missions), np.nan)
                bars = ax.bar(x + (i - (len(stages) - 1) / 2) * width, np.nan_to_num(vals), width,
                              color=STAGE_COLORS[stage], label=STAGE_LABELS[stage])
                for rect, v in zip(bars, vals):
                    ax.text(rect.get_x() + rect.get_width() / 2, (0 if np.isnan(v) else v) + 0.01,
                            "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="bottom", fontsize=7,
                            rotation=90)
            ax.set_xticks(x, missions)
            ax.set_ylim(0, 1.12)
            ax.set_title(f"{split}: {name}", fontsize=10)
            if col == 0:
                ax.set_ylabel(name)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncols=len(stages), loc="outside lower center")
    fig.suptitle(title, fontsize=11)
    return fig


def views_grid_figure(title: str, global_views: np.ndarray, local_views: np.ndarray, names: list[str],
                         local_half_width: float = 4.0) -> Figure:
    """Global (left, phase) and local (right, transit durations) views of a few signals, one row each."""
    n = max(1, len(names))
    fig = Figure(figsize=(9, 1.9 * n + 0.6), layout="tight")
    axes = fig.subplots(n, 2, squeeze=False)
    w = local_half_width
    for i in range(n):
        ax_g, ax_l = axes[i]
        if i < len(names):
            g, loc = global_views[i], local_views[i]
            ax_g.plot(np.linspace(-0.5, 0.5, g.size), g, ".", ms=1.5, color="0.2")
            ax_l.plot(np.linspace(-w, w, loc.size), loc, ".-", ms=2.5, lw=0.6, color="C0")
            ax_g.set_ylabel(names[i], fontsize=8)
        ax_g.set_xlim(-0.5, 0.5)
        ax_l.set_xlim(-w, w)
    axes[0, 0].set_title("global view (phase)", fontsize=9)
    axes[0, 1].set_title("local view (transit durations)", fontsize=9)
    axes[-1, 0].set_xlabel("phase")
    axes[-1, 1].set_xlabel("time from mid-transit / duration")
    fig.suptitle(title, fontsize=10)
    return fig
