"""The mission partitioning shared by every per-mission asset."""

import dagster as dg

from exo_assets.science.missions import MISSIONS

mission_partitions = dg.StaticPartitionsDefinition(list(MISSIONS))
