"""Mission constants: names, time systems, cadences and star-id prefixes.

Time systems (all in days):
- Kepler and K2 use BKJD = BJD - 2454833.0
- TESS uses BTJD = BJD - 2457000.0
"""

from __future__ import annotations

from dataclasses import dataclass

MISSIONS: tuple[str, ...] = ("Kepler", "K2", "TESS")


@dataclass(frozen=True)
class MissionInfo:
    """Static facts about one mission.

    Attributes:
        name: mission name as used for partition keys.
        time_system: name of the mission's time system ("BKJD" or "BTJD").
        bjd_offset: BJD minus the mission time, days.
        cadence_days: long/standard cadence used for light curves, days.
        star_prefix: prefix of the star identifier ("KIC", "EPIC", "TIC").
        lightkurve_author: lightkurve `author` for the mission's PDCSAP light curves.
        lightkurve_exptime: exposure time in seconds passed to lightkurve's search.
    """

    name: str
    time_system: str
    bjd_offset: float
    cadence_days: float
    star_prefix: str
    lightkurve_author: str
    lightkurve_exptime: int


MISSION_INFO: dict[str, MissionInfo] = {
    "Kepler": MissionInfo("Kepler", "BKJD", 2454833.0, 29.4244 / 1440.0, "KIC", "Kepler", 1800),
    "K2": MissionInfo("K2", "BKJD", 2454833.0, 29.4244 / 1440.0, "EPIC", "K2", 1800),
    "TESS": MissionInfo("TESS", "BTJD", 2457000.0, 2.0 / 1440.0, "TIC", "SPOC", 120),
}


def mission_info(mission: str) -> MissionInfo:
    """Return the `MissionInfo` of a mission name, raising ValueError for unknown names."""
    try:
        return MISSION_INFO[mission]
    except KeyError:
        raise ValueError(f"unknown mission {mission!r}; expected one of {MISSIONS}") from None


def bjd_to_mission_time(bjd: float, mission: str) -> float:
    """Convert a BJD (days) to the mission's time system (BKJD or BTJD, days)."""
    return bjd - mission_info(mission).bjd_offset
