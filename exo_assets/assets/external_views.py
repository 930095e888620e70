"""External-views data source: real TESS signals from AstroNet-format TFRecords, outside the mission graph.

`external_feature_table` + `external_cnn_tensors` (the reader's output in the project's schemas) ->
`external_benchmark` (the project's booster, CNN and blend trained on the train shards, tuned on the
validation shard, scoring the test shards; the same `benchmark_sets` as `exo-assets benchmark-tfrecord`).
Partitioned by set ("vetting", "toi", "dr24"); the folders and the physical inputs (tce_params.csv,
the TOI catalog) come from the `external_views` resource. Validation choices use star-disjoint rows.
"""

import time

import dagster as dg
import pandas as pd

from exo_assets.assets.metadata import markdown_table
from exo_assets.external.benchmark import EXTERNAL_DATA_LABEL, benchmark_sets
from exo_assets.external.physics import attach_physics
from exo_assets.external.stored import from_stored, to_stored
from exo_assets.external.tfrecord_reader import DATASETS, TFRecordError, load_external
from exo_assets.models.blend import BlendConfig
from exo_assets.storage import ArrayBundle, TableBundle
from resources.external_views import ExternalViewsSource

EXTERNAL = "external_views"
external_set_partitions = dg.StaticPartitionsDefinition(list(DATASETS))

#: The CLI and the job name.
EXTERNAL_JOB = "external_views_job"


class ExternalBenchmarkSettings(dg.Config):
    """Run config of `external_benchmark` (defaults as `exo-assets benchmark-tfrecord`)."""

    seed: int = 0
    cnn_epochs: int = 60
    blend_min_gain_se: float = BlendConfig.min_gain_se
    cnn_members: int = 1
    cnn_stack_folds: int = 0


def _dropped_table(meta_by_role: dict) -> pd.DataFrame:
    rows = []
    for role, meta in meta_by_role.items():
        for reason, count in (meta.get("dropped") or {}).items():
            rows.append({"split": role, "reason": reason, "signals": count})
    return pd.DataFrame(rows, columns=["split", "reason", "signals"])


@dg.multi_asset(
    partitions_def=external_set_partitions, group_name=EXTERNAL, can_subset=False,
    outs={
        "external_feature_table": dg.AssetOut(
            kinds={"parquet"}, owners=["team:exo-assets"],
            description="Real TESS signals from AstroNet TFRecords in the feature_table schema: ids, label, split "
            "(train/val/test), the allowed shard scalars, view-derived features (NaN where not derivable). "
            "Leakage columns (toi_id, Sectors, camera, ccd, Epoc) are never features."),
        "external_cnn_tensors": dg.AssetOut(
            kinds={"numpy"}, owners=["team:exo-assets"],
            description="The same signals' views (global 201 bins, local 61, vetting also secondary 61), "
            "sign-unified (dip negative), rows aligned with external_feature_table."),
    },
)
def external_signals(context: dg.AssetExecutionContext, external_views: ExternalViewsSource):
    """Read train, val and (if present) test shards of the partition's set into the project's schemas."""
    dataset = context.partition_key
    started = time.perf_counter()
    shards = external_views.shards(dataset)
    labels_from = external_views.labels_from()
    sets = {}
    try:
        for role in ("train", "val", "test"):
            if shards[role]:
                sets[role] = load_external(shards[role], dataset=dataset, labels_from=labels_from,
                                           require_labels=role != "test")
                attach_physics(sets[role], external_views.physics_source(dataset))
    except (TFRecordError, ValueError, FileNotFoundError) as err:
        raise dg.Failure(f"{dataset} shards unreadable: {err}") from err
    table, tensors = to_stored(sets)
    counts = table.groupby(["split", "label"]).size().rename("signals").reset_index()
    common = {"dataset": dataset, "data": EXTERNAL_DATA_LABEL,
              "folder": str(external_views.folder(dataset))}
    yield dg.Output(table, output_name="external_feature_table", metadata={
        **common, "signals": len(table), "columns": len(table.columns),
        "per_split_and_label": markdown_table(counts, max_rows=30),
        "dropped_with_reason": markdown_table(_dropped_table(tensors.attrs["reader"])),
        "seconds": round(time.perf_counter() - started, 2)})
    yield dg.Output(tensors, output_name="external_cnn_tensors", metadata={
        **common, "channels": ", ".join(f"{k} {v.shape[1]} bins" for k, v in tensors.arrays.items() if v.ndim == 2)})


@dg.asset(
    partitions_def=external_set_partitions, group_name=EXTERNAL, kinds={"lightgbm", "pytorch"},
    owners=["team:exo-assets"],
    description="The project's booster + CNN + blend trained on the set's train shards, tuned on its validation "
    "shard (early stopping, temperatures, blend weight), scoring its test shards (the validation shard's "
    "labelled signals when the folder has no test-*). Predictions table (row_id, tic_id, p_<CLASS>) and the metrics of "
    "`exo-assets benchmark-tfrecord`; validation figures cross-fitted with bootstrap 95% intervals.",
)
def external_benchmark(context: dg.AssetExecutionContext, config: ExternalBenchmarkSettings,
                       external_feature_table: pd.DataFrame,
                       external_cnn_tensors: ArrayBundle) -> dg.Output[TableBundle]:
    try:
        sets = from_stored(external_feature_table, external_cnn_tensors)
    except ValueError as err:
        raise dg.Failure(str(err)) from err
    test = sets.get("test") or sets["val"]
    preds, metrics = benchmark_sets(sets["train"], sets["val"], test, config.seed, config.cnn_epochs,
                                    log=context.log.info, blend_min_gain_se=config.blend_min_gain_se,
                                    cnn_members=config.cnn_members, cnn_stack_folds=config.cnn_stack_folds)
    metrics["test_source"] = ("test shards" if "test" in sets
                              else "validation shard, labelled signals (no test-* in the folder)")
    rows = []
    for stage, values in metrics["validation"].items():
        row = {"stage": stage}
        for key, value in values.items():
            if isinstance(value, float):
                lo, hi = values["ci95"].get(key, (None, None))
                row[key] = f"{value:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
        rows.append(row)
    return dg.Output(TableBundle(tables={"predictions": preds}, attrs=metrics), metadata={
        "dataset": metrics["dataset"], "data": EXTERNAL_DATA_LABEL,
        "validation": markdown_table(pd.DataFrame(rows)),
        "blend_alpha": float(metrics["blend"]["final"].get("alpha", 0.0)),
        "test_signals": len(preds), "test_source": metrics["test_source"],
        "seconds": round(metrics["timings_s"]["fit_and_score_s"], 1)})
