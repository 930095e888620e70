"""`TableBundle`: named tables (and native files and folders) that form one asset value.

Tables are stored as Parquet, files as-is (a LightGBM text model, a torch state_dict, a JSON config),
folders of streamed per-star files (`exo_assets.storage.curves`) moved in whole, all in one versioned
folder switched atomically by the IO manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class TableBundle:
    """Named tables that are materialized together, e.g. cleaned light-curve points plus per-star status.

    Attributes:
        tables: table name -> DataFrame.
        attrs: small JSON-serialisable facts about the bundle (config, provenance, metrics).
        files: file name -> bytes, stored verbatim in native formats (e.g. "model.lgb.txt").
        dirs: folder name -> a folder written before the bundle is stored (per-star curve files
            streamed by workers). Storing moves it into the bundle; a loaded bundle names the stored
            folder, whose files are read on demand (never all at once).
    """

    tables: dict[str, pd.DataFrame]
    attrs: dict = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables
