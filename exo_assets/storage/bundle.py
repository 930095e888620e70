"""`TableBundle`: several named tables that form one asset value (stored as one Parquet file each)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class TableBundle:
    """Named tables that are materialized together, e.g. cleaned light-curve points plus per-star status.

    Attributes:
        tables: table name -> DataFrame.
        attrs: small JSON-serialisable facts about the bundle (config, provenance).
    """

    tables: dict[str, pd.DataFrame]
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables
