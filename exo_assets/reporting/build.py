"""Build the per-mission evaluation report and the cross-mission summary (Dagster-free).

`build_report(ReportInputs)` returns a `Report`: a PDF with numbered sections (`SECTIONS`), the same
figures as PNG files, and `metrics.json` — whose `metrics` entry is the `blend` asset's metrics
dict verbatim (computed once by `exo_assets.models.metrics.classification_metrics`); every number
the PDF prints is formatted from those dicts (`tables.fmt`), never recomputed.
`build_summary` does the same across missions from their `metrics.json` documents.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata

import numpy as np
import pandas as pd

from exo_assets.reporting import figures as F
from exo_assets.reporting.explain import SHAP_METHOD, booster_shap, gain_share
from exo_assets.reporting.options import ReportOptions
from exo_assets.reporting.pdf import PAGE_SIZE, Page, render_pdf, text_block
from exo_assets.storage import json_default
from exo_assets.reporting.tables import (
    PLANET_CLASSES,
    SPLIT_LABELS,
    SPLITS,
    STAGE_LABELS,
    STAGES,
    class_balance,
    fmt,
    label_index,
    metrics_frame,
    metrics_lines,
    per_class_lines,
    planet_score,
    predictions,
    select_examples,
    stage_proba,
    vetting_flag_rates,
)

SECTIONS: tuple[str, ...] = (
    "1. Data provenance",
    "2. Class balance",
    "3. CV and holdout metrics",
    "4. Confusion matrices",
    "5. Reliability diagrams",
    "6. ROC and PR curves (planet vs FP)",
    "7. Feature importance and SHAP",
    "8. Example views",
    "9. Vetting flags",
)
SUMMARY_SECTIONS: tuple[str, ...] = ("1. Missions and metrics", "2. Metrics by mission")
SIMULATED_NOTE = "SIMULATED DATA: figures on the embedded simulator show that the pipeline works; they are not real-world accuracy."


@dataclass
class ReportInputs:
    """Everything one mission's report is made from (the stored asset values).

    Attributes:
        mission: partition, e.g. "TESS".
        provenance: "simulated", "local" or "MAST" (from the blend asset).
        catalog: catalog rows (signal_id, star_id, label).
        feature_table: feature rows (signal_id, star_id, label, status, period_days, duration_days, features).
        views: cnn_tensors arrays (signal_id, global, local, ...).
        view_config: the ViewConfig dict stored with the tensors.
        blend_attrs: the blend bundle's attrs (metrics, blend, vetting, classes).
        blend_tables: {"oof": ..., "holdout": ...} blend tables (stage probabilities, flags).
        booster: the calibrated `BoosterModel`; booster_attrs its JSON (cv, temperature, trained_at).
        importance: booster gain importance (feature, gain).
        cnn_attrs: cnn_oof bundle attrs (cv info, trained_at).
        manifest: raw_fits manifest (signal_id, star_id, status), optional.
        catalog_export: the catalog export date/version line.
        generated_at: ISO time the report was built; run_id: Dagster run that built it.
    """

    mission: str
    provenance: str
    catalog: pd.DataFrame
    feature_table: pd.DataFrame
    views: dict
    view_config: dict
    blend_attrs: dict
    blend_tables: dict[str, pd.DataFrame]
    booster: object
    booster_attrs: dict
    importance: pd.DataFrame
    cnn_attrs: dict
    manifest: pd.DataFrame | None = None
    catalog_export: str = "unknown"
    generated_at: str = ""
    run_id: str = ""


@dataclass
class Report:
    """A built report.

    Attributes:
        pdf: the PDF bytes.
        figures: PNG file name -> bytes (the PDF's figures at `png_dpi`).
        metrics: the metrics.json document.
        page_headers: header of every PDF page, in order.
        tables: small tables for storage (metrics, class_balance, vetting_flags, shap).
    """

    pdf: bytes
    figures: dict[str, bytes]
    metrics: dict
    page_headers: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return len(self.page_headers)

    def metrics_json(self) -> bytes:
        return json.dumps(self.metrics, indent=2, sort_keys=True, default=json_default).encode()


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("exo-assets", "lightgbm", "torch", "dagster", "matplotlib"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _label(provenance: str) -> str:
    return f"{provenance} data" if provenance else "data of unknown provenance"


def _title(mission: str, provenance: str, what: str) -> str:
    return f"{mission}: {what} ({_label(provenance)})"


def _count_line(frame: pd.DataFrame, classes: list[str]) -> str:
    counts = frame["label"].value_counts().reindex(classes, fill_value=0)
    return ", ".join(f"{c} {int(counts[c])}" for c in classes)


def _provenance_rows(inp: ReportInputs, classes: list[str]) -> list[tuple[str, str]]:
    cat = inp.catalog
    ft = inp.feature_table
    train, hold = inp.blend_tables["oof"], inp.blend_tables["holdout"]
    star_of = ft.drop_duplicates("signal_id").set_index("signal_id")["star_id"]
    rows = [
        ("mission (partition)", inp.mission),
        ("data provenance", inp.provenance + ("  (embedded simulator: NOT real-world data)" if inp.provenance == "simulated" else "")),
        ("catalog", f"NASA Exoplanet Archive export {inp.catalog_export}"),
        ("catalog signals", f"{len(cat)} on {cat['star_id'].nunique()} stars ({_count_line(cat, classes)})"),
    ]
    if inp.manifest is not None and len(inp.manifest):
        m = inp.manifest
        status = m["status"].value_counts()
        rows.append(("selected signals", f"{len(m)} on {m['star_id'].nunique()} stars; light curves: "
                     + ", ".join(f"{k} {int(v)}" for k, v in status.items())))
    fstatus = ft["status"].value_counts()
    rows += [
        ("feature table", f"{len(ft)} signals: " + ", ".join(f"{k} {int(v)}" for k, v in fstatus.items())),
        ("CNN views", f"{len(inp.views['signal_id'])} signals (global {inp.view_config.get('global_bins', '?')} bins, "
                      f"local {inp.view_config.get('local_bins', '?')} bins)"),
        ("training (CV) signals", f"{len(train)} on {star_of.reindex(train['signal_id']).nunique()} stars "
                                  f"({_count_line(train, classes)})"),
        ("holdout signals", f"{len(hold)} on {star_of.reindex(hold['signal_id']).nunique()} stars "
                            f"({_count_line(hold, classes)})"),
    ]
    cv = inp.booster_attrs.get("cv", {})
    cnn_cv = inp.cnn_attrs.get("cv", {})
    blend = inp.blend_attrs.get("blend", {})
    vet = inp.blend_attrs.get("vetting", {})
    rows += [
        ("cross-validation", f"booster {cv.get('n_folds', '?')} star-grouped folds; CNN {len(cnn_cv.get('folds', [])) or '?'} "
                             f"folds (median best epoch {cnn_cv.get('median_best_epoch', '?')})"),
        ("calibration / blend", f"booster T = {fmt(inp.booster_attrs.get('temperature'), 3)}, CNN T = "
                                f"{fmt(blend.get('t_cnn'), 3)}, blend alpha = {fmt(blend.get('alpha'), 3)}"),
        ("vetting config", f"version {vet.get('version', '?')}, {len(vet.get('rules', []))} rules, penalty on "
                           f"{', '.join(vet.get('negative_classes', []))}"),
        ("booster trained", str(inp.booster_attrs.get("trained_at", "unknown"))),
        ("CNN trained", str(inp.cnn_attrs.get("trained_at", "unknown"))),
        ("report generated", inp.generated_at or "unknown"),
        ("Dagster run", inp.run_id or "n/a"),
        ("software", ", ".join(f"{k} {v}" for k, v in _versions().items())),
    ]
    return rows


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def build_report(inp: ReportInputs, settings: ReportOptions | None = None) -> Report:
    """Build the PDF, PNG figures and metrics.json of one mission.

    Raises:
        ValueError: when the blend attrs carry no OOF metrics (nothing to report).
    """
    s = settings or ReportOptions()
    classes = list(inp.blend_attrs.get("classes") or inp.booster.classes)
    metrics = inp.blend_attrs.get("metrics", {})
    if not metrics.get("oof"):
        raise ValueError(f"{inp.mission}: the blend asset holds no OOF metrics; materialize blend first")
    prov = inp.provenance
    tables = {split: inp.blend_tables.get(split, pd.DataFrame(columns=["signal_id", "label"])) for split in SPLITS}

    # ---- data behind the figures (no metric is computed here) ----
    balance = class_balance(inp.catalog, inp.feature_table, tables["oof"], tables["holdout"], classes, inp.manifest)
    rates = vetting_flag_rates([tables["oof"], tables["holdout"]], inp.blend_attrs.get("vetting", {}), classes)
    preds = predictions(tables, classes)
    examples = {c: select_examples(preds, inp.views, inp.feature_table, inp.view_config, c, s.examples_per_group)
                for c in classes}
    share = gain_share(inp.importance)
    train_rows = inp.feature_table.set_index("signal_id").reindex(tables["oof"]["signal_id"]).reset_index()
    shap = booster_shap(inp.booster, train_rows, s.shap_rows, s.seed)
    split_title = {"oof": "OOF (training stars, cross-validated)", "holdout": "holdout stars"}

    confusion_panels = [(f"{SPLIT_LABELS[sp]} {STAGE_LABELS[st]}", metrics.get(sp, {}).get(st, {}).get("confusion"))
                        for sp in SPLITS for st in STAGES]
    reliability_input, roc_input = {}, {}
    for sp in SPLITS:
        t = tables[sp]
        y = label_index(t["label"], classes) if len(t) else np.zeros(0, int)
        reliability_input[split_title[sp]] = {}
        roc_input[split_title[sp]] = {}
        for st in STAGES:
            m = metrics.get(sp, {}).get(st)
            if m is None or not len(t):
                continue
            proba = stage_proba(t, st, classes)
            reliability_input[split_title[sp]][st] = (y, proba, m.get("ece_15"))
            roc_input[split_title[sp]][st] = (np.isin(t["label"], PLANET_CLASSES).astype(int), planet_score(proba, classes),
                                              m.get("binary_roc_auc"), m.get("binary_pr_auc"))

    drawers = {
        "class_balance": lambda fig: F.class_balance_figure(balance, classes, _title(inp.mission, prov, "class balance"), fig),
        "confusion": lambda fig: F.confusion_figure(confusion_panels, classes,
                                                    _title(inp.mission, prov, "confusion matrices"), fig=fig),
        "reliability": lambda fig: F.reliability_figure(reliability_input,
                                                        _title(inp.mission, prov, "reliability (top class)"), fig=fig),
        "roc_pr": lambda fig: F.roc_pr_figure(roc_input, _title(inp.mission, prov, "planet (CP+PC) vs FP"), fig),
        "importance": lambda fig: F.importance_figure(share, _title(inp.mission, prov, "booster gain importance"), fig=fig),
        "shap_summary": lambda fig: F.shap_figure(shap, _title(inp.mission, prov, "booster SHAP summary"), fig=fig),
        "vetting_flags": lambda fig: F.vetting_flags_figure(rates, classes, _title(inp.mission, prov, "vetting flags"), fig),
    }
    drawers["examples"] = lambda fig: F.example_views_figure(
        examples, _title(inp.mission, prov, "example views per true class"), s.examples_per_group, fig)

    # ---- PDF pages ----
    prov_rows = _provenance_rows(inp, classes)
    mlines = metrics_lines(metrics)
    blend = inp.blend_attrs.get("blend", {})
    per_fold = inp.booster_attrs.get("cv", {}).get("per_fold", {})

    def page_provenance(sub):
        y = 0.97
        sub.text(0.03, y, f"exo-assets evaluation report: {inp.mission}", fontsize=17, weight="bold", va="top")
        y -= 0.07
        if prov == "simulated":
            sub.text(0.03, y, SIMULATED_NOTE, fontsize=10, color="#b00020", weight="bold", va="top")
            y -= 0.05
        width = max(len(k) for k, _ in prov_rows) + 2
        lines = []
        for k, v in prov_rows:
            wrapped = _wrap(v, 100)
            lines.append(f"{k:<{width}}{wrapped[0]}")
            lines += [" " * width + w for w in wrapped[1:]]
        y = text_block(sub, [("", lines, True)], top=y, fontsize=8.5)
        toc = [f"{sec:<45} page {page_of[sec]}" for sec in SECTIONS]
        text_block(sub, [("Contents", toc, True)], top=y, fontsize=8.5)

    def page_balance(sub):
        top, bottom = sub.subfigures(2, 1, height_ratios=[2.2, 1])
        drawers["class_balance"](top)
        header = f"{'stage':<18}" + "".join(f"{c:>8}" for c in [*classes, "total"])
        lines = [header] + [f"{idx:<18}" + "".join(f"{int(row[c]):>8d}" for c in [*classes, "total"])
                            for idx, row in balance.iterrows()]
        text_block(bottom, [("Signals per class", lines, True)], top=0.95, fontsize=8.5)

    def page_metrics(sub):
        notes = [SIMULATED_NOTE if prov == "simulated" else f"Data provenance: {prov}.",
                 "OOF = out-of-fold predictions of the training stars (booster averaged over CV repeats, CNN on the "
                 "first repeat); holdout = stars never used in training, scored once.",
                 "ROC-AUC and PR-AUC (average precision): binary planet (CP+PC) vs FP. ECE-15: top-label expected "
                 "calibration error, 15 bins. Values: metrics dict of the blend asset (metrics.json)."]
        blocks = [("", [w for n in notes for w in _wrap(n, 150)], False),
                  ("Metrics per stage", mlines, True),
                  ("Per class, blend+vetting", per_class_lines(metrics), True)]
        fold_bits = [f"{k} {fmt(v.get('mean'))} +/- {fmt(v.get('sd'))}" for k, v in per_fold.items()]
        extra = [f"booster CV per fold (mean +/- sd over {inp.booster_attrs.get('cv', {}).get('n_folds', '?')} folds): "
                 + ("; ".join(fold_bits) or "n/a"),
                 f"blend alpha = {fmt(blend.get('alpha'))} (OOF log-loss booster {fmt(blend.get('oof_logloss_booster'))}, "
                 f"CNN {fmt(blend.get('oof_logloss_cnn'))}, blend {fmt(blend.get('oof_logloss_blend'))})"]
        blocks.append(("Cross-validation and blend", extra, True))
        text_block(sub, blocks, top=0.98, fontsize=9)

    def page_shap(sub):
        top, bottom = sub.subfigures(2, 1, height_ratios=[6, 1])
        drawers["shap_summary"](top)
        text_block(bottom, [("", _wrap(f"Method: {SHAP_METHOD}; sample: {len(shap.values)} of {shap.n_total} "
                                       f"training signals (seed {s.seed}).", 160), False)], top=0.9, fontsize=8.5)

    def page_vetting(sub):
        top, bottom = sub.subfigures(2, 1, height_ratios=[1.9, 1])
        drawers["vetting_flags"](top)
        header = f"{'flag':<20}{'weight':>7}{'flagged':>9}" + "".join(f"{'rate ' + c:>9}" for c in classes) + "  rule"
        lines = [header]
        for _, r in rates.iterrows():
            lines.append(f"{r['flag']:<20}{r['weight']:>7.2f}{int(r['n_flagged']):>9d}"
                         + "".join(f"{fmt(r[f'rate_{c}'], 2):>9}" for c in classes) + f"  {r['description']}"[:70])
        text_block(bottom, [("Vetting rules (rates over OOF + holdout signals)", lines, True)], top=0.95, fontsize=8)

    pages = [Page(SECTIONS[0], page_provenance), Page(SECTIONS[1], page_balance, "class_balance.png"),
             Page(SECTIONS[2], page_metrics), Page(SECTIONS[3], drawers["confusion"], "confusion.png"),
             Page(SECTIONS[4], drawers["reliability"], "reliability.png"),
             Page(SECTIONS[5], drawers["roc_pr"], "roc_pr.png"),
             Page(f"{SECTIONS[6]}: gain importance", drawers["importance"], "importance.png"),
             Page(f"{SECTIONS[6]}: SHAP summary", page_shap, "shap_summary.png")]
    pages.append(Page(SECTIONS[7], drawers["examples"], "examples.png"))
    pages.append(Page(SECTIONS[8], page_vetting, "vetting_flags.png"))
    page_of = {}
    for n, p in enumerate(pages, start=1):
        for sec in SECTIONS:
            if p.header.startswith(sec) and sec not in page_of:
                page_of[sec] = n
    pdf, pngs = render_pdf(pages, f"exo-assets evaluation report: {inp.mission} ({prov})",
                     f"exo-assets evaluation report - {inp.mission} - {_label(prov)}"
                     + (" (not real-world accuracy)" if prov == "simulated" else ""),
                     {"Subject": f"CP/PC/FP transit-signal classifier, {inp.mission}, {prov}",
                      "Keywords": f"{prov}, {inp.mission}"}, s.png_dpi)

    doc = {
        "mission": inp.mission,
        "provenance": prov,
        "generated_at": inp.generated_at,
        "run_id": inp.run_id,
        "catalog_export": inp.catalog_export,
        "classes": classes,
        "metrics": metrics,
        "blend": blend,
        "booster": {"temperature": inp.booster_attrs.get("temperature"), "cv_per_fold": per_fold,
                    "n_folds": inp.booster_attrs.get("cv", {}).get("n_folds"),
                    "trained_at": inp.booster_attrs.get("trained_at"), "n_train": inp.booster_attrs.get("n_train")},
        "cnn": {"median_best_epoch": inp.cnn_attrs.get("cv", {}).get("median_best_epoch"),
                "trained_at": inp.cnn_attrs.get("trained_at")},
        "class_balance": {idx: {k: int(v) for k, v in row.items()} for idx, row in balance.iterrows()},
        "vetting_flags": json.loads(rates.to_json(orient="records")),
        "shap": {"method": SHAP_METHOD, "rows": int(len(shap.values)), "of_rows": int(shap.n_total),
                 "mean_abs_top": json.loads(shap.mean_abs().head(12).to_json(orient="records"))},
        "figures": {name: {"dpi": s.png_dpi, "inches": list(PAGE_SIZE)} for name in pngs},
        "pdf": {"pages": len(pages), "sections": list(SECTIONS), "page_headers": [p.header for p in pages]},
    }
    out_tables = {"metrics": metrics_frame(metrics), "class_balance": balance.reset_index(),
                  "vetting_flags": rates, "shap_mean_abs": shap.mean_abs()}
    return Report(pdf=pdf, figures=pngs, metrics=doc, page_headers=[p.header for p in pages], tables=out_tables)


@dataclass
class Summary:
    """The cross-mission summary: PDF, PNG, table and JSON document."""

    pdf: bytes
    png: bytes
    table: pd.DataFrame
    doc: dict
    page_headers: list[str]


def summary_table(docs: dict[str, dict]) -> pd.DataFrame:
    """One row per (mission, split, stage) of the missions' metrics.json documents (raw values)."""
    parts = []
    for mission, doc in docs.items():
        frame = metrics_frame(doc.get("metrics", {}))
        frame.insert(0, "provenance", doc.get("provenance", "unknown"))
        frame.insert(0, "mission", mission)
        frame["alpha"] = doc.get("blend", {}).get("alpha", float("nan"))
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["mission", "provenance", *metrics_frame({}).columns, "alpha"])
    return pd.concat(parts, ignore_index=True)


def build_summary(docs: dict[str, dict], all_missions: list[str], png_dpi: int = 100, generated_at: str = "") -> Summary:
    """Summary of whichever missions have a report (`docs`: mission -> metrics.json document); the
    missions of `all_missions` without one are listed as missing.

    Raises:
        ValueError: when no mission has a report.
    """
    if not docs:
        raise ValueError(f"no mission report to summarise (missing: {', '.join(all_missions)}); "
                         "materialize final_report for at least one mission first")
    present = [m for m in all_missions if m in docs] + [m for m in docs if m not in all_missions]
    missing = [m for m in all_missions if m not in docs]
    docs = {m: docs[m] for m in present}
    table = summary_table(docs)
    provs = sorted({d.get("provenance", "unknown") for d in docs.values()})
    prov_text = "/".join(provs)
    title = f"cross-mission summary ({prov_text} data)"

    def page_table(sub):
        notes = [f"Missions summarised: {', '.join(present)}. Missing (no final_report materialized): "
                 f"{', '.join(missing) or 'none'}.",
                 f"Data provenance: " + ", ".join(f"{m} {docs[m].get('provenance', 'unknown')}" for m in present) + "."]
        if "simulated" in provs:
            notes.append(SIMULATED_NOTE)
        notes.append("Values: each mission's metrics.json (the blend asset's metrics). OOF = cross-validated training "
                     "stars; holdout = stars never used in training.")
        lines = [f"{'mission':<9}" + metrics_lines({})[0]]
        for m in present:
            for line in metrics_lines(docs[m].get("metrics", {}), ("booster", "blend_vetting"))[1:]:
                lines.append(f"{m:<9}{line}")
        extra = [f"{m:<9}alpha {fmt(docs[m].get('blend', {}).get('alpha'), 3)}; report generated "
                 f"{docs[m].get('generated_at') or 'unknown'}; catalog export {docs[m].get('catalog_export', 'unknown')}"
                 for m in present]
        text_block(sub, [("", [w for n in notes for w in _wrap(n, 150)], False),
                         ("booster and blend+vetting per mission", lines, True),
                         ("Blend weight and dates", extra, True)], top=0.98, fontsize=8)

    pages = [Page(SUMMARY_SECTIONS[0], page_table),
             Page(SUMMARY_SECTIONS[1], lambda sub: F.summary_figure(table, f"Cross-mission summary ({prov_text} data)",
                                                                  fig=sub), "summary.png")]
    pdf, pngs = render_pdf(pages, f"exo-assets {title}", f"exo-assets {title}" + (
        " (not real-world accuracy)" if "simulated" in provs else ""), png_dpi=png_dpi)
    png = pngs["summary.png"]
    doc = {"missions": present, "missing": missing, "provenance": {m: docs[m].get("provenance") for m in present},
           "generated_at": generated_at,
           "metrics": {m: docs[m].get("metrics", {}) for m in present},
           "alpha": {m: docs[m].get("blend", {}).get("alpha") for m in present}}
    return Summary(pdf=pdf, png=png, table=table, doc=doc, page_headers=[p.header for p in pages])


def now_iso() -> str:
    """Current UTC time, ISO 8601 (seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
