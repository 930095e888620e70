"""Dagster assets of exo-assets, by domain."""

import warnings

import dagster as dg

# Asset checks are partitioned by mission like their assets (a preview feature in Dagster 1.13); filtered here
# so that importing any asset module (definitions, CLI, serving, tests) stays quiet.
warnings.filterwarnings(
    "ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*"
)
