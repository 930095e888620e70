"""Evaluation reports (Dagster-free): figures as matplotlib Figures / PNG bytes, a numbered-section PDF
per mission built with matplotlib's PdfPages, and a cross-mission summary.

    build_report(ReportInputs(...)) -> Report(pdf, figures, metrics, page_headers, tables)
    build_summary({mission: metrics.json document}, all_missions) -> Summary(pdf, png, table, doc)

Numbers come from the metrics dicts of `exo_assets.models.metrics` stored in the `blend` asset;
nothing here computes a metric a second way.
"""

import importlib

__all__ = ["SECTIONS", "SUMMARY_SECTIONS", "Report", "ReportInputs", "ReportOptions", "Summary", "build_report",
           "build_summary"]


def __getattr__(name: str):
    """The names of `reporting.build`, imported on first use: importing `exo_assets.reporting.<module>`
    (e.g. `png`, `options`) must not pay for matplotlib when the Dagster code location loads."""
    if name in __all__:
        return getattr(importlib.import_module("exo_assets.reporting.build"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
