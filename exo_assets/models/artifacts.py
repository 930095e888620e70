"""Model artifacts (Dagster-free): the stored form of every model bundle, and the names shared by its
writer (`exo_assets.assets.models`) and its readers (`exo_assets.inference`, `exo_assets.assets.report`,
`CNNClassifier.save` / `load`). The writer and the readers meet only here.

Each bundle is a `storage.TableBundle` (Parquet tables, verbatim files, JSON attrs); nothing is pickled.

| asset | files | tables | attrs |
|---|---|---|---|
| calibrated_booster | `model.lgb.txt` (LightGBM text model), `model.json` (`BoosterModel.to_json`) | oof, holdout (`signal_id, label, p_<class>`), oof_raw (OOF before temperature scaling), importance | `BoosterModel.to_json()` |
| cnn_oof | `model.pt` (torch state dict: tensors only, loads with `weights_only=True`), `config.json` (`CNNClassifier.config_dict`) | oof, holdout | provenance, mission, cv, oof_metrics, trained_at, view_config |
| blend | none | oof, holdout (`signal_id, label, <stage>_p_<class>`, `vetting_penalty`, `flag_<flag>`) | blend, vetting, metrics, classes, provenance, mission |

`CNNClassifier.save` writes the same two CNN files into a folder.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from exo_assets.science.catalogs import LABELS

if TYPE_CHECKING:  # torch is imported only by the functions that need it
    from exo_assets.models.blend import BlendModel
    from exo_assets.models.booster import BoosterModel
    from exo_assets.models.cnn import CNNClassifier
    from exo_assets.models.vetting import VettingConfig

#: Class names in probability-column order (the catalog labels).
CLASSES: list[str] = list(LABELS)
#: The model stages whose probabilities the `blend` tables store and whose metrics it reports.
STAGES: tuple[str, ...] = ("booster", "cnn", "blend", "blend_vetting")
#: The stage whose probabilities are the final answer.
FINAL_STAGE = "blend_vetting"

BOOSTER_MODEL_FILE = "model.lgb.txt"
BOOSTER_META_FILE = "model.json"
CNN_WEIGHTS_FILE = "model.pt"
CNN_CONFIG_FILE = "config.json"


# ------------------------------------------------------------------------------------ column names

def proba_columns(classes, stage: str | None = None) -> list[str]:
    """Probability columns: `p_<class>` of a booster / CNN table, `<stage>_p_<class>` of a blend table."""
    prefix = f"{stage}_" if stage else ""
    return [f"{prefix}p_{c}" for c in classes]


def probability_frame(signal_ids, labels, proba: np.ndarray, classes) -> pd.DataFrame:
    """The oof / holdout table of a booster or CNN bundle: signal_id, label, p_<class>..."""
    frame = pd.DataFrame({"signal_id": list(signal_ids), "label": list(labels)})
    for i, col in enumerate(proba_columns(classes)):
        frame[col] = proba[:, i]
    return frame


def proba_of(frame: pd.DataFrame, classes, stage: str | None = None) -> np.ndarray:
    """(n, k) float64 probabilities of a probability table (of one stage for a blend table)."""
    return frame[proba_columns(classes, stage)].to_numpy(np.float64)


def stage_table(frame: pd.DataFrame, probs: Mapping[str, np.ndarray], classes, vetting_result=None) -> pd.DataFrame:
    """The oof / holdout table of the blend bundle: signal_id, label, `<stage>_p_<class>` for every stage
    of `STAGES`, then `vetting_penalty` and `flag_<flag>` of `vetting_result` (a `VettingResult`)."""
    out = frame[["signal_id", "label"]].copy()
    for stage in STAGES:
        for i, col in enumerate(proba_columns(classes, stage)):
            out[col] = probs[stage][:, i]
    if vetting_result is not None:
        out["vetting_penalty"] = vetting_result.penalty.to_numpy()
        for flag in vetting_result.flags.columns:
            out[f"flag_{flag}"] = vetting_result.flags[flag].to_numpy()
    return out


# ------------------------------------------------------------------------------------ booster

def booster_files(model: BoosterModel) -> dict[str, bytes]:
    """The calibrated_booster files: LightGBM's text model and its metadata JSON."""
    meta = json.dumps(model.to_json(), indent=2, sort_keys=True, default=float)
    return {BOOSTER_MODEL_FILE: model.to_text().encode(), BOOSTER_META_FILE: meta.encode()}


def read_booster(bundle) -> BoosterModel:
    """The `BoosterModel` of a calibrated_booster bundle (metadata from model.json, else the attrs)."""
    from exo_assets.models.booster import BoosterModel

    files = bundle.files
    info = json.loads(files[BOOSTER_META_FILE]) if BOOSTER_META_FILE in files else bundle.attrs
    return BoosterModel.from_text(files[BOOSTER_MODEL_FILE].decode(), info)


# ------------------------------------------------------------------------------------ CNN

def cnn_files(model: CNNClassifier) -> dict[str, bytes]:
    """The CNN files: the state dict (torch.save of tensors only) first, then config.json."""
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    config = json.dumps(model.config_dict(), indent=2, default=float) + "\n"
    return {CNN_WEIGHTS_FILE: buf.getvalue(), CNN_CONFIG_FILE: config.encode()}


def read_cnn(files: Mapping[str, bytes], device: str | None = None) -> CNNClassifier:
    """Rebuild a `CNNClassifier` from its two files (`torch.load(..., weights_only=True)`)."""
    import torch

    from exo_assets.models.cnn import CNNClassifier

    state = torch.load(io.BytesIO(files[CNN_WEIGHTS_FILE]), map_location="cpu", weights_only=True)
    return CNNClassifier.from_dicts(json.loads(files[CNN_CONFIG_FILE]), state, device=device)


def write_files(folder: Path | str, files: Mapping[str, bytes]) -> Path:
    """Write each file atomically into `folder` (created), in the mapping's order. Returns `folder`."""
    from exo_assets.storage.atomic import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    return folder


def read_files(folder: Path | str, names) -> dict[str, bytes]:
    """The named files of `folder` as bytes."""
    return {name: (Path(folder) / name).read_bytes() for name in names}


def stored_view_config(cnn_bundle) -> dict:
    """The `ViewConfig` fields the CNN was trained on, as recorded in cnn_oof's attrs ({} when absent)."""
    return dict((cnn_bundle.attrs.get("view_config") if cnn_bundle is not None else None) or {})


# ------------------------------------------------------------------------------------ blend

def blend_attrs(model: BlendModel, vetting: VettingConfig, metrics: dict, classes, provenance: str,
                mission: str) -> dict:
    """The blend bundle's attrs (JSON-ready: numpy scalars become floats)."""
    return json.loads(json.dumps({"blend": model.to_dict(), "vetting": vetting.to_dict(), "metrics": metrics,
                                  "classes": list(classes), "provenance": provenance, "mission": mission},
                                 default=float))


def read_blend(bundle) -> tuple[BlendModel, VettingConfig]:
    """The fitted `BlendModel` and the `VettingConfig` stored in a blend bundle's attrs."""
    from exo_assets.models.blend import BlendModel
    from exo_assets.models.vetting import VettingConfig

    return (BlendModel.from_dict(bundle.attrs["blend"]),
            VettingConfig.from_dict(bundle.attrs["vetting"], source="blend asset"))
