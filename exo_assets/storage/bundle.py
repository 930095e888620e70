"""`TableBundle`: named tables (and native files) that form one asset value.

Tables are stored as Parquet, files as-is (a LightGBM text model, a torch state_dict, a JSON config),
all in one versioned folder switched atomically by the IO manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class TableBundle:
    """Named tables that are materialized together, e.g. cleaned light-curve points plus per-star status.

    Attributes:
        tables: table name -> DataFrame.
        attrs: small JSON-serialisable facts about the bundle (config, provenance, metrics).
        files: file name -> bytes, stored verbatim in native formats (e.g. "model.lgb.txt").
    """

    tables: dict[str, pd.DataFrame]
    attrs: dict = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables
