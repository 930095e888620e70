"""`ExternalViewsSource`: where the AstroNet-format TFRecord sets live (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from exo_assets.external.tfrecord_reader import DATASETS, TFRecordError, shard_paths

_SPLIT_PREFIX = {"train": "train-", "val": "val-", "test": "test-"}


class ExternalViewsSource(dg.ConfigurableResource):
    """Folders of AstroNet-format TFRecord shards (`train-*`, `val-*`, optional `test-*`).

    Attributes:
        vetting_dir: Astronet-Vetting shards (PC / EB / J), e.g. ../shared/data/astronet_vetting.
        toi_dir: TOI-views shards (labels from the TOI catalog), e.g. ../shared/data/tess_toi_views.
        dr24_dir: Kepler DR24 AstroNet shards (PC / AFP / NTP), e.g. ../shared/data/kepler_dr24_views.
        toi_catalog: TOI catalog CSV for the TOI set's labels; empty -> the shipped TOI table. A raw
            archive export (catalogs/toi.csv) also gives the TOI hosts' stellar parameters (physics).
        tce_params: the vetting set's tce_params.csv (physical inputs); empty -> a tce_params.csv in
            vetting_dir if there is one, else none. The DR24 records carry their own.
    Empty folders are allowed: only the `external_views` assets need them, and they say how to set them.
    """

    vetting_dir: str = ""
    toi_dir: str = ""
    dr24_dir: str = ""
    toi_catalog: str = ""
    tce_params: str = ""

    def folder(self, dataset: str) -> Path:
        """The shard folder of `dataset` ("vetting" or "toi").

        Raises:
            dagster.Failure: unknown dataset, folder not configured or not found.
        """
        if dataset not in DATASETS:
            raise dg.Failure(f"unknown external set {dataset!r}; expected one of {list(DATASETS)}")
        value = {"vetting": self.vetting_dir, "toi": self.toi_dir, "dr24": self.dr24_dir}[dataset]
        if not value:
            raise dg.Failure(
                f"no folder configured for the {dataset} TFRecord set: run `exo-assets materialize-external "
                f"--set {dataset} --dir <folder>` or set resources.external_views.config.{dataset}_dir")
        path = Path(value).expanduser()
        if not path.is_dir():
            raise dg.Failure(f"{dataset} TFRecord folder not found: {path}")
        return path

    def shards(self, dataset: str) -> dict[str, list[str]]:
        """{"train": [...], "val": [...], "test": [...]} shard paths of `dataset`; test may be empty.

        Raises:
            dagster.Failure: as `folder`, or no train or no val shard.
        """
        try:
            paths = shard_paths(self.folder(dataset))
        except TFRecordError as err:
            raise dg.Failure(str(err)) from err
        out = {role: [p for p in paths if Path(p).name.startswith(prefix)] for role, prefix in _SPLIT_PREFIX.items()}
        for role in ("train", "val"):
            if not out[role]:
                raise dg.Failure(f"{self.folder(dataset)}: no {role}-* shards (need train-*, val-*, optional test-*)")
        return out

    def physics_source(self, dataset: str) -> str | None:
        """Where the physical inputs of `dataset` come from (`physics.attach_physics`); None -> none."""
        if dataset == "vetting":  # as `exo-assets benchmark-tfrecord`: a tce_params.csv beside the shards
            if self.tce_params:
                return self.tce_params
            beside = Path(self.vetting_dir).expanduser() / "tce_params.csv" if self.vetting_dir else None
            return str(beside) if beside is not None and beside.exists() else None
        if dataset == "toi" and self.toi_catalog:
            from exo_assets.science.catalogs import read_archive_csv

            try:
                raw = "tid" in read_archive_csv(Path(self.toi_catalog)).columns
            except (OSError, ValueError):
                raw = False
            return self.toi_catalog if raw else None
        return None

    def labels_from(self) -> str | None:
        """The TOI catalog path for labels (None -> the shipped table)."""
        return self.toi_catalog or None
