"""The mission partitioning shared by every per-mission asset."""

import dagster as dg

from exo_assets.science.missions import MISSIONS

mission_partitions = dg.StaticPartitionsDefinition(list(MISSIONS))

#: Name of the dynamic partitioning of the per-sector TESS download asset (`tess_sector_fits`).
TESS_SECTORS = "tess_sectors"

#: TESS sectors ("1", "2", ...) added by the new-sector sensor (or by hand in the UI). Only the
#: TESS-only `tess_sector_fits` asset uses it: Kepler and K2 get no sector keys.
tess_sector_partitions = dg.DynamicPartitionsDefinition(name=TESS_SECTORS)


def sector_from_key(key: str) -> int:
    """The sector number of a `tess_sectors` partition key ("27" -> 27).

    Raises:
        ValueError: the key is not a positive whole number.
    """
    text = str(key).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(
            f"a tess_sectors partition key must be a TESS sector number such as '27', got {key!r}"
        )
    return int(text)


def registered_tess_sectors(instance: dg.DagsterInstance) -> tuple[list[int], list[str]]:
    """(sorted sector numbers, keys that are not sector numbers) of the `tess_sectors` partitions."""
    sectors, bad = set(), []
    for key in instance.get_dynamic_partitions(TESS_SECTORS):
        try:
            sectors.add(sector_from_key(key))
        except ValueError:
            bad.append(key)
    return sorted(sectors), bad
