"""Benchmarks (`exo-assets bench ...`)."""
