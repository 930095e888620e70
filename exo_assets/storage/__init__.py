"""Storage helpers shared by the IO managers, the archive cache and the simulator: atomic writes and
bundles."""

from exo_assets.storage.arrays import ArrayBundle, read_npz, write_npz
from exo_assets.storage.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from exo_assets.storage.bundle import TableBundle
from exo_assets.storage.jsonable import finite_or_none, json_default, json_safe

__all__ = [
    "ArrayBundle",
    "TableBundle",
    "read_npz",
    "write_npz",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "finite_or_none",
    "json_default",
    "json_safe",
]
