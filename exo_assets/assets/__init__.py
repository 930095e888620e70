"""Dagster assets of exo-assets, by domain."""
