"""Opening the Dagster instance of a DAGSTER_HOME folder: the one place that uses Dagster's `InstanceRef`
(a private import, `dagster._core.instance.ref`, kept here so a Dagster upgrade is fixed in one file).
"""

from __future__ import annotations

from pathlib import Path

import yaml


def open_instance(home: str | Path, create: bool = False):
    """The `DagsterInstance` of `home` (DAGSTER_HOME layout), usable as a context manager.

    Its dagster.yaml is honoured; SQLite storage is pinned to `home` (the repository's yaml reads
    `env: DAGSTER_HOME`, which may be unset or point elsewhere in the calling process).

    Args:
        create: make `home` when missing (a fresh instance); otherwise FileNotFoundError when `home`
            does not exist (nothing was ever materialized there).
    """
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    home = Path(home).resolve()
    if create:
        home.mkdir(parents=True, exist_ok=True)
    if not home.is_dir():
        raise FileNotFoundError(f"DAGSTER_HOME {home} does not exist")
    cfg_file = home / "dagster.yaml"
    config = yaml.safe_load(cfg_file.read_text()) if cfg_file.is_file() else {}
    storage = (config or {}).get("storage")
    overrides = {"storage": {"sqlite": {"base_dir": str(home)}}} if storage is None or "sqlite" in storage else {}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))
