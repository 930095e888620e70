"""Report knobs (Dagster- and matplotlib-free, so the `dg.Config` of the report assets can take its
defaults from here when the code location loads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReportOptions:
    """Report knobs: PNG resolution (dpi), SHAP sample size, examples per (class, correct/wrong) group."""

    png_dpi: int = 100
    shap_rows: int = 300
    examples_per_group: int = 1
    seed: int = 0
