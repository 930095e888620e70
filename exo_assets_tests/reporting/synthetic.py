"""Small synthetic report inputs: a real (tiny) LightGBM booster, blend tables whose metrics are computed
by `classification_metrics` exactly as the blend asset does, and views with a transit dip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from exo_assets.models.booster import BoosterConfig, fit_final_booster
from exo_assets.models.metrics import classification_metrics
from exo_assets.models.vetting import load_vetting_config
from exo_assets.reporting import ReportInputs
from exo_assets.reporting.tables import STAGES

CLASSES = ["CP", "PC", "FP"]
FEATURES = ["depth_ppm", "v_shape", "odd_even_sigma", "mag"]
VIEW_CONFIG = {
    "global_bins": 301,
    "local_bins": 61,
    "local_half_width_durations": 4.0,
    "local_bin_width_factor": 0.16,
    "global_bin_width_factor": 1.0,
}


def _table(ids, labels, probas: dict[str, np.ndarray], flags: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"signal_id": ids, "label": labels})
    for stage in STAGES:
        for i, c in enumerate(CLASSES):
            out[f"{stage}_p_{c}"] = probas[stage][:, i]
    out["vetting_penalty"] = 0.0
    for col in flags.columns:
        out[f"flag_{col}"] = flags[col].to_numpy()
    return out


def synthetic_inputs(
    n_train: int = 60,
    n_holdout: int = 15,
    seed: int = 0,
    provenance: str = "simulated",
    with_holdout: bool = True,
) -> ReportInputs:
    """ReportInputs for a fake mission "TESS" (n_train + n_holdout ok signals, 2 per star)."""
    rng = np.random.default_rng(seed)
    n = n_train + n_holdout
    labels = np.array(CLASSES)[np.arange(n) % 3]
    y = np.arange(n) % 3
    ids = np.array([f"SIG{i:03d}" for i in range(n)])
    stars = np.array([f"STAR{i // 2:03d}" for i in range(n)])
    feats = pd.DataFrame(
        {
            "depth_ppm": 500 + 300 * (y == 2) + rng.normal(0, 150, n),
            "v_shape": np.clip(0.3 + 0.4 * (y == 2) + rng.normal(0, 0.2, n), 0, 1),
            "odd_even_sigma": np.abs(rng.normal(1 + 2 * (y == 2), 1.0, n)),
            "mag": rng.uniform(9, 14, n),
        }
    )
    period = rng.uniform(1.0, 20.0, n)
    period[0] = 0.9  # short period: the local view is capped at P/2
    duration = np.full(n, 0.15)
    duration[0] = 0.2
    feature_table = pd.DataFrame(
        {
            "signal_id": ids,
            "star_id": stars,
            "label": labels,
            "status": "ok",
            "reason": "",
            "period_days": period,
            "duration_days": duration,
            **feats,
        }
    )
    # one failed signal that never reaches the models
    feature_table = pd.concat(
        [
            feature_table,
            pd.DataFrame(
                [
                    {
                        "signal_id": "SIG999",
                        "star_id": "STAR999",
                        "label": "FP",
                        "status": "failed",
                        "reason": "no data",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    catalog = pd.concat(
        [
            feature_table[["signal_id", "star_id", "label"]],
            pd.DataFrame(
                {
                    "signal_id": [f"CAT{i:04d}" for i in range(300)],
                    "star_id": [f"CSTAR{i:04d}" for i in range(300)],
                    "label": np.array(CLASSES)[rng.integers(0, 3, 300)],
                }
            ),
        ],
        ignore_index=True,
    )
    manifest = feature_table[["signal_id", "star_id"]].assign(status="found")
    manifest.loc[manifest["signal_id"] == "SIG999", "status"] = "missing"

    train, hold = slice(0, n_train), slice(n_train, n if with_holdout else n_train)
    model = fit_final_booster(
        feats.iloc[train],
        y[train],
        CLASSES,
        15,
        BoosterConfig(min_data_in_leaf=3, num_leaves=4, num_threads=1),
    )
    vetting = load_vetting_config().to_dict()
    flag_names = [r["flag"] for r in vetting["rules"]]

    def stage_probas(sl):
        pb = model.predict_proba(feats.iloc[sl])
        pc = rng.dirichlet(np.ones(3), len(pb))
        pv = pb.copy()
        pv[:, 2] += 0.3 * (feats["v_shape"].to_numpy()[sl] > 0.6)
        pv /= pv.sum(axis=1, keepdims=True)
        return {"booster": pb, "cnn": pc, "blend": pb, "blend_vetting": pv}

    def flags(sl):
        m = len(ids[sl])
        # flag k is set on every (k + 2)-th row: known rates per class
        return pd.DataFrame({f: (np.arange(m) % (k + 2)) == 0 for k, f in enumerate(flag_names)})

    tables, metrics = {}, {"provenance": provenance, "oof": {}, "holdout": {}}
    for split, sl in (("oof", train), ("holdout", hold)):
        probas = stage_probas(sl)
        tables[split] = _table(ids[sl], labels[sl], probas, flags(sl))
        if len(ids[sl]):
            for stage in STAGES:
                metrics[split][stage] = classification_metrics(y[sl], probas[stage], CLASSES)
    blend_attrs = json.loads(
        json.dumps(
            {
                "blend": {
                    "alpha": 0.25,
                    "t_booster": 1.0,
                    "t_cnn": 1.5,
                    "oof_logloss_booster": metrics["oof"]["booster"]["log_loss"],
                    "oof_logloss_cnn": metrics["oof"]["cnn"]["log_loss"],
                    "oof_logloss_blend": metrics["oof"]["blend"]["log_loss"],
                },
                "vetting": vetting,
                "metrics": metrics,
                "classes": CLASSES,
                "provenance": provenance,
                "mission": "TESS",
            },
            default=float,
        )
    )

    k = np.arange(VIEW_CONFIG["global_bins"])
    gview = rng.normal(0, 0.1, (n, VIEW_CONFIG["global_bins"])).astype(np.float32)
    gview[:, np.abs(k - k.size // 2) < 3] = -1.0
    x = np.linspace(-4, 4, VIEW_CONFIG["local_bins"])
    lview = (rng.normal(0, 0.05, (n, x.size)) - (np.abs(x) < 0.5)).astype(np.float32)
    views = {"signal_id": ids, "global": gview, "local": lview}
    return ReportInputs(
        mission="TESS",
        provenance=provenance,
        catalog=catalog,
        feature_table=feature_table,
        views=views,
        view_config=VIEW_CONFIG,
        blend_attrs=blend_attrs,
        blend_tables=tables,
        booster=model,
        booster_attrs={
            "temperature": 1.0,
            "trained_at": "2025-01-01T00:00:00+00:00",
            "n_train": n_train,
            "cv": {
                "n_folds": 3,
                "per_fold": {"macro_f1": {"mean": 0.5, "sd": 0.1}, "log_loss": {"mean": 0.9, "sd": 0.05}},
            },
        },
        importance=model.feature_importance(),
        cnn_attrs={
            "cv": {"median_best_epoch": 4, "folds": [1, 2, 3]},
            "trained_at": "2025-01-01T00:01:00+00:00",
        },
        manifest=manifest,
        catalog_export="2025-10-04",
        generated_at="2025-01-02T00:00:00+00:00",
        run_id="test-run",
    )
