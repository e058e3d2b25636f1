"""The dataset contract shared by the runner, the losses and the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from sklearn.model_selection import train_test_split

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

        ``class_counts`` and ``class_prior`` (classification), ``n_classes``, and
        ``train_targets`` (the training targets, for density-based losses).
        """
        out: dict[str, Any] = {"train_targets": self.train.y}
        if self.task == "classification":
            counts = self.class_counts()
            total = sum(counts)
            out.update(
                n_classes=self.n_classes,
                class_counts=counts,
                class_prior=[c / total for c in counts],
            )
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
    name: str, x: np.ndarray, y: np.ndarray, val_size: float, test_size: float, seed: int
) -> Dataset:
    """Stratified splits, standard scaling fitted on the training split only."""
    from sklearn.preprocessing import StandardScaler

    (xtr, ytr), (xva, yva), (xte, yte) = stratified_split(x, y, val_size, test_size, seed)
    scaler = StandardScaler().fit(xtr)

    def to_split(xs: np.ndarray, ys: np.ndarray) -> Split:
        xt = torch.as_tensor(scaler.transform(xs), dtype=torch.float32)
        return Split(xt, torch.as_tensor(ys, dtype=torch.int64))

    n_classes = int(y.max()) + 1
    return Dataset(
        name,
        "classification",
        to_split(xtr, ytr),
        to_split(xva, yva),
        to_split(xte, yte),
        n_classes=n_classes,
    )
