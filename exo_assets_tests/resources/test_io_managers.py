"""Native-format, atomic storage of asset values."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from exo_assets.storage import TableBundle, atomic_write_text
from resources.io_managers import ExoIOManager, read_bundle, write_bundle, write_parquet

parts = dg.StaticPartitionsDefinition(["Kepler", "TESS"])


def _defs(tmp_path, value_fn):
    @dg.asset(partitions_def=parts)
    def thing(context) -> object:
        return value_fn(context.partition_key)

    @dg.asset(partitions_def=parts)
    def reader(thing) -> dict:
        return {"type": type(thing).__name__}

    return [thing, reader], {"io_manager": ExoIOManager(base_dir=str(tmp_path))}


@pytest.mark.parametrize(
    "value, suffix",
    [
        (pd.DataFrame({"a": [1, 2]}), ".parquet"),
        ({"alpha": 0.25, "n": 3}, ".json"),
        (
            TableBundle(
                {"points": pd.DataFrame({"t": [1.0]}), "stars": pd.DataFrame({"s": ["x"]})}, {"k": 1}
            ),
            ".bundle.json",
        ),
    ],
)
def test_round_trip_per_partition(tmp_path, value, suffix):
    assets, resources = _defs(tmp_path, lambda p: value)
    result = dg.materialize(assets, resources=resources, partition_key="TESS")
    assert result.success
    assert (tmp_path / "thing" / f"TESS{suffix}").exists()
    assert not (tmp_path / "thing" / f"Kepler{suffix}").exists()
    assert result.output_for_node("reader")["type"] == type(value).__name__


def test_refuses_unknown_types_instead_of_pickling(tmp_path):
    assets, resources = _defs(tmp_path, lambda p: {1, 2, 3})
    result = dg.materialize(assets, resources=resources, partition_key="TESS", raise_on_error=False)
    assert not result.success
    assert not list(tmp_path.rglob("*.pkl")) and not list((tmp_path).rglob("TESS*"))


def test_failed_parquet_write_keeps_previous_file(tmp_path, monkeypatch):
    dest = tmp_path / "x.parquet"
    write_parquet(pd.DataFrame({"v": [1, 2, 3]}), dest)

    def broken(self, path, **kw):
        with open(path, "wb") as fh:
            fh.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError):
        write_parquet(pd.DataFrame({"v": [9]}), dest)
    monkeypatch.undo()
    assert pd.read_parquet(dest)["v"].tolist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]  # no temp file left behind


def test_bundle_crash_mid_write_keeps_previous_version(tmp_path, monkeypatch):
    pointer = tmp_path / "Kepler.bundle.json"
    write_bundle(TableBundle({"a": pd.DataFrame({"v": [1]}), "b": pd.DataFrame({"w": [2]})}), pointer)
    calls = {"n": 0}
    original = pd.DataFrame.to_parquet

    def second_table_fails(self, path, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed mid-materialization")
        return original(self, path, **kw)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", second_table_fails)
    with pytest.raises(KeyboardInterrupt):
        write_bundle(TableBundle({"a": pd.DataFrame({"v": [7]}), "b": pd.DataFrame({"w": [8]})}), pointer)
    monkeypatch.undo()
    bundle = read_bundle(pointer)
    assert bundle["a"]["v"].tolist() == [1] and bundle["b"]["w"].tolist() == [2]
    # a later successful write switches versions and prunes the old folders
    write_bundle(TableBundle({"a": pd.DataFrame({"v": [3]})}), pointer)
    assert read_bundle(pointer)["a"]["v"].tolist() == [3]
    assert len(list((tmp_path / "Kepler.bundle").iterdir())) == 1


def test_atomic_text_write(tmp_path):
    dest = tmp_path / "d" / "f.json"
    atomic_write_text(dest, json.dumps({"a": 1}))
    assert json.loads(dest.read_text()) == {"a": 1}


def test_json_helpers_strict_json_and_finite_numbers():
    import numpy as np

    from exo_assets.storage import finite_or_none, json_default, json_safe

    assert [finite_or_none(v) for v in (np.float32(2.5), "3", None, "x", np.nan, float("inf"))] == [
        2.5,
        3.0,
        None,
        None,
        None,
        None,
    ]
    value = {
        1: np.float64(np.nan),
        "arr": np.array([1.5, np.inf]),
        "flag": np.bool_(True),
        "n": np.int64(7),
        "t": (None, "s"),
        "p": Path("/x"),
    }
    safe = json_safe(value)
    assert safe == {"1": None, "arr": [1.5, None], "flag": True, "n": 7, "t": [None, "s"], "p": "/x"}
    json.dumps(safe, allow_nan=False)  # strict JSON
    # json_default keeps numbers as they are (stored metadata may hold NaN), only converts numpy / paths
    assert json.loads(json.dumps({"a": np.float64(1.25), "b": np.arange(2)}, default=json_default)) == {
        "a": 1.25,
        "b": [0, 1],
    }
