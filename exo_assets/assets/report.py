"""Report assets: `final_report` (per mission) and `report_summary` (across missions), plus the
metadata helpers that put key metrics and small figures on the model assets' materializations.

Thin wiring of `exo_assets.reporting`: the PDF, PNG figures and metrics.json are built there from
the stored asset values; the numbers are the `blend` asset's metrics dicts. matplotlib is imported
inside the functions, so loading the code location does not pay for it.
"""

import json
import time

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from exo_assets.assets.metadata import markdown_table
from exo_assets.assets.settings import dataclass_kwargs, default
from exo_assets.partitions import mission_partitions
from exo_assets.reporting.options import ReportOptions
from exo_assets.reporting.png import PNG_SIGNATURE
from exo_assets.science.missions import MISSIONS
from exo_assets.storage import ArrayBundle, TableBundle

REPORTS = "reports"
SUMMARY_ASSET = "report_summary"

#: Figures of the report shown inline on the final_report materialization (shrunk thumbnails).
METADATA_FIGURES = ("roc_pr.png", "confusion.png", "reliability.png")


def _figures_md(pngs: list[tuple[str, bytes]]) -> dg.MetadataValue:
    from exo_assets.reporting.png import markdown_image

    return dg.MetadataValue.md("\n\n".join(f"**{alt}**\n\n{markdown_image(png, alt)}" for alt, png in pngs))


def model_figures_metadata(
    stage: str,
    metrics: dict[str, dict],
    y: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    mission: str,
    provenance: str,
    importance: pd.DataFrame | None = None,
    dpi: int = 60,
) -> dict[str, dg.MetadataValue]:
    """Metadata for a model asset: a metrics table and small inline figures (confusion matrix,
    reliability diagram of `proba`, and gain importance when given).

    Args:
        stage: "booster" or "cnn" (titles, colours).
        metrics: set name -> metrics dict of `classification_metrics` (first one is plotted).
        y, proba: the labels and OOF probabilities the first metrics dict was computed on.
    """
    from exo_assets.reporting import figures as F
    from exo_assets.reporting.explain import gain_share
    from exo_assets.reporting.tables import STAGE_LABELS, metrics_table

    name = STAGE_LABELS.get(stage, stage)
    first_name, first = next(iter(metrics.items()))
    tag = f"{mission}, {provenance} data"
    pngs = [
        (
            f"{name} confusion ({first_name})",
            F.small_png(
                lambda fig: F.confusion_figure(
                    [(first_name, first.get("confusion"))], classes, f"{name} ({tag})", ncols=1, fig=fig
                ),
                (4.6, 3.6),
                dpi,
            ),
        ),
        (
            f"{name} reliability ({first_name})",
            F.small_png(
                lambda fig: F.reliability_figure(
                    {first_name: {stage: (y, proba, first.get("ece_15"))}}, f"{name} ({tag})", fig=fig
                ),
                (4.6, 4.2),
                dpi,
            ),
        ),
    ]
    if importance is not None:
        pngs.append(
            (
                f"{name} gain importance",
                F.small_png(
                    lambda fig: F.importance_figure(
                        gain_share(importance), f"{name} ({tag})", top=12, fig=fig
                    ),
                    (5.6, 4.0),
                    dpi,
                ),
            )
        )
    return {"metrics_table": markdown_table(metrics_table(metrics)), "figures": _figures_md(pngs)}


def blend_figures_metadata(
    metrics: dict,
    tables: dict[str, pd.DataFrame],
    classes: list[str],
    mission: str,
    provenance: str,
    dpi: int = 60,
) -> dict[str, dg.MetadataValue]:
    """Inline figures for the `blend` materialization: confusion matrices of blend + vetting (OOF and
    holdout) and planet-vs-FP ROC / PR curves of every stage (OOF)."""
    from exo_assets.reporting import figures as F
    from exo_assets.reporting.tables import PLANET_CLASSES, STAGES, label_index, planet_score, stage_proba

    tag = f"{mission}, {provenance} data"
    panels = [
        (f"{label} blend+vetting", metrics.get(split, {}).get("blend_vetting", {}).get("confusion"))
        for split, label in (("oof", "OOF"), ("holdout", "holdout"))
    ]
    oof = tables["oof"]
    roc = {
        "OOF": {
            st: (
                np.isin(oof["label"], PLANET_CLASSES).astype(int),
                planet_score(stage_proba(oof, st, classes), classes),
                metrics["oof"][st].get("binary_roc_auc"),
                metrics["oof"][st].get("binary_pr_auc"),
            )
            for st in STAGES
            if st in metrics.get("oof", {})
        }
    }
    rel = {
        "OOF": {
            st: (
                label_index(oof["label"], classes),
                stage_proba(oof, st, classes),
                metrics["oof"][st]["ece_15"],
            )
            for st in STAGES
            if st in metrics.get("oof", {})
        }
    }
    pngs = [
        (
            "confusion, blend + vetting",
            F.small_png(
                lambda fig: F.confusion_figure(panels, classes, f"blend+vetting ({tag})", ncols=2, fig=fig),
                (7.0, 3.4),
                dpi,
            ),
        ),
        (
            "planet vs FP, OOF",
            F.small_png(lambda fig: F.roc_pr_figure(roc, f"planet vs FP ({tag})", fig), (4.6, 6.4), dpi),
        ),
        (
            "reliability, OOF",
            F.small_png(
                lambda fig: F.reliability_figure(rel, f"reliability ({tag})", fig=fig), (4.6, 4.2), dpi
            ),
        ),
    ]
    return {"figures": _figures_md(pngs)}


class ReportSettings(dg.Config):
    """Report knobs: PNG resolution, SHAP sample, examples per (class, correct / misclassified) group,
    and the width of the thumbnails shown in the Dagster UI."""

    png_dpi: int = Field(default=default(ReportOptions, "png_dpi"), ge=30, le=300)
    shap_rows: int = Field(default=default(ReportOptions, "shap_rows"), ge=10)
    examples_per_group: int = Field(default=default(ReportOptions, "examples_per_group"), ge=1, le=3)
    seed: int = default(ReportOptions, "seed")
    thumbnail_width: int = Field(default=520, ge=100, le=1100)


def catalog_export(instance: dg.DagsterInstance, mission: str) -> str:
    """The catalog export recorded on the latest `catalog[mission]` materialization, else the
    shipped table's export line."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("catalog"), asset_partitions=[mission]), limit=1
    ).records
    if records:
        materialization = records[0].asset_materialization
        assert materialization is not None  # a materialization record
        value = materialization.metadata.get("catalog_export")
        if value is not None:
            return str(value.value)
    from exo_assets.science.catalogs import catalog_version

    return f"{catalog_version(mission)} (shipped table)"


@dg.asset(
    partitions_def=mission_partitions,
    group_name=REPORTS,
    kinds={"pdf", "png", "json"},
    owners=["team:exo-assets"],
    ins={
        "blend": dg.AssetIn(),
        "calibrated_booster": dg.AssetIn(),
        "cnn_oof": dg.AssetIn(),
        "feature_table": dg.AssetIn(),
        "cnn_tensors": dg.AssetIn(),
        "catalog": dg.AssetIn(),
        "raw_fits": dg.AssetIn(),
    },
    description="Evaluation report of one mission: report.pdf with numbered sections (data provenance, class "
    "balance, CV and holdout metrics of booster / CNN / blend / blend + vetting, confusion matrices, "
    "reliability, planet-vs-FP ROC and PR curves, gain importance and SHAP, example global and local views "
    "per class correctly and wrongly classified, vetting-flag rates), the figures as PNG files and "
    "metrics.json (the blend asset's metrics dicts).",
)
def final_report(
    context: dg.AssetExecutionContext,
    config: ReportSettings,
    blend: TableBundle,
    calibrated_booster: TableBundle,
    cnn_oof: TableBundle,
    feature_table: pd.DataFrame,
    cnn_tensors: ArrayBundle,
    catalog: pd.DataFrame,
    raw_fits: pd.DataFrame,
) -> dg.Output[TableBundle]:
    from exo_assets.models.artifacts import read_booster
    from exo_assets.reporting import ReportInputs, build_report
    from exo_assets.reporting.build import now_iso
    from exo_assets.reporting.png import shrink_png
    from exo_assets.reporting.tables import metrics_frame

    started = time.perf_counter()
    mission = context.partition_key
    booster = read_booster(calibrated_booster)
    inputs = ReportInputs(
        mission=mission,
        provenance=blend.attrs.get("provenance", "unknown"),
        catalog=catalog,
        feature_table=feature_table,
        views=cnn_tensors.arrays,
        view_config=cnn_tensors.attrs.get("view_config", {}),
        blend_attrs=blend.attrs,
        blend_tables={"oof": blend["oof"], "holdout": blend["holdout"]},
        booster=booster,
        booster_attrs=calibrated_booster.attrs,
        importance=calibrated_booster["importance"],
        cnn_attrs=cnn_oof.attrs,
        manifest=raw_fits,
        catalog_export=catalog_export(context.instance, mission),
        generated_at=now_iso(),
        run_id=context.run.run_id,
    )
    try:
        report = build_report(inputs, ReportOptions(**dataclass_kwargs(config, ReportOptions)))
    except ValueError as err:
        raise dg.Failure(f"cannot build the {mission} report: {err}") from err
    bundle = TableBundle(
        tables=report.tables,
        files={"report.pdf": report.pdf, "metrics.json": report.metrics_json(), **report.figures},
        attrs={
            "mission": mission,
            "provenance": inputs.provenance,
            "pages": report.pages,
            "page_headers": report.page_headers,
            "figures": sorted(report.figures),
            "generated_at": inputs.generated_at,
        },
    )
    metrics = blend.attrs.get("metrics", {})
    final_hold = metrics.get("holdout", {}).get("blend_vetting", {})
    final_oof = metrics.get("oof", {}).get("blend_vetting", {})
    thumbs = [
        (name[:-4], shrink_png(report.figures[name], config.thumbnail_width))
        for name in METADATA_FIGURES
        if name in report.figures
    ]
    return dg.Output(
        bundle,
        metadata={
            "provenance": inputs.provenance,
            "pages": report.pages,
            "sections": dg.MetadataValue.md("\n".join(f"- {h}" for h in report.page_headers)),
            "oof_macro_f1_blend_vetting": final_oof.get("macro_f1", float("nan")),
            "holdout_macro_f1_blend_vetting": final_hold.get("macro_f1", float("nan")),
            "holdout_roc_auc_planet_vs_fp": final_hold.get("binary_roc_auc", float("nan")),
            "metrics": dg.MetadataValue.md(
                f"**Data: {inputs.provenance}** — figures on simulated data are not real-world "
                "accuracy.\n\n" + metrics_frame(metrics).round(4).to_markdown(index=False)
            ),
            "figures": _figures_md(thumbs),
            "files": dg.MetadataValue.md(", ".join(f"`{n}`" for n in sorted(bundle.files))),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


@dg.asset_check(
    asset="final_report",
    partitions_def=mission_partitions,
    additional_ins={"blend": dg.AssetIn()},
    description="metrics.json holds the blend asset's metrics exactly; the PDF and every PNG are non-empty "
    "and of the recorded page count / figure list.",
)
def final_report_matches_blend(final_report: TableBundle, blend: TableBundle) -> dg.AssetCheckResult:
    problems = []
    doc = json.loads(final_report.files["metrics.json"])
    if doc.get("metrics") != blend.attrs.get("metrics"):
        problems.append("metrics.json differs from the blend metrics")
    pdf = final_report.files.get("report.pdf", b"")
    if not pdf.startswith(b"%PDF") or doc.get("pdf", {}).get("pages") != final_report.attrs.get("pages"):
        problems.append("report.pdf missing or page count not recorded")
    for name in final_report.attrs.get("figures", []):
        if not final_report.files.get(name, b"").startswith(PNG_SIGNATURE):
            problems.append(f"{name} is not a PNG")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "problems": "; ".join(problems) or "none",
            "figures": len(final_report.attrs.get("figures", [])),
        },
    )


class SummarySettings(dg.Config):
    """PNG resolution of the cross-mission summary figure."""

    png_dpi: int = Field(default=default(ReportOptions, "png_dpi"), ge=30, le=300)


#: Re-run the summary after any final_report partition is updated (e.g. the TESS refresh after a new
#: sector). Like `AutomationCondition.eager()` but without its "no dependency partition missing" clause:
#: the summary is built from whichever missions exist. Evaluated by Dagster's
#: `default_automation_condition_sensor`, which is stopped until turned on (Automation tab).
SUMMARY_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("any final_report updated")


@dg.asset(
    name=SUMMARY_ASSET,
    group_name=REPORTS,
    kinds={"pdf", "png", "parquet"},
    owners=["team:exo-assets"],
    ins={"final_report": dg.AssetIn(metadata={"allow_missing_partitions": True})},
    automation_condition=SUMMARY_AUTOMATION,
    description="Cross-mission summary of every materialized final_report partition (missing missions are "
    "listed, not an error): summary.pdf, summary.png, summary.json and a table of the booster / CNN / blend "
    "/ blend + vetting metrics per mission and split.",
)
def report_summary(
    context: dg.AssetExecutionContext, config: SummarySettings, final_report: dict
) -> dg.Output[TableBundle]:
    from exo_assets.reporting import build_summary
    from exo_assets.reporting.build import now_iso
    from exo_assets.reporting.png import shrink_png

    docs = {
        mission: json.loads(bundle.files["metrics.json"]) for mission, bundle in (final_report or {}).items()
    }
    try:
        summary = build_summary(docs, list(MISSIONS), config.png_dpi, now_iso())
    except ValueError as err:
        raise dg.Failure(str(err)) from err
    bundle = TableBundle(
        tables={"summary": summary.table},
        files={
            "summary.pdf": summary.pdf,
            "summary.png": summary.png,
            "summary.json": json.dumps(summary.doc, indent=2, sort_keys=True, default=float).encode(),
        },
        attrs={
            "missions": summary.doc["missions"],
            "missing": summary.doc["missing"],
            "provenance": summary.doc["provenance"],
            "pages": len(summary.page_headers),
        },
    )
    table = summary.table[summary.table["stage"].isin(["booster", "blend+vetting"])]
    cols = ["mission", "provenance", "split", "stage", "n", "macro_f1", "log_loss", "binary_roc_auc"]
    return dg.Output(
        bundle,
        metadata={
            "missions": ", ".join(summary.doc["missions"]),
            "missing": ", ".join(summary.doc["missing"]) or "none",
            "provenance": ", ".join(f"{m}: {p}" for m, p in summary.doc["provenance"].items()),
            "summary": markdown_table(table[cols].round(4), 40),
            "figure": _figures_md([("cross-mission summary", shrink_png(summary.png, 640))]),
        },
    )
