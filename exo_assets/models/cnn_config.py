"""`CNNConfig`: architecture and training settings of `exo_assets.models.cnn.CNNClassifier` (torch-free,
so the Dagster code location can read its defaults without importing torch)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CNNConfig:
    """Architecture and training settings of `CNNClassifier`.

    Architecture:
        global_channels / local_channels: view names stacked as input channels of each branch
            (all channels of a branch must have the same length).
        global_filters / local_filters: filters of each conv block (number of blocks = length).
            AstroNet: (16, 32, 64, 128, 256) and (16, 32); the defaults are scaled down so that a
            40-epoch 2001/201-bin fit of ~150 signals takes ~20 s and one over ~15,000 201/61-bin
            signals ~5 min on one CPU thread (module docstring).
        convs_per_block: conv layers per block (AstroNet 2).
        global_kernel / local_kernel: conv kernel size (AstroNet 5).
        global_pool / global_pool_stride, local_pool / local_pool_stride: max-pool after each block
            (AstroNet 5/2 and 7/2). A block's pool is skipped when its input is shorter than the
            pool window (very short views).
        global_out_bins / local_out_bins: adaptive max-pool length at the end of each branch.
        dense_units: hidden units of the dense head (AstroNet 4 x 512); dropout: after each.
        scalar_channels: names of entries of the views dict that are per-signal scalars, (n,) or
            (n, k) arrays (period, duration, SNR, view statistics, ...), concatenated to the two
            branches' outputs at the input of the dense head (as Astronet-Vetting does). Each column
            is mapped to [-1, 1] by a piecewise-linear quantile transform fit on the training rows
            (`scalar_quantiles` knots; robust to heavy tails and outliers; NaN -> 0, the training
            median), stored with the model. Empty (default): views only. Time reversal does not
            touch them, so give symmetric quantities only.
    Training:
        epochs: maximum number of epochs; batch_size; lr / weight_decay: AdamW.
        focal_gamma: focal-loss exponent (0 = weighted cross-entropy).
        class_weighting: "balanced" (w_c = n / (k n_c), inverse frequency normalised so the mean
            per-sample weight is 1; a class absent from the training rows gets 0) or "none".
        early_stopping: validation criterion of the best epoch: "macro_f1" (ties broken by a lower
            log-loss) or "log_loss" (prior-corrected validation log-loss; smoother on rare classes).
        patience: epochs without improvement of the validation criterion before stopping.
        min_epochs: training never stops before this epoch (the best epoch is still chosen among
            all): on a validation set of a few dozen rows the macro-F1 of the first, still
            near-uniform epochs is noisy and a lucky early epoch would otherwise end training.
        flip_prob: probability of reversing the time axis of all views of a sample.
        noise_sigma: std of additive Gaussian noise in view units (the local transit depth is 1,
            so 0.05 = 5% of the depth); 0 disables it.
        seed: seeds weights, batch order, dropout and augmentation.
        device: "auto" (cuda if available, else cpu), "cpu", "cuda", ...
        num_threads: torch intra-op threads during fit/predict (restored afterwards); None leaves
            torch's setting. Use 1 when other processes share the cores (oversubscribed OpenMP
            threads made training 7-20x slower on 2 busy cores).
        predict_batch_size: rows per forward pass in `predict_proba`.
    """

    global_channels: tuple[str, ...] = ("global",)
    local_channels: tuple[str, ...] = ("local", "odd", "even", "secondary")
    global_filters: tuple[int, ...] = (8, 16, 32, 32)
    local_filters: tuple[int, ...] = (16, 32)
    convs_per_block: int = 2
    global_kernel: int = 5
    local_kernel: int = 5
    global_pool: int = 5
    global_pool_stride: int = 2
    local_pool: int = 7
    local_pool_stride: int = 2
    global_out_bins: int = 16
    local_out_bins: int = 8
    dense_units: tuple[int, ...] = (128, 128)
    dropout: float = 0.3
    scalar_channels: tuple[str, ...] = ()
    scalar_quantiles: int = 65
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    focal_gamma: float = 2.0
    class_weighting: str = "balanced"
    early_stopping: str = "macro_f1"
    patience: int = 6
    min_epochs: int = 10
    flip_prob: float = 0.5
    noise_sigma: float = 0.05
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    predict_batch_size: int = 512

    def __post_init__(self) -> None:
        if self.early_stopping not in ("macro_f1", "log_loss"):
            raise ValueError(f"early_stopping must be 'macro_f1' or 'log_loss', got {self.early_stopping!r}")
        if int(self.scalar_quantiles) < 2:
            raise ValueError(f"scalar_quantiles must be >= 2, got {self.scalar_quantiles}")

    def to_dict(self) -> dict:
        """JSON-serialisable dict (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> CNNConfig:
        """Inverse of `to_dict`; unknown keys are ignored (forward compatibility)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for k, v in data.items():
            if k in names:
                kwargs[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)


# --------------------------------------------------------------------------------------------- loss
