"""Loading: one mission's stored model bundles -> `MissionModel`, and the immutable `ModelSet` a server
swaps whole on hot reload (Dagster-free: the bundles come from whoever loaded them, e.g. `serving.registry`).
The bundle format is `exo_assets.models.artifacts`'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exo_assets.inference.errors import InputError, ModelError
from exo_assets.inference.request import DecisionConfig
from exo_assets.models import artifacts
from exo_assets.models.blend import BlendModel
from exo_assets.models.booster import BoosterModel
from exo_assets.models.metrics import reliability_bins
from exo_assets.models.vetting import VettingConfig
from exo_assets.science.missions import MISSIONS
from exo_assets.science.views import ViewConfig
from exo_assets.storage import json_safe

if TYPE_CHECKING:
    from exo_assets.models.cnn import CNNClassifier


def _reliability(blend_oof: pd.DataFrame, classes: list[str]) -> dict:
    cols = artifacts.proba_columns(classes, artifacts.FINAL_STAGE)
    if blend_oof is None or not len(blend_oof) or not set(cols) <= set(blend_oof.columns):
        return {"confidence": [], "accuracy": [], "counts": [], "source": "none"}
    lookup = {c: i for i, c in enumerate(classes)}
    y = blend_oof["label"].map(lookup).to_numpy()
    ok = ~pd.isna(y)
    bins: dict[str, Any] = reliability_bins(
        y[ok].astype(int), blend_oof.loc[ok, cols].to_numpy(np.float64), 15
    )
    bins["source"] = "out-of-fold blend + vetting probabilities of the training stars"
    return bins


def _contract_metrics(m: dict | None) -> dict:
    if not m:
        return {}
    return {
        "macro_f1": m.get("macro_f1"),
        "logloss": m.get("log_loss"),
        "ece": m.get("ece_15"),
        "brier": m.get("brier"),
        "roc_auc_planet_vs_fp": m.get("binary_roc_auc"),
        "n": m.get("n"),
    }


@dataclass
class MissionModel:
    """The models of one mission partition, rebuilt from the stored asset values.

    Attributes:
        mission: partition key.
        booster, cnn, blend, vetting: the trained objects (`cnn` None when its bundle was unusable
            and the blend gives it no weight).
        view_config: the views the CNN was trained on.
        classes: probability column order.
        holdout_metrics: blend + vetting metrics on the holdout stars (contract keys), per stage in
            `holdout_by_stage`.
        reliability: reliability-diagram bins of the out-of-fold blend + vetting probabilities.
        model_hash: sha256 (16 hex) of the booster text, CNN weights, blend and vetting config.
        trained_at: the booster's training timestamp (ISO 8601 UTC).
        provenance: data the models were trained on: simulated, local or MAST.
        lineage: asset -> {"run_id", "storage_id", "timestamp"} of the materializations loaded.
    """

    mission: str
    booster: BoosterModel
    cnn: CNNClassifier | None
    blend: BlendModel
    vetting: VettingConfig
    view_config: ViewConfig
    classes: list[str]
    holdout_metrics: dict
    holdout_by_stage: dict
    oof_metrics: dict
    reliability: dict
    model_hash: str
    trained_at: str
    provenance: str
    lineage: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """Dagster run id of the blend materialization (the last model asset)."""
        return str(self.lineage.get("blend", {}).get("run_id", ""))

    @property
    def features(self) -> list[str]:
        return list(self.booster.features)

    @classmethod
    def from_bundles(
        cls,
        mission: str,
        booster_bundle,
        cnn_bundle,
        blend_bundle,
        view_config: dict | None = None,
        lineage: dict | None = None,
        device: str = "cpu",
    ) -> MissionModel:
        """Rebuild from the `TableBundle` values of calibrated_booster, cnn_oof and blend.

        Args:
            view_config: ViewConfig fields; default the one stored in cnn_oof's attrs (else AstroNet's).
            lineage: materialization facts to report (run ids, storage ids, timestamps).
            device: torch device of the CNN.
        Raises:
            ModelError: a bundle lacks what inference needs.
        """
        try:
            booster = artifacts.read_booster(booster_bundle)
            blend, vetting = artifacts.read_blend(blend_bundle)
        except (KeyError, ValueError, TypeError) as err:
            raise ModelError(
                f"{mission}: stored models are incomplete or unreadable ({type(err).__name__}: {err})"
            ) from err
        notes = []
        cnn = None
        try:
            cnn = artifacts.read_cnn(cnn_bundle.files, device=device)
        except Exception as err:  # noqa: BLE001 - the blend may not need it
            if blend.uses_cnn:
                raise ModelError(
                    f"{mission}: the blend uses the CNN but its stored model is unreadable ({err})"
                ) from err
            notes.append(f"CNN unavailable ({type(err).__name__}); the blend gives it no weight")
        vc = view_config if view_config is not None else artifacts.stored_view_config(cnn_bundle)
        view = ViewConfig(**{k: v for k, v in (vc or {}).items() if k in ViewConfig.__dataclass_fields__})
        if cnn is not None:
            lengths = cnn.input_lengths
            assert lengths is not None  # set on every fitted or loaded CNN
            if lengths.get("global") != view.global_bins or lengths.get("local") != view.local_bins:
                raise ModelError(
                    f"{mission}: CNN input lengths {lengths} do not match the view config {view}"
                )
        classes = list(blend_bundle.attrs.get("classes") or booster.classes)
        if list(booster.classes) != classes or list(blend.classes) != classes:
            raise ModelError(
                f"{mission}: class order differs between booster {booster.classes}, blend {blend.classes}"
            )
        metrics = blend_bundle.attrs.get("metrics", {})
        holdout = metrics.get("holdout", {})
        digest = hashlib.sha256()
        digest.update(booster_bundle.files[artifacts.BOOSTER_MODEL_FILE])
        if cnn_bundle is not None and artifacts.CNN_WEIGHTS_FILE in cnn_bundle.files:
            digest.update(cnn_bundle.files[artifacts.CNN_WEIGHTS_FILE])
        digest.update(
            json.dumps(
                {"blend": blend.to_dict(), "vetting": vetting.to_dict(), "view": view.__dict__},
                sort_keys=True,
            ).encode()
        )
        provenance = str(blend_bundle.attrs.get("provenance") or booster.meta.get("provenance") or "unknown")
        return cls(
            mission=mission,
            booster=booster,
            cnn=cnn,
            blend=blend,
            vetting=vetting,
            view_config=view,
            classes=classes,
            holdout_metrics=_contract_metrics(holdout.get(artifacts.FINAL_STAGE)),
            holdout_by_stage={k: _contract_metrics(v) for k, v in holdout.items()},
            oof_metrics=_contract_metrics(metrics.get("oof", {}).get(artifacts.FINAL_STAGE)),
            reliability=_reliability(blend_bundle.tables.get("oof"), classes),
            model_hash=digest.hexdigest()[:16],
            trained_at=str(booster.meta.get("trained_at", "")),
            provenance=provenance,
            lineage=dict(lineage or {}),
            notes=notes,
        )

    def info(self, decision: DecisionConfig | None = None) -> dict:
        """JSON-ready description (the `version` block of a prediction and `/api/models/info`)."""
        decision = decision or DecisionConfig()
        out = {
            "mission": self.mission,
            "model_hash": self.model_hash,
            "trained_at": self.trained_at,
            "run_id": self.run_id,
            "provenance": self.provenance,
            "features": self.features,
            "holdout_metrics": self.holdout_metrics,
            "decision_thresholds": {"cp_high": decision.cp_high, "cp_thresh": decision.cp_thresh},
            "classes": self.classes,
        }
        return json_safe(out)

    def details(self, decision: DecisionConfig | None = None) -> dict:
        """`info` plus lineage, per-stage metrics, blend and vetting settings and the view config."""
        out = self.info(decision)
        out.update(
            json_safe(
                {
                    "lineage": self.lineage,
                    "holdout_metrics_by_stage": self.holdout_by_stage,
                    "oof_metrics": self.oof_metrics,
                    "cnn_loaded": self.cnn is not None,
                    "blend": {
                        "alpha": self.blend.alpha,
                        "t_booster": self.blend.t_booster,
                        "t_cnn": self.blend.t_cnn,
                        "gate_feature": self.blend.gate_feature,
                        "uses_cnn": self.blend.uses_cnn,
                    },
                    "vetting": self.vetting.to_dict(),
                    "view_config": dict(self.view_config.__dict__),
                    "notes": self.notes,
                }
            )
        )
        if self.provenance == "simulated":
            out["notice"] = (
                "trained on the embedded simulator: metrics and probabilities are simulated, "
                "not real-world accuracy"
            )
        return out


@dataclass(frozen=True)
class ModelSet:
    """Models of every loaded mission plus a version token (changes whenever any model changes).

    Immutable once built: a server swaps whole ModelSets, so a request keeps the one it started with.
    """

    models: Mapping[str, MissionModel]
    version: str
    loaded_at: str = ""
    #: The model trained on real TESS labels (`inference.real_label.RealLabelModel`), None when not
    #: materialized; `real_label_error`: why it failed to load ("" otherwise).
    real_label: object | None = None
    real_label_error: str = ""

    @classmethod
    def build(
        cls,
        models: Mapping[str, MissionModel],
        loaded_at: str = "",
        real_label: object | None = None,
        real_label_error: str = "",
    ) -> ModelSet:
        token = hashlib.sha256(
            json.dumps(
                {
                    m: [mm.model_hash, {a: v.get("storage_id") for a, v in mm.lineage.items()}]
                    for m, mm in sorted(models.items())
                },
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]
        return cls(
            dict(models),
            token,
            loaded_at or pd.Timestamp.now(tz="UTC").isoformat(),
            real_label,
            real_label_error,
        )

    def get(self, mission: str) -> MissionModel:
        """The mission's models; InputError for an unknown mission, ModelError when none is loaded."""
        if mission not in MISSIONS:
            raise InputError(f"unknown mission {mission!r}; expected one of {list(MISSIONS)}")
        if mission not in self.models:
            loaded = sorted(self.models) or "none"
            raise ModelError(
                f"no model is materialized for mission {mission!r} (loaded: {loaded}); run "
                f"`exo-assets materialize --mission {mission}` with the same DAGSTER_HOME"
            )
        return self.models[mission]
