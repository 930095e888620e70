"""Reading report PDFs back: page texts (pypdf) and the printed metrics table."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from exo_assets.reporting.tables import METRIC_COLUMNS, SPLIT_LABELS, STAGE_LABELS, fmt


def page_texts(pdf: bytes) -> list[str]:
    """Extracted text of every page."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def metric_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """(split, stage) -> the printed values (n, then the METRIC_COLUMNS) of a page's metrics table."""
    stages = "|".join(re.escape(v) for v in STAGE_LABELS.values())
    splits = "|".join(SPLIT_LABELS.values())
    rows = {}
    for line in text.splitlines():
        m = re.match(rf"^\s*({splits})\s+({stages})\s+(\d+)\s+(.*)$", line)
        if m:
            rows[(m.group(1), m.group(2))] = [m.group(3), *m.group(4).split()]
    return rows


def expected_rows(metrics: dict) -> dict[tuple[str, str], list[str]]:
    """What `metric_rows` must read for a blend metrics dict: every value formatted by `fmt`."""
    return {
        (SPLIT_LABELS[split], STAGE_LABELS[stage]): [str(m["n"]), *[fmt(m.get(k)) for k, _ in METRIC_COLUMNS]]
        for split, stages in metrics.items()
        if split in SPLIT_LABELS
        for stage, m in stages.items()
    }
