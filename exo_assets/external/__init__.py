"""Readers for external, already-binned transit-signal sets (AstroNet-format TFRecords) and their
view features."""
