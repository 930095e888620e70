"""Tests of the dual-branch CNN (exo_assets.models.cnn) on small synthetic views."""

from __future__ import annotations

import json
import pickletools
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from exo_assets.parallel import parallel_map
from exo_assets.models.cnn import CNNClassifier, CNNConfig, class_weights, cnn_oof, focal_loss
from exo_assets.models.splits import cv_folds

CLASSES = ["CP", "PC", "FP"]

#: Small, fast network for the tests (the defaults are sized for real runs).
FAST = CNNConfig(global_filters=(8, 16), local_filters=(8, 16), dense_units=(32,), epochs=15,
                 batch_size=32, patience=6, num_threads=1)


def synthetic_views(n: int, global_bins: int = 201, local_bins: int = 61, seed: int = 0,
                    noise: float = 0.15) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Views of three kinds of signal, labels 0/1/2 in turn.

    0: box-shaped (flat-bottomed) dip, 1: V-shaped dip with a secondary eclipse at half depth and
    unequal odd/even depths, 2: no dip (noise only). Out of transit 0, dip minimum about -1.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    xl = np.linspace(-4, 4, local_bins)  # local window: +-4 durations
    xg = np.linspace(-0.5, 0.5, global_bins)  # global window: phase
    views = {k: np.zeros((n, local_bins), np.float32) for k in ("local", "odd", "even", "secondary")}
    views["global"] = np.zeros((n, global_bins), np.float32)
    for i, c in enumerate(y):
        depth = rng.uniform(0.8, 1.2)
        gw = rng.uniform(0.01, 0.03)  # transit duration in phase
        if c == 0:
            shape_l = np.where(np.abs(xl) < 0.5, -1.0, 0.0)
            shape_g = np.where(np.abs(xg) < gw / 2, -1.0, 0.0)
            odd = even = shape_l
            sec = np.zeros_like(xl)
        elif c == 1:
            shape_l = -np.clip(1 - np.abs(xl) / 0.5, 0, None)
            shape_g = -np.clip(1 - np.abs(xg) / (gw / 2), 0, None)
            odd, even = 1.3 * shape_l, 0.7 * shape_l
            sec = 0.5 * shape_l
            shape_g = shape_g + 0.5 * (-np.clip(1 - (0.5 - np.abs(xg)) / (gw / 2), 0, None))
        else:
            shape_l = shape_g = odd = even = sec = np.zeros(1)
        views["local"][i] = depth * shape_l + noise * rng.standard_normal(local_bins)
        views["odd"][i] = depth * odd + noise * rng.standard_normal(local_bins)
        views["even"][i] = depth * even + noise * rng.standard_normal(local_bins)
        views["secondary"][i] = depth * sec + noise * rng.standard_normal(local_bins)
        views["global"][i] = depth * shape_g + noise * rng.standard_normal(global_bins)
    return views, y


def subset(views, idx):
    return {k: v[idx] for k, v in views.items()}


@pytest.fixture(scope="module")
def data():
    return synthetic_views(120, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    views, y = data
    tr, va = np.arange(90), np.arange(90, 120)
    model = CNNClassifier(CLASSES, FAST).fit(subset(views, tr[:75]), y[tr[:75]],
                                             subset(views, tr[75:]), y[tr[75:]])
    return model, views, y, va


def test_fit_predict_above_chance(fitted):
    model, views, y, va = fitted
    proba = model.predict_proba(subset(views, va))
    assert proba.shape == (len(va), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba >= 0).all()
    acc = (proba.argmax(axis=1) == y[va]).mean()
    assert acc >= 0.8, acc
    assert 1 <= model.best_epoch <= len(model.history) <= FAST.epochs
    assert all("val_macro_f1" in h for h in model.history)
    assert list(model.predict(subset(views, va[:3]))) == [CLASSES[i] for i in proba[:3].argmax(axis=1)]


def test_string_labels_and_no_validation(data):
    views, y = data
    cfg = replace(FAST, epochs=2)
    model = CNNClassifier(CLASSES, cfg).fit(subset(views, np.arange(30)), np.array(CLASSES)[y[:30]])
    assert model.best_epoch == 2 and len(model.history) == 2
    with pytest.raises(ValueError):
        CNNClassifier(CLASSES, cfg).fit(subset(views, np.arange(3)), np.array(["CP", "XX", "FP"]))


def test_astronet_lengths_forward_and_one_epoch():
    views, y = synthetic_views(8, global_bins=2001, local_bins=201, seed=3)
    model = CNNClassifier(CLASSES, replace(CNNConfig(), epochs=1, num_threads=1)).fit(views, y)
    proba = model.predict_proba(views)
    assert proba.shape == (8, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert model.input_lengths == {"global": 2001, "local": 201}
    short, _ = synthetic_views(2, global_bins=201, local_bins=61)
    with pytest.raises(ValueError, match="lengths"):
        model.predict_proba(short)


def test_very_short_views_work():
    views, y = synthetic_views(6, global_bins=9, local_bins=5)
    model = CNNClassifier(CLASSES, replace(CNNConfig(), epochs=1, num_threads=1)).fit(views, y)
    assert model.predict_proba(views).shape == (6, 3)


def _pickle_globals(pkl: bytes) -> set[str]:
    """Names of the globals a pickle stream would import (GLOBAL / STACK_GLOBAL opcodes)."""
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.add(f"{strings[-2]}.{strings[-1]}")
    return names


def test_save_load_round_trip(fitted, tmp_path):
    model, views, _, va = fitted
    folder = model.save(tmp_path / "cnn")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.pt"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["classes"] == CLASSES
    assert meta["input_lengths"] == {"global": 201, "local": 61}
    assert meta["torch_version"] == torch.__version__
    assert meta["best_epoch"] == model.best_epoch and len(meta["history"]) == len(model.history)
    assert meta["config"]["global_filters"] == [8, 16]

    # the state dict alone loads with weights_only=True; the pickle imports nothing but torch's
    # tensor rebuild helpers and storages
    state = torch.load(folder / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    with zipfile.ZipFile(folder / "model.pt") as zf:
        pkl = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    imported = _pickle_globals(pkl)
    allowed = ("torch.", "collections.OrderedDict")
    assert imported and all(name.startswith(allowed) for name in imported), imported

    loaded = CNNClassifier.load(folder)
    assert loaded.classes == CLASSES and loaded.config == model.config
    expected = model.predict_proba(subset(views, va))
    np.testing.assert_array_equal(loaded.predict_proba(subset(views, va)), expected)

    again = CNNClassifier.from_dicts(model.config_dict(), model.state_dict())
    np.testing.assert_array_equal(again.predict_proba(subset(views, va)), expected)


def test_save_overwrites_atomically(fitted, tmp_path):
    model, *_ = fitted
    model.save(tmp_path)
    model.save(tmp_path)  # overwrite in place, no temp files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.pt"]


def test_determinism(data):
    views, y = data
    cfg = replace(FAST, epochs=3)
    tr, va = np.arange(60), np.arange(60, 90)
    rng_state = torch.get_rng_state()
    a = CNNClassifier(CLASSES, cfg).fit(subset(views, tr), y[tr], subset(views, va), y[va])
    torch.manual_seed(12345)  # the global torch RNG must not matter
    b = CNNClassifier(CLASSES, cfg).fit(subset(views, tr), y[tr], subset(views, va), y[va])
    np.testing.assert_array_equal(a.predict_proba(views), b.predict_proba(views))
    c = CNNClassifier(CLASSES, replace(cfg, seed=1)).fit(subset(views, tr), y[tr], subset(views, va), y[va])
    assert not np.array_equal(a.predict_proba(views), c.predict_proba(views))
    torch.set_rng_state(rng_state)


def test_fit_leaves_torch_global_state_alone(data):
    views, y = data
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    state = torch.get_rng_state()
    CNNClassifier(CLASSES, replace(FAST, epochs=1, num_threads=1)).fit(subset(views, np.arange(12)), y[:12])
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.slow
def test_cnn_oof(data):
    views, y = data
    groups = np.array([f"star{i // 2}" for i in range(len(y))])  # two signals per star
    folds = cv_folds(y, groups, n_splits=3, n_repeats=2, seed=0)
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
    cfg = replace(FAST, epochs=10, patience=4)
    oof, info = cnn_oof(views, y, groups, folds, CLASSES, cfg)
    assert oof.shape == (len(y), 3)
    assert np.isfinite(oof).all()
    np.testing.assert_allclose(oof.sum(axis=1), 1.0, atol=1e-9)
    assert info["n_predictions"] == {"min": 2, "max": 2, "missing": 0}
    assert len(info["folds"]) == len(folds) == 6
    for f, (tr, va) in zip(info["folds"], folds):
        assert f["n_val"] == len(va) and f["n_train"] + f["n_inner_val"] == len(tr)
        assert f["n_inner_val"] > 0 and 1 <= f["best_epoch"] <= 10
    assert 1 <= info["median_best_epoch"] <= 10

    assert (oof.argmax(axis=1) == y).mean() > 0.6

    # the same folds trained in two worker processes give the same probabilities
    parallel, info_p = cnn_oof(views, y, groups, folds, CLASSES, cfg,
                               map_fn=lambda fn, jobs: parallel_map(fn, jobs, max_workers=2))
    np.testing.assert_array_equal(parallel, oof)
    assert [f["best_epoch"] for f in info_p["folds"]] == [f["best_epoch"] for f in info["folds"]]


def test_cnn_oof_rows_align_with_input(data):
    """One fold alone: its validation rows hold exactly the predictions of a model fitted by hand
    (same inner star-grouped split, seed config.seed + fold index); the other rows stay NaN."""
    from sklearn.model_selection import GroupShuffleSplit

    views, y = data
    groups = np.array([f"star{i // 2}" for i in range(len(y))])
    tr, va = cv_folds(y, groups, n_splits=3, n_repeats=1, seed=0)[0]
    cfg = replace(FAST, epochs=3)
    oof, info = cnn_oof(views, y, groups, [(tr, va)], CLASSES, cfg)
    assert info["n_predictions"]["missing"] == len(y) - len(va)
    assert np.isnan(np.delete(oof, va, axis=0)).all()

    gss = GroupShuffleSplit(n_splits=1, test_size=0.15, random_state=cfg.seed)
    a, b = next(gss.split(tr, groups=groups[tr]))
    inner_tr, inner_va = tr[a], tr[b]
    assert not set(groups[inner_tr]) & set(groups[inner_va])
    model = CNNClassifier(CLASSES, cfg).fit(subset(views, inner_tr), y[inner_tr],
                                            subset(views, inner_va), y[inner_va])
    np.testing.assert_array_equal(oof[va], model.predict_proba(subset(views, va)))

    bad = [(np.arange(0, 60), np.arange(59, 120))]  # star29 on both sides
    with pytest.raises(ValueError, match="both train and validation"):
        cnn_oof(views, y, groups, bad, CLASSES, cfg)


def test_focal_loss_gamma_zero_is_weighted_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 3, generator=g)
    target = torch.randint(0, 3, (50,), generator=g)
    w = torch.tensor([0.5, 1.0, 2.5])
    torch.testing.assert_close(focal_loss(logits, target, w, gamma=0.0),
                               F.cross_entropy(logits, target, weight=w))
    torch.testing.assert_close(focal_loss(logits, target, None, gamma=0.0), F.cross_entropy(logits, target))


def test_focal_loss_downweights_easy_examples():
    target = torch.tensor([0, 0])
    easy = torch.tensor([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]])  # p ~ 0.96
    hard = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # p ~ 0.21
    ratios = []
    for gamma in (0.0, 1.0, 2.0, 5.0):
        le, lh = focal_loss(easy, target, gamma=gamma), focal_loss(hard, target, gamma=gamma)
        assert le < lh
        ratios.append(float(le / lh))
    assert all(a > b for a, b in zip(ratios, ratios[1:]))  # easy examples matter less and less
    assert focal_loss(easy, target, gamma=2.0) < focal_loss(easy, target, gamma=0.0)


def test_class_weights():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 6, 2.0, 0.0])
    np.testing.assert_allclose(class_weights(np.array([0, 1]), 3, "none"), [1, 1, 1])
    with pytest.raises(ValueError):
        class_weights(np.array([0]), 2, "bogus")


def test_errors(data):
    views, y = data
    with pytest.raises(RuntimeError):
        CNNClassifier(CLASSES).predict_proba(views)
    with pytest.raises(ValueError):
        CNNClassifier(["CP"])
    with pytest.raises(KeyError):
        CNNClassifier(CLASSES, replace(FAST, epochs=1)).fit({"global": views["global"]}, y)


def test_prior_correction_undoes_class_weights():
    from exo_assets.models.cnn import prior_corrected

    p = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    w = [2.0, 1.0, 0.5]  # a rare first class was up-weighted x2, a common third class down-weighted
    q = prior_corrected(p, w)
    assert np.allclose(q.sum(axis=1), 1.0)
    assert q[0, 0] < p[0, 0] and q[1, 2] > p[1, 2]
    assert np.allclose(q[0], np.array([0.25, 0.25, 0.5]) / 1.0)
    assert np.array_equal(prior_corrected(p, [1.0, 1.0, 1.0]), p)
