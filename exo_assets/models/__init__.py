"""Model library (Dagster-free): splits, metrics, calibration, booster, CNN, blend and vetting.

The Dagster assets, the TFRecord benchmark and the API all use these classes; there is no second
implementation anywhere.
"""
