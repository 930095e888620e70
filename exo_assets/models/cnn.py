"""Dual-branch 1-D CNN on the binned views of a transit signal, after AstroNet (Shallue & Vanderburg 2018).

Dagster-free: arrays in, probabilities out. The views follow `exo_assets.science.views`
(out-of-transit level 0, local-view transit minimum -1, float32) and come as a dict
``{"global": (n, G), "local" / "odd" / "even" / "secondary": (n, L)}``; G and L are read from the
data (2001/201 and 201/61 both work).

Architecture
------------
Two convolutional branches, each a stack of blocks ``[Conv1d(kernel, "same" padding) + ReLU] x
convs_per_block -> MaxPool1d(pool, stride)``:

- global branch: the channels ``CNNConfig.global_channels`` (default ``("global",)``) stacked,
- local branch: the channels ``CNNConfig.local_channels`` (default local, odd, even, secondary)
  stacked, so the branch sees odd/even depth differences and a secondary eclipse directly.

Each branch ends in an adaptive max-pool to a fixed number of positions (``global_out_bins`` /
``local_out_bins``) and is flattened; the two (plus, optionally, per-signal scalars such as period,
duration and S/N: ``CNNConfig.scalar_channels``, quantile-transformed to [-1, 1] with knots fit on
the training rows, as Astronet-Vetting feeds its scalars to the head) are concatenated into a dense head
(``dense_units`` x [Linear + ReLU + Dropout]) and a final Linear to the k class logits. The adaptive
pool makes the head independent of the view lengths while keeping a coarse position (transit in
the centre, secondary eclipse at the edges of the global view).

AstroNet uses 5 global blocks (16, 32, 64, 128, 256 filters, kernel 5, pool 5/2), 2 local blocks
(16, 32, pool 7/2) and 4 x 512 dense units. The defaults here are scaled down for CPU training
(see `CNNConfig`): global 4 blocks of (8, 16, 32, 32) filters, local 2 blocks of (16, 32), 2 x 128
dense units with dropout 0.3. He-initialised weights (`DualBranchNet.reset_parameters`).

Cost on a 2-core AMD EPYC (AVX2, torch 2.13 CPU, shared with other jobs), ``num_threads=1``:
~0.5 s per epoch for 128 training signals of 2001/201 bins (40 epochs ~21 s), ~7.5 s per epoch
for 11,900 signals of 201/61 bins (40 epochs ~5 min), ~38 s per epoch for 11,900 signals of
2001/201 bins. With torch's default 2 threads on a busy 2-core machine (other processes, or a
parallel Dagster executor) the same work ran 7-20x slower: set ``num_threads=1`` unless the
cores are free.

Training
--------
AdamW (lr 1e-3, weight decay 1e-4), mini-batches of 64 drawn by a seeded permutation, focal loss
with inverse-frequency class weights (`focal_loss`), augmentation by time reversal of all views (p =
0.5 per sample) and additive Gaussian noise (sigma 0.05 in view units, i.e. 5% of the local transit
depth, since views are normalised so the local depth is 1). With validation data, training stops
after ``patience`` epochs without improvement of the validation macro-F1 (ties broken by a lower
validation log-loss), but not before ``min_epochs``, and the best epoch's weights are restored;
otherwise it runs ``epochs`` epochs. ``early_stopping="log_loss"`` instead keeps the epoch with the
lowest (prior-corrected) validation log-loss, steadier on rare classes. Everything is seeded
(weights, batches, dropout, augmentation), the global torch RNG is left untouched, and on CPU a fit
is bit-for-bit reproducible for a given seed and thread count.

Persistence
-----------
`CNNClassifier.save` writes ``model.pt`` (``torch.save`` of the state dict: tensors only, loadable
with ``weights_only=True``) and ``config.json`` (classes, config, input lengths, torch version,
best epoch, training history, class weights, scalar quantile knots), each through a temp file and
``os.replace``; the format is `exo_assets.models.artifacts`' (the cnn_oof bundle holds the same files).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit
from torch import nn

from exo_assets.models.cnn_config import CNNConfig

__all__ = ["CNNClassifier", "CNNConfig", "class_weights", "cnn_oof", "focal_loss", "prior_corrected"]

#: Format tag written to config.json.
FORMAT = "exo-assets-cnn/1"


def class_weights(y: np.ndarray, n_classes: int, mode: str = "balanced") -> np.ndarray:
    """Per-class loss weights (float64, length k).

    "balanced": w_c = n / (k * n_c) with k the number of classes present (inverse frequency,
    normalised so the mean per-sample weight is 1); classes absent from `y` get 0. "none": all ones.
    """
    if mode == "none":
        return np.ones(n_classes)
    if mode != "balanced":
        raise ValueError(f"class_weighting must be 'balanced' or 'none', got {mode!r}")
    counts = np.bincount(np.asarray(y, dtype=int), minlength=n_classes).astype(np.float64)
    w = np.zeros(n_classes)
    present = counts > 0
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w


def prior_corrected(proba: np.ndarray, weights) -> np.ndarray:
    """Undo class weighting: p_c / w_c renormalised (classes with weight 0 keep probability 0)."""
    if weights is None:
        return proba
    w = np.asarray(weights, dtype=np.float64)
    if w.size != proba.shape[1] or np.allclose(w, w[0]):
        return proba
    inv = np.where(w > 0, 1.0 / np.where(w > 0, w, 1.0), 0.0)
    q = proba * inv[None, :]
    total = q.sum(axis=1, keepdims=True)
    return np.divide(q, total, out=np.full_like(q, 1.0 / q.shape[1]), where=total > 0)


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, gamma: float = 2.0
) -> torch.Tensor:
    """Class-weighted focal loss (Lin et al. 2017), averaged like weighted cross-entropy.

        L = sum_i w_{y_i} (1 - p_i)^gamma (-log p_i) / sum_i w_{y_i},   p_i = softmax(logits_i)[y_i]

    With gamma = 0 this is exactly ``F.cross_entropy(logits, target, weight=weight)``; gamma > 0
    down-weights well-classified examples (p_i near 1). `weight` None means all ones.
    """
    logp = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    loss = -logp
    if gamma:
        loss = loss * (1.0 - logp.exp()).clamp_min(0.0).pow(gamma)
    w = torch.ones_like(loss) if weight is None else weight.to(loss.dtype)[target]
    return (w * loss).sum() / w.sum().clamp_min(torch.finfo(loss.dtype).tiny)


# ---------------------------------------------------------------------------------------- network


def _branch(
    in_ch: int,
    length: int,
    filters: tuple[int, ...],
    convs: int,
    kernel: int,
    pool: int,
    stride: int,
    out_bins: int,
) -> nn.Sequential:
    layers: list[nn.Module] = []
    ch = in_ch
    for f in filters:
        for _ in range(convs):
            layers += [nn.Conv1d(ch, f, kernel, padding=kernel // 2), nn.ReLU()]
            ch = f
        if length >= pool:
            layers.append(nn.MaxPool1d(pool, stride))
            length = (length - pool) // stride + 1
    layers += [nn.AdaptiveMaxPool1d(out_bins), nn.Flatten()]
    return nn.Sequential(*layers)


class DualBranchNet(nn.Module):
    """Global and local conv branches -> concatenation -> dense head -> k logits."""

    def __init__(
        self, n_classes: int, global_length: int, local_length: int, config: CNNConfig, n_scalars: int = 0
    ):
        super().__init__()
        c = config
        self.global_branch = _branch(
            len(c.global_channels),
            global_length,
            c.global_filters,
            c.convs_per_block,
            c.global_kernel,
            c.global_pool,
            c.global_pool_stride,
            c.global_out_bins,
        )
        self.local_branch = _branch(
            len(c.local_channels),
            local_length,
            c.local_filters,
            c.convs_per_block,
            c.local_kernel,
            c.local_pool,
            c.local_pool_stride,
            c.local_out_bins,
        )
        width = (
            c.global_filters[-1] * c.global_out_bins + c.local_filters[-1] * c.local_out_bins + int(n_scalars)
        )
        head: list[nn.Module] = []
        for units in c.dense_units:
            head += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(c.dropout)]
            width = units
        head.append(nn.Linear(width, n_classes))
        self.head = nn.Sequential(*head)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (Kaiming-normal, fan-in) weights and zero biases for the ReLU layers.

        PyTorch's default init shrinks the activations by ~sqrt(3) per layer, which left a ~10-layer
        net flat for the first epochs on small training sets; the output layer keeps a small init
        (std 0.01) so training starts near uniform probabilities.
        """
        layers = [m for m in self.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
        for m in layers[:-1]:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            assert m.bias is not None  # every layer here is built with a bias
            nn.init.zeros_(m.bias)
        nn.init.normal_(layers[-1].weight, std=0.01)
        assert layers[-1].bias is not None
        nn.init.zeros_(layers[-1].bias)

    def forward(
        self, x_global: torch.Tensor, x_local: torch.Tensor, x_scalar: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [self.global_branch(x_global), self.local_branch(x_local)]
        if x_scalar is not None and x_scalar.shape[1]:
            parts.append(x_scalar)
        return self.head(torch.cat(parts, dim=1))


# ------------------------------------------------------------------------------------------ helpers


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextlib.contextmanager
def _torch_settings(num_threads: int | None, deterministic: bool):
    """Temporarily set torch's thread count and deterministic mode; restore both afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        if num_threads:
            torch.set_num_threads(int(num_threads))
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        yield
    finally:
        if num_threads:
            torch.set_num_threads(old_threads)
        if deterministic:
            torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn


def _stack(views: dict[str, np.ndarray], channels: tuple[str, ...]) -> np.ndarray:
    """(n, len(channels), length) float32, non-finite values replaced by 0 (out-of-transit level)."""
    missing = [c for c in channels if c not in views]
    if missing:
        raise KeyError(f"views lack channel(s) {missing}; have {sorted(views)}")
    arrays = [np.asarray(views[c], dtype=np.float32) for c in channels]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise ValueError(
            f"channels {channels} must be 2-D arrays of one shape, got {[a.shape for a in arrays]}"
        )
    return np.nan_to_num(np.stack(arrays, axis=1), nan=0.0, posinf=0.0, neginf=0.0)


def _scalar_matrix(views: dict[str, np.ndarray], channels: tuple[str, ...], n_rows: int) -> np.ndarray:
    """(n, k) float64 of the scalar channels (each (n,) or (n, k_i)), in channel order."""
    missing = [c for c in channels if c not in views]
    if missing:
        raise KeyError(f"views lack scalar channel(s) {missing}; have {sorted(views)}")
    cols = []
    for c in channels:
        a = np.asarray(views[c], dtype=np.float64)
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or a.shape[0] != n_rows:
            raise ValueError(f"scalar channel {c!r} must be (n={n_rows},) or (n, k), got {a.shape}")
        cols.append(a)
    return np.concatenate(cols, axis=1) if cols else np.zeros((n_rows, 0))


def fit_quantile_knots(x: np.ndarray, n_knots: int = 65) -> list[list[list[float]]]:
    """Per column [xs, ys]: training quantiles xs (strictly increasing) and their targets ys in [-1, 1].

    Ties (a column with repeated quantiles) are merged, keeping the mean target; a column without
    finite values gets the identity knots ([0, 1] -> [0, 0]), i.e. a constant 0 input.
    """
    qs = np.linspace(0.0, 1.0, int(n_knots))
    targets = 2.0 * qs - 1.0
    knots = []
    for j in range(x.shape[1]):
        col = x[:, j]
        col = col[np.isfinite(col)]
        if col.size == 0:
            knots.append([[0.0, 1.0], [0.0, 0.0]])
            continue
        xs = np.quantile(col, qs)
        uniq, inv = np.unique(xs, return_inverse=True)
        ys = np.bincount(inv, weights=targets) / np.bincount(inv)
        knots.append([uniq.tolist(), ys.tolist()])
    return knots


def apply_quantile_knots(x: np.ndarray, knots: list) -> np.ndarray:
    """Map each column through its knots (piecewise linear, clamped); NaN/inf -> 0. float32 (n, k)."""
    out = np.zeros(x.shape, dtype=np.float32)
    for j, (xs, ys) in enumerate(knots):
        col = x[:, j]
        ok = np.isfinite(col)
        if len(xs) == 1:
            out[ok, j] = ys[0]
        else:
            out[ok, j] = np.interp(col[ok], xs, ys)
    return out


def _subset(views: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[idx] for k, v in views.items() if np.ndim(v) >= 1}


# --------------------------------------------------------------------------------------- classifier


class CNNClassifier:
    """Dual-branch 1-D CNN classifier over the views; see the module docstring.

    Attributes (after `fit` / `load`):
        classes: class names, in the column order of `predict_proba`.
        config: the `CNNConfig`.
        input_lengths: {"global": G, "local": L} view lengths the network was built for.
        best_epoch: 1-based epoch whose weights are kept (the last one without validation data).
        history: per epoch {"epoch", "loss", "val_macro_f1", "val_log_loss", "seconds"}.
        class_weights_: the per-class loss weights used (divided out by `predict_proba`).
        scalar_knots_: quantile-transform knots of the scalar inputs (None without scalar channels).
    """

    def __init__(self, classes: list[str], config: CNNConfig = CNNConfig()):
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValueError(f"need >= 2 distinct classes, got {classes!r}")
        self.classes = list(classes)
        self.config = config
        self.input_lengths: dict[str, int] | None = None
        self.net: DualBranchNet | None = None
        self.best_epoch: int | None = None
        self.history: list[dict] = []
        self.class_weights_: list[float] | None = None
        self.scalar_knots_: list | None = None
        self.fit_seconds: float | None = None

    # ------------------------------------------------------------------ data

    def _encode(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.dtype.kind in "OUS":
            index = {c: i for i, c in enumerate(self.classes)}
            unknown = set(y.tolist()) - set(index)
            if unknown:
                raise ValueError(f"labels {sorted(unknown)} not in classes {self.classes}")
            return np.array([index[v] for v in y.tolist()], dtype=np.int64)
        y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
            raise ValueError(f"integer labels must lie in [0, {len(self.classes)})")
        return y

    def _tensors(self, views: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(global, local, scalars) tensors; scalars is (n, 0) without scalar channels.

        The scalar quantile knots are fit here when the model has none yet (start of `fit`).
        """
        g = _stack(views, self.config.global_channels)
        loc = _stack(views, self.config.local_channels)
        if len(g) != len(loc):
            raise ValueError(f"global and local views have {len(g)} and {len(loc)} rows")
        if self.input_lengths is not None:
            want = (self.input_lengths["global"], self.input_lengths["local"])
            if (g.shape[2], loc.shape[2]) != want:
                raise ValueError(
                    f"view lengths {(g.shape[2], loc.shape[2])} differ from the network's {want}"
                )
        raw = _scalar_matrix(views, self.config.scalar_channels, len(g))
        if self.scalar_knots_ is None and raw.shape[1]:
            self.scalar_knots_ = fit_quantile_knots(raw, self.config.scalar_quantiles)
        n_known = len(self.scalar_knots_ or [])
        if raw.shape[1] != n_known:
            raise ValueError(f"{raw.shape[1]} scalar input columns, the network was built for {n_known}")
        if raw.shape[1]:
            assert self.scalar_knots_ is not None  # n_known == raw.shape[1] > 0
            sc = apply_quantile_knots(raw, self.scalar_knots_)
        else:
            sc = np.zeros((len(g), 0), np.float32)
        return torch.from_numpy(g), torch.from_numpy(loc), torch.from_numpy(sc)

    def _build(self, global_length: int, local_length: int, n_scalars: int = 0) -> DualBranchNet:
        """Create `self.net` (and `self.input_lengths`) for these input sizes; returns the net."""
        self.input_lengths = {"global": int(global_length), "local": int(local_length)}
        if n_scalars:
            self.input_lengths["scalars"] = int(n_scalars)
        self.net = DualBranchNet(len(self.classes), global_length, local_length, self.config, n_scalars)
        return self.net

    # ------------------------------------------------------------------ training

    def fit(
        self,
        views: dict[str, np.ndarray],
        y: np.ndarray,
        val_views: dict[str, np.ndarray] | None = None,
        val_y: np.ndarray | None = None,
        *,
        log: Callable[[str], None] | None = None,
    ) -> CNNClassifier:
        """Train from scratch.

        Args:
            views: {view name: (n, length) array}, at least the config's channels.
            y: labels, integer indices into `classes` or class-name strings.
            val_views / val_y: optional validation rows for early stopping on
                `config.early_stopping` (the best epoch's weights are restored); without them all
                `config.epochs` epochs run.
            log: optional callable receiving one line per epoch.
        Returns self.
        """
        c = self.config
        y_arr = self._encode(y)
        has_val = val_views is not None and val_y is not None and len(val_y) > 0
        device = _resolve_device(c.device)
        t_start = time.perf_counter()
        cuda_devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
        with _torch_settings(c.num_threads, deterministic=True), torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(c.seed)
            self.input_lengths = None
            self.scalar_knots_ = None
            if len(y_arr) == 0:
                raise ValueError("no training rows")
            xg, xl, xs = self._tensors(views)
            if len(y_arr) != len(xg):
                raise ValueError(f"{len(xg)} rows of views but {len(y_arr)} labels")
            net = self._build(xg.shape[2], xl.shape[2], xs.shape[1]).to(device)
            xg, xl, xs = xg.to(device), xl.to(device), xs.to(device)
            yt = torch.from_numpy(y_arr).to(device)
            if has_val:
                assert val_views is not None and val_y is not None  # has_val checked both
                vg, vl, vs = self._tensors(val_views)
                vy = self._encode(val_y)
                if len(vy) != len(vg):
                    raise ValueError(f"{len(vg)} rows of validation views but {len(vy)} labels")
            weights = class_weights(y_arr, len(self.classes), c.class_weighting)
            self.class_weights_ = weights.tolist()
            w_t = torch.tensor(weights, dtype=torch.float32, device=device)
            opt = torch.optim.AdamW(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
            rng = np.random.default_rng(c.seed)
            gen = torch.Generator(device=device).manual_seed(c.seed)

            self.history = []
            best_key, best_state, best_epoch, stale = None, None, c.epochs, 0
            n = len(y_arr)
            for epoch in range(1, c.epochs + 1):
                t0 = time.perf_counter()
                net.train()
                order = torch.from_numpy(rng.permutation(n)).to(device)
                total, seen = 0.0, 0
                for s in range(0, n, c.batch_size):
                    idx = order[s : s + c.batch_size]
                    bg, bl = self._augment(xg[idx], xl[idx], gen)
                    loss = focal_loss(net(bg, bl, xs[idx]), yt[idx], w_t, c.focal_gamma)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    seen += len(idx)
                row = {"epoch": epoch, "loss": total / max(seen, 1)}
                if has_val:
                    p = self._predict(vg, vl, vs, device)
                    pred = p.argmax(axis=1)
                    f1 = float(
                        f1_score(
                            vy, pred, labels=list(range(len(self.classes))), average="macro", zero_division=0
                        )
                    )
                    if c.early_stopping == "log_loss":
                        p = prior_corrected(p, self.class_weights_)
                    ll = float(-np.mean(np.log(np.clip(p[np.arange(len(vy)), vy], 1e-12, 1.0))))
                    row.update(val_macro_f1=f1, val_log_loss=ll)
                    key = (f1, -ll) if c.early_stopping == "macro_f1" else (-ll, f1)
                    if best_key is None or key > best_key:
                        best_key, best_epoch, stale = key, epoch, 0
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    else:
                        stale += 1
                row["seconds"] = time.perf_counter() - t0
                self.history.append(row)
                if log is not None:
                    log(
                        " ".join(
                            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                        )
                    )
                if has_val and stale >= c.patience and epoch >= c.min_epochs:
                    break
            if best_state is not None:
                net.load_state_dict(best_state)
            self.best_epoch = best_epoch if has_val else len(self.history)
            net.eval()
        self.fit_seconds = time.perf_counter() - t_start
        return self

    def _augment(
        self, g: torch.Tensor, loc: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Time reversal of all views of a sample (p = flip_prob) and additive N(0, noise_sigma) noise."""
        c = self.config
        if c.flip_prob > 0:
            flip = (torch.rand(len(g), generator=gen, device=g.device) < c.flip_prob)[:, None, None]
            g = torch.where(flip, g.flip(-1), g)
            loc = torch.where(flip, loc.flip(-1), loc)
        if c.noise_sigma > 0:
            g = g + c.noise_sigma * torch.randn(g.shape, generator=gen, device=g.device)
            loc = loc + c.noise_sigma * torch.randn(loc.shape, generator=gen, device=loc.device)
        return g, loc

    # ------------------------------------------------------------------ inference

    def _predict(
        self, xg: torch.Tensor, xl: torch.Tensor, xs: torch.Tensor, device: torch.device
    ) -> np.ndarray:
        net = self.net
        assert net is not None  # built by `fit` / `from_dicts` before any prediction
        was_training = net.training
        net.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(xg), self.config.predict_batch_size):
                e = s + self.config.predict_batch_size
                logits = net(xg[s:e].to(device), xl[s:e].to(device), xs[s:e].to(device))
                out.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
        net.train(was_training)
        if not out:
            return np.zeros((0, len(self.classes)))
        return np.concatenate(out).astype(np.float64)

    def predict_proba(self, views: dict[str, np.ndarray], correct_prior: bool = True) -> np.ndarray:
        """Class probabilities (n, k) float64, columns in `classes` order (softmax, eval mode).

        Training with class weights w_c makes the network estimate p_w(c|x) proportional to
        w_c p(c|x); with `correct_prior` (default) the output is divided by w_c and renormalised,
        which restores the training-set prior. Without it, rare classes are systematically
        over-predicted and no temperature can repair the log-loss the blend is chosen on.
        """
        if self.net is None:
            raise RuntimeError("CNNClassifier is not fitted")
        device = next(self.net.parameters()).device
        with _torch_settings(self.config.num_threads, deterministic=False):
            xg, xl, xs = self._tensors(views)
            p = self._predict(xg, xl, xs, device)
        return prior_corrected(p, self.class_weights_) if correct_prior else p

    def predict(self, views: dict[str, np.ndarray]) -> np.ndarray:
        """Most probable class name per row."""
        return np.asarray(self.classes)[self.predict_proba(views).argmax(axis=1)]

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The network's weights as CPU tensors (an ordinary dict of tensors)."""
        if self.net is None:
            raise RuntimeError("CNNClassifier is not fitted")
        return {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}

    def config_dict(self) -> dict:
        """Everything but the weights, JSON-serialisable (the content of config.json)."""
        if self.net is None:
            raise RuntimeError("CNNClassifier is not fitted")
        assert self.input_lengths is not None  # set together with `net` by `_build`
        return {
            "format": FORMAT,
            "classes": list(self.classes),
            "config": self.config.to_dict(),
            "input_lengths": dict(self.input_lengths),
            "torch_version": torch.__version__,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "class_weights": self.class_weights_,
            "scalar_knots": self.scalar_knots_,
            "fit_seconds": self.fit_seconds,
        }

    @classmethod
    def from_dicts(
        cls, config_dict: dict, state_dict: dict[str, torch.Tensor], device: str | None = None
    ) -> CNNClassifier:
        """Rebuild from `config_dict()` and `state_dict()` (device default: the config's)."""
        if config_dict.get("format") != FORMAT:
            raise ValueError(f"unknown CNN format {config_dict.get('format')!r}, expected {FORMAT!r}")
        config = CNNConfig.from_dict(config_dict["config"])
        model = cls(config_dict["classes"], config)
        lengths = config_dict["input_lengths"]
        model.scalar_knots_ = config_dict.get("scalar_knots")
        if len(model.scalar_knots_ or []) != int(lengths.get("scalars", 0)):
            raise ValueError("config.json: scalar_knots do not match input_lengths['scalars']")
        net = model._build(lengths["global"], lengths["local"], int(lengths.get("scalars", 0)))
        net.load_state_dict(state_dict)
        net.to(_resolve_device(device or config.device)).eval()
        model.best_epoch = config_dict.get("best_epoch")
        model.history = list(config_dict.get("history") or [])
        model.class_weights_ = config_dict.get("class_weights")
        model.fit_seconds = config_dict.get("fit_seconds")
        return model

    def save(self, folder: Path | str) -> Path:
        """Write ``model.pt`` (state dict only) and ``config.json`` into `folder` (created), in the
        format of `artifacts.cnn_files`; each file atomically (model.pt first). Returns `folder`."""
        from exo_assets.models import artifacts

        return artifacts.write_files(folder, artifacts.cnn_files(self))

    @classmethod
    def load(cls, folder: Path | str, device: str | None = None) -> CNNClassifier:
        """Read a folder written by `save` (``torch.load(..., weights_only=True)``)."""
        from exo_assets.models import artifacts

        return artifacts.read_cnn(
            artifacts.read_files(folder, (artifacts.CNN_WEIGHTS_FILE, artifacts.CNN_CONFIG_FILE)),
            device=device,
        )


# -------------------------------------------------------------------------------------- out-of-fold


@dataclass
class FoldJob:
    """One cross-validation fold of `cnn_oof`: its training rows (with an inner early-stopping split) and
    the rows it predicts. Picklable, so a process pool or Dask can run the fold."""

    index: int
    classes: list[str]
    config: CNNConfig
    train_views: dict[str, np.ndarray]
    train_y: np.ndarray
    inner_views: dict[str, np.ndarray]
    inner_y: np.ndarray
    val_views: dict[str, np.ndarray]
    val_y: np.ndarray


def fit_fold(job: FoldJob) -> tuple[np.ndarray, dict]:
    """Train one fold's model (early stopping on its inner split when it has one) and predict its rows.

    Returns (probabilities of the fold's validation rows, the fold's summary row).
    """
    t0 = time.perf_counter()
    k = len(job.classes)
    model = CNNClassifier(job.classes, job.config)
    if len(job.inner_y):
        model.fit(job.train_views, job.train_y, job.inner_views, job.inner_y)
    else:
        model.fit(job.train_views, job.train_y)
    p = model.predict_proba(job.val_views)
    val_f1 = (
        float(f1_score(job.val_y, p.argmax(axis=1), labels=list(range(k)), average="macro", zero_division=0))
        if len(job.val_y)
        else float("nan")
    )
    inner_f1 = max(
        (h.get("val_macro_f1", float("nan")) for h in model.history if h["epoch"] == model.best_epoch),
        default=float("nan"),
    )
    assert model.best_epoch is not None  # set by `fit`
    return p, {
        "fold": job.index,
        "n_train": int(len(job.train_y)),
        "n_inner_val": int(len(job.inner_y)),
        "n_val": int(len(job.val_y)),
        "best_epoch": int(model.best_epoch),
        "epochs_run": len(model.history),
        "inner_val_macro_f1": inner_f1,
        "val_macro_f1": val_f1,
        "seconds": time.perf_counter() - t0,
    }


def _serial_map(fn: Callable, items: list) -> list:
    return [fn(item) for item in items]


def cnn_oof(
    views: dict[str, np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    classes: list[str],
    config: CNNConfig = CNNConfig(),
    inner_val_fraction: float = 0.15,
    log: Callable[[str], None] | None = None,
    map_fn: Callable | None = None,
) -> tuple[np.ndarray, dict]:
    """Out-of-fold class probabilities over the given folds (e.g. `splits.cv_folds`).

    For fold i, a model with seed ``config.seed + i`` is trained on the fold's training rows, with
    early stopping on an inner, star-grouped validation split of those training rows
    (GroupShuffleSplit, `inner_val_fraction` of the groups, seed ``config.seed + i``; none when
    fewer than 2 groups, then all epochs run) -- never on the fold's validation rows -- and predicts
    the fold's validation rows. With several repeats each row's probabilities are averaged over the
    folds that validate it; rows no fold validates stay NaN. `map_fn(fit_fold, jobs)` runs the folds
    (default: one after another; e.g. `ComputeResource.map` to train them in parallel processes).

    Returns:
        (oof (n, k) float64 in input row order, info) where info has "folds" (per fold: fold,
        n_train, n_inner_val, n_val, best_epoch, epochs_run, inner_val_macro_f1, val_macro_f1,
        seconds), "best_epochs", "median_best_epoch" (a choice of epochs for a final fit without
        validation), "n_predictions" (per-row count summary) and "oof_macro_f1".
    """
    y_enc = CNNClassifier(classes, config)._encode(y)
    groups = np.asarray(groups)
    n = len(y_enc)
    k = len(classes)
    total = np.zeros((n, k))
    count = np.zeros(n, dtype=int)
    jobs = []
    for i, (tr, va) in enumerate(folds):
        tr, va = np.asarray(tr), np.asarray(va)
        overlap = set(groups[tr].tolist()) & set(groups[va].tolist())
        if overlap:
            raise ValueError(f"fold {i}: groups {sorted(overlap)[:5]} are in both train and validation")
        cfg = dataclasses.replace(config, seed=config.seed + i)
        inner_tr, inner_va = tr, tr[:0]
        if len(np.unique(groups[tr])) >= 2 and inner_val_fraction > 0:
            gss = GroupShuffleSplit(n_splits=1, test_size=inner_val_fraction, random_state=cfg.seed)
            a, b = next(gss.split(tr, groups=groups[tr]))
            inner_tr, inner_va = tr[a], tr[b]
        jobs.append(
            FoldJob(
                i,
                classes,
                cfg,
                _subset(views, inner_tr),
                y_enc[inner_tr],
                _subset(views, inner_va),
                y_enc[inner_va],
                _subset(views, va),
                y_enc[va],
            )
        )
    fold_info = []
    # Folds are independent (own seed, one torch thread each): `map_fn` may run them in parallel
    # processes (the cnn_oof asset passes its compute resource's map) with identical results.
    for job, (p, row) in zip(jobs, (map_fn or _serial_map)(fit_fold, jobs), strict=True):
        va = np.asarray(folds[job.index][1])
        total[va] += p
        count[va] += 1
        fold_info.append(row)
        if log is not None:
            log(
                f"cnn fold {job.index + 1}/{len(folds)}: best_epoch={row['best_epoch']} "
                f"inner_f1={row['inner_val_macro_f1']:.3f} val_f1={row['val_macro_f1']:.3f} "
                f"({row['seconds']:.1f} s)"
            )
    oof = np.full((n, k), np.nan)
    seen = count > 0
    oof[seen] = total[seen] / count[seen, None]
    best_epochs = [r["best_epoch"] for r in fold_info]
    info = {
        "folds": fold_info,
        "best_epochs": best_epochs,
        "median_best_epoch": int(math.ceil(np.median(best_epochs))) if best_epochs else None,
        "n_predictions": {
            "min": int(count.min()) if n else 0,
            "max": int(count.max()) if n else 0,
            "missing": int((~seen).sum()),
        },
        "oof_macro_f1": float(
            f1_score(
                y_enc[seen], oof[seen].argmax(axis=1), labels=list(range(k)), average="macro", zero_division=0
            )
        )
        if seen.any()
        else float("nan"),
        "inner_val_fraction": float(inner_val_fraction),
        "config": config.to_dict(),
    }
    return oof, info
