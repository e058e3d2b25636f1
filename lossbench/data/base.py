"""The dataset contract shared by the runner, the losses and the metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from lossbench.errors import ConfigError

Task = Literal["classification", "regression", "forecast"]


@dataclass
class Split:
    """Inputs and targets of one split, as tensors ready for training."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    """Train/validation/test splits plus what losses and metrics need to know.

    ``task`` is ``classification`` (targets are int64 class indices, the model
    emits one logit per class), ``regression`` (float targets of shape [N]) or
    ``forecast`` (float targets of shape [N, horizon]). Inputs keep their sample
    shape: ``[N, F]`` for tabular data, ``[N, C, H, W]`` for images,
    ``[N, T, F]`` for windows. ``info["class_names"]`` holds the original label
    of each class index (see :attr:`class_names`).
    """

    name: str
    task: Task
    train: Split
    val: Split
    test: Split
    n_classes: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.train.x.shape[1:]))

    @property
    def out_features(self) -> int:
        if self.task == "classification":
            return int(self.n_classes)
        return 1 if self.train.y.ndim == 1 else int(np.prod(self.train.y.shape[1:]))

    @property
    def class_names(self) -> list[str] | None:
        """The original label of each class index (``info["class_names"]``; the index
        itself as a string where the data has no other name); None unless classification."""
        if self.task != "classification":
            return None
        names = self.info.get("class_names")
        if names is None:
            return [str(c) for c in range(int(self.n_classes))]
        return [str(n) for n in names]

    def class_counts(self) -> list[int]:
        """Training-split count of each class index (classification only)."""
        counts = torch.bincount(self.train.y, minlength=self.n_classes)
        return [int(c) for c in counts]

    def stats(self) -> dict[str, Any]:
        """Training-split statistics a loss may ask for by constructor argument name.

        ``class_counts`` and ``class_prior`` (classification), ``n_classes``,
        ``train_targets`` (the training targets, for density-based losses), ``n_train``
        (training rows: the size of per-sample state kept by index, e.g. SOAP) and, for
        binary data, ``positive_class`` (the class the ranking metrics score:
        :func:`lossbench.evaluation.metrics.positive_class`).
        """
        out: dict[str, Any] = {"train_targets": self.train.y, "n_train": len(self.train)}
        if self.task == "classification":
            counts = self.class_counts()
            total = sum(counts)
            out.update(
                n_classes=self.n_classes,
                class_counts=counts,
                class_prior=[c / total for c in counts],
            )
            if self.n_classes == 2:
                from lossbench.evaluation.metrics import positive_class

                out["positive_class"] = positive_class(self)
        return out


def stratified_split(
    x: np.ndarray, y: np.ndarray, val_size: float, test_size: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split into train/val/test keeping the class proportions in each part."""
    try:
        x_rest, x_test, y_rest, y_test = train_test_split(
            x, y, test_size=test_size, stratify=y, random_state=seed
        )
        rel_val = val_size / (1.0 - test_size)
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=rel_val, stratify=y_rest, random_state=seed
        )
    except ValueError as exc:  # a class too small to appear in every split
        counts = np.bincount(np.asarray(y, dtype=np.int64))
        raise ConfigError(
            f"too few rows per class for a stratified split with dataset.val_size={val_size} "
            f"and dataset.test_size={test_size} (smallest class: {counts.min()} rows; "
            f"{exc}); add rows, drop the class or change the sizes"
        ) from None
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def tabular_classification(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    val_size: float,
    test_size: float,
    seed: int,
    info: dict[str, Any] | None = None,
) -> Dataset:
    """Stratified splits, standard scaling fitted on the training split only."""
    (xtr, ytr), (xva, yva), (xte, yte) = stratified_split(x, y, val_size, test_size, seed)
    return scaled_classification(
        name, (xtr, ytr), (xva, yva), (xte, yte), int(y.max()) + 1, info or {}
    )


Arrays = tuple[np.ndarray, np.ndarray]
Scale = Literal["auto", "feature", "channel", "none"]
SCALES: tuple[str, ...] = get_args(Scale)


def resolve_scale(scale: str, sample_shape: tuple[int, ...]) -> str:
    """``auto`` is ``channel`` for image samples ``[C, H, W]`` and ``feature`` otherwise."""
    if scale not in SCALES:
        raise ConfigError(f"dataset.scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if scale == "auto":
        return "channel" if len(sample_shape) == 3 else "feature"
    if scale == "channel" and len(sample_shape) < 2:
        raise ConfigError(
            f"dataset.scale=channel needs samples with a channel axis [C, ...], got shape "
            f"{list(sample_shape)}; use dataset.scale=feature"
        )
    return scale


def fit_scaler(x_train: np.ndarray, scale: str) -> Callable[[np.ndarray], torch.Tensor]:
    """Standardisation fitted on the training inputs only, as a function array -> float32.

    ``feature``: each input element its own mean and standard deviation (scikit-learn's
    StandardScaler on the flattened samples); ``channel``: one mean and standard deviation
    per channel (axis 1 of ``[N, C, ...]``) over all rows and positions, the usual
    normalisation of images; ``none``: as is. A constant element or channel is only
    centred (standard deviation taken as 1).
    """
    shape = x_train.shape[1:]
    if scale == "none":
        return lambda xs: torch.as_tensor(np.asarray(xs, dtype=np.float32))
    if scale == "feature":
        from sklearn.preprocessing import StandardScaler

        flat = StandardScaler().fit(x_train.reshape(len(x_train), -1))
        return lambda xs: torch.as_tensor(
            flat.transform(xs.reshape(len(xs), -1)).reshape(len(xs), *shape), dtype=torch.float32
        )
    mean, std = np.zeros(shape[0]), np.ones(shape[0])
    for c in range(shape[0]):  # one channel at a time (memory: one channel)
        if x_train.dtype == np.uint8:  # 8-bit pixels: exact moments from a 256-bin histogram
            counts = np.bincount(np.ravel(x_train[:, c]), minlength=256)
            values = np.arange(256, dtype=np.float64)
            mean[c] = counts @ values / counts.sum()
            std[c] = np.sqrt(counts @ (values - mean[c]) ** 2 / counts.sum())
        else:
            xc = np.asarray(x_train[:, c], dtype=np.float64)
            mean[c], std[c] = xc.mean(), xc.std()
    std = np.where(std > 0, std, 1.0)
    view = (-1, *[1] * (len(shape) - 1))
    mean32 = mean.astype(np.float32).reshape(view)
    std32 = std.astype(np.float32).reshape(view)

    def channel(xs: np.ndarray) -> torch.Tensor:
        out = np.asarray(xs, dtype=np.float32)
        out = out - mean32
        out /= std32
        return torch.from_numpy(out)

    return channel


def scaled_classification(
    name: str,
    train: Arrays,
    val: Arrays,
    test: Arrays,
    n_classes: int,
    info: dict[str, Any],
    scale: str = "feature",
) -> Dataset:
    """A classification Dataset from numpy splits (inputs of any sample shape, kept);
    standardised with training statistics only (:func:`fit_scaler`)."""
    transform = fit_scaler(train[0], resolve_scale(scale, train[0].shape[1:]))

    def to_split(xs: np.ndarray, ys: np.ndarray) -> Split:
        return Split(transform(xs), torch.as_tensor(ys, dtype=torch.int64))

    return Dataset(
        name,
        "classification",
        to_split(*train),
        to_split(*val),
        to_split(*test),
        n_classes=n_classes,
        info=info,
    )


def check_fractions(val_size: float, test_size: float) -> None:
    """Validation and test fractions must leave a training split."""
    if not (0 < val_size < 1 and 0 < test_size < 1 and val_size + test_size < 1):
        raise ConfigError(
            "dataset.val_size and dataset.test_size must be in (0, 1) with a sum below 1, "
            f"got {val_size} and {test_size}"
        )
