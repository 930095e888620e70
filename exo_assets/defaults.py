"""Defaults shared by the command line, the API, the benchmarks and the inference engine (one home each).

Dagster-free; every entry point reads its defaults here rather than writing its own copy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder used as DAGSTER_HOME when neither an argument nor $DAGSTER_HOME names one (relative to the
#: working directory; gitignored).
DAGSTER_HOME_DEFAULT = ".dagster_home"

#: Stars per mission partition of the main job (`exo-assets materialize`, the archive resource): enough
#: for a holdout of >= 40 signals per mission at the 15% holdout fraction, and for the CNN to learn.
TARGETS_PER_MISSION = 300

#: Decision rule on the final p(CP): at least CP_HIGH -> "high_confidence_planet", at least CP_THRESH
#: -> "candidate" (see `exo_assets.inference.request.DecisionConfig`).
CP_THRESH = 0.5
CP_HIGH = 0.9


def dagster_home(explicit: str | Path | None = None) -> Path:
    """The Dagster home to use: `explicit`, else $DAGSTER_HOME, else `DAGSTER_HOME_DEFAULT` (not resolved)."""
    return Path(explicit or os.environ.get("DAGSTER_HOME") or DAGSTER_HOME_DEFAULT)
