"""Realism gauge: score real Kepler DR24 TCE views with models trained only on simulated Kepler views.

`exo-assets sim2real --views SHARD... --out DIR` reads AstroNet-format TFRecord shards (Shallue &
Vanderburg 2018: global view 2001 bins over the orbit, local view 201 bins over +-4 T14, median
binned, out-of-transit 0, minimum -1; label `av_training_set` PC / AFP / NTP) and scores them with
models that never saw a real light curve:

- "refit" (the predictions written): the project's `CNNClassifier` with the two views the shards
  carry (global; local), trained on the simulator's Kepler partition as stored in `$DAGSTER_HOME`
  (the materialized `cnn_tensors` and `feature_table` of partition Kepler, all signals, early
  stopping on the stored holdout stars);
- "stored": the materialized `cnn_oof` model itself (global; local + odd + even + secondary). The
  shards have no odd, even or secondary view, so odd = even = local and secondary = 0 (out of
  transit everywhere): an EB's secondary is then invisible to it, which costs it on real EBs.

Both simulated and real views are brought to AstroNet's normalisation by `astronet_normalise`
(per view: minus its median, divided by |minimum|), because the project divides every view by the
local view's depth (its global minimum is not exactly -1 where the transit is narrower than a
global bin). p_PC = P(CP) + P(PC); the FP mass is split into p_AFP / p_NTP by the local view's
central-dip significance (`transit_likeness`: a clear dip -> AFP, none -> NTP), a heuristic, not a
trained split. Figures: planet (PC) vs FP (AFP + NTP) ROC-AUC on the labelled records.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = ["CP", "PC", "FP"]
REAL_LABELS = ("PC", "AFP", "NTP")


def astronet_normalise(view: np.ndarray) -> np.ndarray:
    """Per row: subtract the median, divide by |minimum| (AstroNet's normalisation); float32 (n, bins).

    NaN bins become 0 (the median) first; rows whose minimum is not below the median are only centred.
    """
    v = np.nan_to_num(np.asarray(view, dtype=np.float64), nan=np.nan)
    med = np.nanmedian(v, axis=1, keepdims=True)
    v = np.where(np.isfinite(v), v - med, 0.0)
    low = -v.min(axis=1, keepdims=True)
    scale = np.where(low > 0, low, 1.0)
    return (v / scale).astype(np.float32)


def transit_likeness(local: np.ndarray) -> np.ndarray:
    """Per row in [0, 1]: 1 - exp(-(S/7)^2), S = central dip (|dt| <= 0.5 T14 of a +-4 T14 local view)
    over the out-of-transit (|dt| >= 1.5 T14) robust sigma scaled to the in-transit bin count."""
    v = np.asarray(local, dtype=np.float64)
    off = np.abs(np.linspace(-4.0, 4.0, v.shape[1]))
    inner, outer = v[:, off <= 0.5], v[:, off >= 1.5]
    base = np.median(outer, axis=1)
    sig = 1.4826 * np.median(np.abs(outer - base[:, None]), axis=1) + 1e-9
    snr = (base - inner.mean(axis=1)) / (sig / np.sqrt(inner.shape[1]))
    return 1.0 - np.exp(-((np.clip(snr, 0, None) / 7.0) ** 2))


def load_real_views(paths) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(meta: kepid, tce_plnt_num, label, split; views: global (n, 2001), local (n, 201)) of DR24 shards."""
    from exo_assets.external.tfrecord_reader import read_shards

    scalars, views = read_shards(paths)
    meta = pd.DataFrame(
        {
            "kepid": scalars["kepid"].astype("int64"),
            "tce_plnt_num": scalars["tce_plnt_num"].astype("int64"),
            "label": scalars.get("av_training_set", pd.Series("", index=scalars.index))
            .fillna("")
            .astype(str),
            "split": scalars["split"].astype(str),
        }
    )
    out = {
        "global": astronet_normalise(views["global_view"]),
        "local": astronet_normalise(views["local_view"]),
    }
    return meta, out


def load_simulated(home: str | Path | None, mission: str = "Kepler") -> dict:
    """The materialized cnn_tensors, feature_table, holdout_split and cnn_oof of one partition.

    Without `home` the current $DAGSTER_HOME (or Dagster's default) is used.
    """
    import os

    import dagster as dg

    from exo_assets.definitions import defs

    if home:  # the instance's dagster.yaml may read $DAGSTER_HOME (this repository's does)
        os.environ["DAGSTER_HOME"] = str(Path(home).resolve())
    instance = dg.DagsterInstance.get()
    with defs.get_asset_value_loader(instance=instance) as loader:
        return {
            name: loader.load_asset_value(name, partition_key=mission)
            for name in ("cnn_tensors", "feature_table", "holdout_split", "cnn_oof")
        }


def _sim_views(tensors, signal_ids) -> dict[str, np.ndarray]:
    pos = pd.Series(np.arange(len(tensors["signal_id"])), index=tensors["signal_id"])
    idx = pos.loc[list(signal_ids)].to_numpy(int)
    return {name: tensors[name][idx] for name in ("global", "local", "odd", "even", "secondary")}


def fit_refit(sim: dict, epochs: int = 40, seed: int = 0):
    """CNNClassifier on (global; local) of every simulated Kepler signal, early stopping on the holdout
    stars."""
    from exo_assets.models.cnn import CNNClassifier, CNNConfig

    table = sim["feature_table"]
    table = table[(table["status"] == "ok") & table["signal_id"].isin(set(sim["cnn_tensors"]["signal_id"]))]
    hold_stars = set(sim["holdout_split"].get("holdout_stars", []))
    is_hold = table["star_id"].isin(hold_stars).to_numpy()
    views = _sim_views(sim["cnn_tensors"], table["signal_id"])
    views = {k: astronet_normalise(views[k]) for k in ("global", "local")}
    y = table["label"].to_numpy(str)
    cfg = CNNConfig(
        global_channels=("global",),
        local_channels=("local",),
        epochs=epochs,
        seed=seed,
        num_threads=1,
        early_stopping="log_loss",
    )
    tr = {k: v[~is_hold] for k, v in views.items()}
    va = {k: v[is_hold] for k, v in views.items()}
    model = CNNClassifier(CLASSES, cfg)
    if is_hold.any():
        model.fit(tr, y[~is_hold], va, y[is_hold])
        best = max(1, int(model.best_epoch or epochs))
        model = CNNClassifier(CLASSES, dataclasses.replace(cfg, epochs=best, min_epochs=1)).fit(views, y)
    else:
        model.fit(views, y)
    return model, {"n_train": len(y), "labels": pd.Series(y).value_counts().to_dict()}


def stored_model(sim: dict):
    """The materialized cnn_oof final model."""
    import io

    import torch

    from exo_assets.models.cnn import CNNClassifier

    files = sim["cnn_oof"].files
    state = torch.load(io.BytesIO(files["model.pt"]), map_location="cpu", weights_only=True)
    return CNNClassifier.from_dicts(json.loads(files["config.json"]), state, device="cpu")


def stored_inputs(views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The five channels of the stored model from the shards' two: odd = even = local, secondary = 0."""
    return {
        "global": views["global"],
        "local": views["local"],
        "odd": views["local"],
        "even": views["local"],
        "secondary": np.zeros_like(views["local"]),
    }


def planet_auc(labels: np.ndarray, p_planet: np.ndarray) -> float:
    """ROC-AUC of p_planet for PC against AFP + NTP over the labelled rows (NaN if one side is empty)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=str)
    m = np.isin(labels, REAL_LABELS)
    y = labels[m] == "PC"
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p_planet)[m]))


def prediction_frame(meta: pd.DataFrame, proba: np.ndarray, local: np.ndarray) -> pd.DataFrame:
    """kepid, tce_plnt_num, p_PC, p_AFP, p_NTP (rows of `meta`; proba columns CP, PC, FP)."""
    like = transit_likeness(local)
    p_fp = proba[:, 2]
    return pd.DataFrame(
        {
            "kepid": meta["kepid"].to_numpy(),
            "tce_plnt_num": meta["tce_plnt_num"].to_numpy(),
            "p_PC": proba[:, 0] + proba[:, 1],
            "p_AFP": p_fp * like,
            "p_NTP": p_fp * (1.0 - like),
        }
    )


def run_sim2real(
    paths, out_dir: str | Path, home: str | Path | None = None, epochs: int = 40, seed: int = 0, log=print
) -> dict:
    """Score the shards, write out_dir/predictions.csv and metrics.json, return the metrics dict."""
    started = time.perf_counter()
    meta, views = load_real_views(paths)
    try:
        sim = load_simulated(home)
    except Exception as err:  # noqa: BLE001 - any loading failure means the partition is not there
        raise ValueError(
            f"no materialized Kepler partition in DAGSTER_HOME={home} (run `exo-assets materialize "
            f"--mission Kepler` first): {type(err).__name__}: {err}"
        ) from err
    refit, info = fit_refit(sim, epochs=epochs, seed=seed)
    p_refit = refit.predict_proba(views)
    metrics = {
        "n_real": len(meta),
        "real_labels": meta["label"].value_counts().to_dict(),
        "simulated_training": info,
        "provenance": sim["cnn_oof"].attrs.get("provenance", ""),
        "auc_refit": planet_auc(meta["label"], p_refit[:, :2].sum(axis=1)),
    }
    try:
        stored = stored_model(sim)
        p_stored = stored.predict_proba(stored_inputs(views))
        metrics["auc_stored"] = planet_auc(meta["label"], p_stored[:, :2].sum(axis=1))
    except Exception as err:  # noqa: BLE001 - a stored model with other channels or scalars: report, keep the refit
        metrics["auc_stored"] = None
        metrics["stored_error"] = f"{type(err).__name__}: {err}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prediction_frame(meta, p_refit, views["local"]).to_csv(out / "predictions.csv", index=False)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float) + "\n")
    auc_stored = metrics["auc_stored"]
    log(
        f"sim2real: {len(meta)} real TCEs; planet-vs-FP ROC-AUC refit (global+local) "
        f"{metrics['auc_refit']:.3f}; stored cnn_oof "
        f"{auc_stored if auc_stored is None else round(auc_stored, 3)}"
        f"; simulated training rows {info['n_train']}; wrote {out / 'predictions.csv'}"
    )
    return metrics


def cmd_sim2real(args) -> int:
    """CLI entry: `exo-assets sim2real --views SHARD... --out DIR` (models from $DAGSTER_HOME)."""
    import sys

    from exo_assets.cli import ensure_dagster_home

    home = ensure_dagster_home(args.home)
    try:
        run_sim2real(args.views, args.out, home, epochs=args.cnn_epochs, seed=args.seed)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    return 0


def add_arguments(parser) -> None:
    """Arguments of the `sim2real` subcommand."""
    parser.add_argument("--views", nargs="+", required=True, help="AstroNet DR24 TFRecord shards")
    parser.add_argument("--out", required=True, help="output folder (predictions.csv, metrics.json)")
    parser.add_argument("--home", help="DAGSTER_HOME with the materialized Kepler partition")
    parser.add_argument("--cnn-epochs", type=int, default=40, help="maximum epochs of the refit CNN")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=cmd_sim2real)
