"""Helpers that turn tables into Dagster UI metadata (markdown tables, counts)."""

from __future__ import annotations

import dagster as dg
import pandas as pd


def markdown_table(frame: pd.DataFrame, max_rows: int = 25) -> dg.MetadataValue:
    """A markdown table of at most `max_rows` rows (with a note when cut)."""
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    text = frame.head(max_rows).to_markdown(index=False)
    if len(frame) > max_rows:
        text += f"\n\n_{len(frame) - max_rows} more rows not shown_"
    return dg.MetadataValue.md(text)


def reason_counts(
    frame: pd.DataFrame, status_col: str = "status", reason_col: str = "reason"
) -> pd.DataFrame:
    """Counts per (status, reason) of the rows that are not OK/found."""
    bad = frame[~frame[status_col].isin(["ok", "found"])]
    if bad.empty:
        return pd.DataFrame(columns=[status_col, reason_col, "count"])
    return (
        bad.groupby([status_col, reason_col])
        .size()
        .reset_index(name="count")
        .sort_values("count", ascending=False)
    )
