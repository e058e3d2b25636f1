"""The dataset contract shared by the runner, the losses and the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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
    ``forecast`` (float targets of shape [N, horizon]).
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
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    rel_val = val_size / (1.0 - test_size)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=rel_val, stratify=y_rest, random_state=seed
    )
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


def scaled_classification(
    name: str, train: Arrays, val: Arrays, test: Arrays, n_classes: int, info: dict[str, Any]
) -> Dataset:
    """A classification Dataset from numpy splits; StandardScaler fitted on ``train`` only."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train[0])

    def to_split(xs: np.ndarray, ys: np.ndarray) -> Split:
        xt = torch.as_tensor(scaler.transform(xs), dtype=torch.float32)
        return Split(xt, torch.as_tensor(ys, dtype=torch.int64))

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
