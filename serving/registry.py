"""Model registry: loads the materialized model assets THROUGH DAGSTER and hot-swaps them.

Values come from the code location's own `Definitions` (`exo_assets.definitions.defs`, i.e. its IO
manager) via `Definitions.get_asset_value_loader(instance)`, per mission partition; the lineage
(run id, event storage id, timestamp) of each value comes from the instance's event log
(`DagsterInstance.fetch_materializations`). No file path is hard-coded.

Hot reload: `refresh()` asks the event log for the latest materialization of `calibrated_booster`,
`cnn_oof` and `blend` of every mission (9 indexed queries, a few ms on SQLite) and compares their
storage ids with the loaded ones. A mission is reloaded only when its set is *consistent*: the
blend was materialized after both branches it was fitted on (otherwise a run is writing them right
now and the current models stay). The new `ModelSet` replaces the old one by a single attribute
assignment, so a request that already holds the old set finishes on it. A failed reload (e.g. a
bundle version pruned while being read) keeps the current set and is retried on the next check.

The model trained on real TESS labels (`external_benchmark`, partition "vetting"; see
`exo_assets.inference.real_label`) is loaded the same way and rides along in the `ModelSet`
(`real_label`); absent, the prediction's block says so (never an error).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from exo_assets.inference import MissionModel, ModelSet
from exo_assets.instance import open_instance
from exo_assets.models.artifacts import stored_view_config
from exo_assets.science.missions import MISSIONS

if TYPE_CHECKING:
    import dagster as dg

__all__ = ["MODEL_ASSETS", "ModelRegistry", "consistent", "latest_lineage", "load_mission", "open_instance"]
MODEL_ASSETS = ("calibrated_booster", "cnn_oof", "blend")
log = logging.getLogger("exo_assets.serving")


def latest_lineage(instance, missions=MISSIONS) -> dict[str, dict[str, dict]]:
    """mission -> asset -> {"run_id", "storage_id", "timestamp"} of the latest materializations."""
    import dagster as dg

    out: dict[str, dict[str, dict]] = {}
    for mission in missions:
        per = {}
        for asset in MODEL_ASSETS:
            recs = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[mission]), limit=1
            ).records
            if recs:
                r = recs[0]
                per[asset] = {
                    "run_id": r.run_id,
                    "storage_id": int(r.storage_id),
                    "timestamp": float(r.timestamp),
                }
        out[mission] = per
    return out


def consistent(lineage: dict[str, dict]) -> bool:
    """All three model assets exist and the blend is newer than both branches."""
    if not all(a in lineage for a in MODEL_ASSETS):
        return False
    blend = lineage["blend"]["storage_id"]
    return blend > lineage["calibrated_booster"]["storage_id"] and blend > lineage["cnn_oof"]["storage_id"]


def load_mission(defs, instance, mission: str, lineage: dict, device: str = "cpu") -> MissionModel:
    """Load one mission's model bundles through Dagster and rebuild its `MissionModel`."""
    with defs.get_asset_value_loader(instance=instance) as loader:
        booster = loader.load_asset_value("calibrated_booster", partition_key=mission)
        cnn = loader.load_asset_value("cnn_oof", partition_key=mission)
        blend = loader.load_asset_value("blend", partition_key=mission)
        view_config = stored_view_config(cnn)
        if not view_config:  # models materialized before cnn_oof recorded its views' settings
            view_config = loader.load_asset_value("cnn_tensors", partition_key=mission).attrs.get(
                "view_config"
            )
    return MissionModel.from_bundles(mission, booster, cnn, blend, view_config, lineage, device=device)


#: The asset and partition of the model trained on real labels (`inference.real_label`).
REAL_LABEL_ASSET, REAL_LABEL_PARTITION = "external_benchmark", "vetting"


def real_label_lineage(instance) -> dict:
    """{"run_id", "storage_id", "timestamp"} of the latest vetting `external_benchmark`, {} when none."""
    import dagster as dg

    recs = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(REAL_LABEL_ASSET), asset_partitions=[REAL_LABEL_PARTITION]
        ),
        limit=1,
    ).records
    if not recs:
        return {}
    r = recs[0]
    return {"run_id": r.run_id, "storage_id": int(r.storage_id), "timestamp": float(r.timestamp)}


def load_real_label(defs, instance, lineage: dict):
    """The `RealLabelModel` of the latest vetting `external_benchmark`, loaded through Dagster.

    Raises:
        KeyError: the stored bundle predates the stored model (materialize it again).
    """
    from exo_assets.inference.real_label import RealLabelModel

    with defs.get_asset_value_loader(instance=instance) as loader:
        bundle = loader.load_asset_value(REAL_LABEL_ASSET, partition_key=REAL_LABEL_PARTITION)
    return RealLabelModel.from_bundle(bundle, lineage)


def _lineage_key(lineage: dict) -> tuple:
    return tuple((a, lineage.get(a, {}).get("storage_id")) for a in MODEL_ASSETS)


class ModelRegistry:
    """The current `ModelSet` of a server, loaded from the instance in `dagster_home`.

    Args:
        dagster_home: the Dagster home the models were materialized into.
        missions: partitions to serve.
        device: torch device of the CNNs.
        min_check_interval_s: `refresh(force=False)` does nothing if the last check is more recent.
    """

    def __init__(
        self,
        dagster_home: str | Path,
        missions=MISSIONS,
        device: str = "cpu",
        min_check_interval_s: float = 1.0,
    ):
        self.dagster_home = Path(dagster_home)
        self.missions = tuple(missions)
        self.device = device
        self.min_check_interval_s = float(min_check_interval_s)
        self._current = ModelSet.build({})
        self._keys: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._instance = None
        self._defs: dg.Definitions | None = None
        self._last_check = 0.0
        self.last_error = ""
        self.reloads = 0
        self._real_key = None
        self._real_label = None
        self._real_error = ""

    @property
    def current(self) -> ModelSet:
        """The model set to use for one request (keep the reference for the request's duration)."""
        return self._current

    def _ensure_open(self) -> bool:
        if self._instance is not None:
            return True
        try:
            self._instance = open_instance(self.dagster_home)
        except FileNotFoundError as err:
            self.last_error = str(err)
            return False
        if self._defs is None:
            from exo_assets.definitions import defs

            self._defs = defs
        return True

    def refresh(self, force: bool = True) -> bool:
        """Reload the missions whose latest consistent materialization changed; True when swapped."""
        now = time.monotonic()
        if not force and now - self._last_check < self.min_check_interval_s:
            return False
        if not self._lock.acquire(blocking=force):
            return False  # another thread is checking right now
        try:
            self._last_check = time.monotonic()
            if not self._ensure_open():
                return False
            try:
                lineage = latest_lineage(self._instance, self.missions)
            except Exception as err:  # noqa: BLE001 - e.g. a locked SQLite file: keep serving, retry later
                self.last_error = f"event log query failed: {type(err).__name__}: {err}"
                log.warning("model reload check failed: %s", err)
                return False
            models = dict(self._current.models)
            changed = False
            errors = []
            for mission in self.missions:
                lin = lineage.get(mission, {})
                if not consistent(lin) or _lineage_key(lin) == self._keys.get(mission):
                    continue
                try:
                    models[mission] = load_mission(self._defs, self._instance, mission, lin, self.device)
                except Exception as err:  # noqa: BLE001 - keep serving the current models
                    errors.append(f"{mission}: {type(err).__name__}: {err}")
                    log.warning("model reload of %s failed, keeping the current one: %s", mission, err)
                    continue
                self._keys[mission] = _lineage_key(lin)
                changed = True
            self.last_error = "; ".join(errors)
            changed = self._refresh_real_label() or changed
            if changed:
                # atomic swap: in-flight requests keep the old set
                self._current = ModelSet.build(
                    models, real_label=self._real_label, real_label_error=self._real_error
                )
                self.reloads += 1
                log.info("models loaded: %s (version %s)", sorted(models), self._current.version)
            return changed
        finally:
            self._lock.release()

    def _refresh_real_label(self) -> bool:
        """Load the real-label model when its latest materialization changed; True when it did."""
        try:
            lin = real_label_lineage(self._instance)
        except Exception as err:  # noqa: BLE001 - keep serving; the block says why
            self._real_error = f"event log query failed: {type(err).__name__}: {err}"
            return False
        key = lin.get("storage_id")
        if key is None or key == self._real_key:
            return False
        self._real_key = key
        try:
            self._real_label, self._real_error = load_real_label(self._defs, self._instance, lin), ""
        except KeyError as err:
            from exo_assets.inference.real_label import MATERIALIZE_COMMAND

            self._real_label, self._real_error = None, f"{err.args[0]}: run `{MATERIALIZE_COMMAND}`"
        except Exception as err:  # noqa: BLE001 - a bad bundle must not stop the mission models
            self._real_label = None
            self._real_error = f"real-label model failed to load: {type(err).__name__}: {err}"
            log.warning("real-label model failed to load: %s", err)
        return True

    def close(self) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None
