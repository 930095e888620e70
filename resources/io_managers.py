"""IO manager storing asset values in native formats, written atomically.

Layout under the root folder (default: the Dagster instance's storage directory, i.e.
`$DAGSTER_HOME/storage`):

    <root>/<asset key>/<partition>.parquet        pandas DataFrame
    <root>/<asset key>/<partition>.json           dict (JSON)
    <root>/<asset key>/<partition>.npz            ArrayBundle (numpy arrays, loaded with allow_pickle=False)
    <root>/<asset key>/<partition>.bundle.json    TableBundle pointer -> <partition>.bundle/<version>/ (*.parquet
                                                  tables, native files such as model.lgb.txt, model.pt, and
                                                  folders of per-star files, e.g. curves/)

Single files are written to a temporary name and renamed. A bundle is written into a fresh version
folder (a bundle's streamed folders are moved in, not copied, when they sit on the same file system),
then the small pointer file is replaced atomically, so a crash mid-write leaves the previous
materialization readable; older versions are pruned after the switch. No pickle anywhere.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd

from exo_assets.storage import (ArrayBundle, TableBundle, atomic_path, atomic_write_text, json_default, read_npz,
                                write_npz)

UNPARTITIONED = "__all__"


def write_parquet(frame: pd.DataFrame, dest: Path) -> int:
    """Write a DataFrame to Parquet atomically; returns bytes written."""
    with atomic_path(dest, suffix=".parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    return dest.stat().st_size


def write_json(value: dict, dest: Path) -> int:
    """Write a dict as JSON atomically; returns bytes written."""
    atomic_write_text(dest, json.dumps(value, indent=2, sort_keys=True, default=json_default))
    return dest.stat().st_size


def write_bundle(bundle: TableBundle, pointer: Path) -> int:
    """Write a TableBundle as a versioned folder of Parquet files plus an atomic pointer file."""
    root = pointer.with_name(pointer.name.replace(".bundle.json", ".bundle"))
    version = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder = root / version
    folder.mkdir(parents=True, exist_ok=False)
    total = 0
    try:
        for name, frame in bundle.tables.items():
            path = folder / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            total += path.stat().st_size
        for name, data in bundle.files.items():
            _check_name(name)
            (folder / name).write_bytes(data)
            total += len(data)
        moved = {}
        for name, src in bundle.dirs.items():
            _check_name(name)
            shutil.move(str(src), str(folder / name))
            moved[name] = folder / name
            total += sum(p.stat().st_size for p in moved[name].iterdir())
        write_json({"version": version, "tables": sorted(bundle.tables), "files": sorted(bundle.files),
                    "dirs": sorted(bundle.dirs), "attrs": bundle.attrs}, pointer)
    except BaseException:  # crash or interrupt mid-write: the pointer still names the previous version
        shutil.rmtree(folder, ignore_errors=True)
        for src in bundle.dirs.values():  # a staged folder not yet moved in is discarded too
            shutil.rmtree(src, ignore_errors=True)
        raise
    bundle.dirs.update(moved)  # the value in memory now names the stored folders, as a loaded one does
    for old in root.iterdir():
        if old.is_dir() and old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return total


def _check_name(name: str) -> None:
    if "/" in name or name.startswith(".") or name.endswith(".parquet") or not name:
        raise ValueError(f"bad bundle file name {name!r}")


def read_bundle(pointer: Path) -> TableBundle:
    """Read the current version of a bundle written by `write_bundle` (folders by path, not content)."""
    meta = json.loads(pointer.read_text())
    folder = pointer.with_name(pointer.name.replace(".bundle.json", ".bundle")) / meta["version"]
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in meta["tables"]}
    files = {name: (folder / name).read_bytes() for name in meta.get("files", [])}
    dirs = {name: folder / name for name in meta.get("dirs", [])}
    return TableBundle(tables=tables, attrs=meta.get("attrs", {}), files=files, dirs=dirs)


class ExoIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as Parquet, dicts as JSON and TableBundles as Parquet folders, atomically.

    Attributes:
        base_dir: root folder; empty means the Dagster instance's storage directory.
    """

    base_dir: str = ""

    def _root(self, context) -> Path:
        if self.base_dir:
            return Path(self.base_dir)
        instance = getattr(context, "instance", None)
        if instance is None and getattr(context, "step_context", None) is not None:
            instance = context.step_context.instance
        if instance is None:
            raise dg.DagsterInvariantViolationError("ExoIOManager needs base_dir or a Dagster instance")
        return Path(instance.storage_directory())

    def _stem(self, context, partition: str | None) -> Path:
        return self._root(context).joinpath(*context.asset_key.path) / (partition or UNPARTITIONED)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        stem = self._stem(context, context.partition_key if context.has_partition_key else None)
        stem.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, ArrayBundle):
            path = stem.with_name(stem.name + ".npz")
            size = write_npz(obj, path)
        elif isinstance(obj, TableBundle):
            path = stem.with_name(stem.name + ".bundle.json")
            size = write_bundle(obj, path)
        elif isinstance(obj, pd.DataFrame):
            path = stem.with_name(stem.name + ".parquet")
            size = write_parquet(obj, path)
        elif isinstance(obj, dict):
            path = stem.with_name(stem.name + ".json")
            size = write_json(obj, path)
        else:
            raise dg.DagsterInvariantViolationError(
                f"ExoIOManager cannot store {type(obj).__name__} (no pickle): use DataFrame, dict, TableBundle or ArrayBundle"
            )
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), "stored_bytes": size})

    def load_input(self, context: dg.InputContext):
        if context.has_asset_partitions and (len(context.asset_partition_keys) != 1 or not context.has_partition_key):
            return self._load_partitions(context)
        partition = context.asset_partition_key if context.has_asset_partitions else None
        return self._load(context, partition)

    def _load_partitions(self, context: dg.InputContext) -> dict:
        """{partition: value} for a step that reads several partitions (e.g. an unpartitioned asset fed by
        every partition). As with Dagster's UPathIOManager, input metadata `allow_missing_partitions=True`
        leaves out partitions never stored instead of failing."""
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions", False))
        out = {}
        for key in context.asset_partition_keys:
            try:
                out[key] = self._load(context, key)
            except FileNotFoundError:
                if not allow_missing:
                    raise
                context.log.warning(f"{context.asset_key.to_user_string()}[{key}] is not stored: skipped")
        return out

    def _load(self, context: dg.InputContext, partition: str | None):
        stem = self._stem(context, partition)
        for suffix, reader in ((".bundle.json", read_bundle), (".parquet", pd.read_parquet), (".npz", read_npz),
                               (".json", lambda p: json.loads(p.read_text()))):
            path = stem.with_name(stem.name + suffix)
            if path.exists():
                return reader(path)
        raise FileNotFoundError(f"no stored value for {context.asset_key.to_user_string()} at {stem}.*")
