"""Checks of a user's arrays, each mistake one line naming the source and the fix.

Used by every way a user brings data (``.npz``, ``.npy`` pairs, a Python function):
inputs must be numbers, finite and within float32; targets must match the inputs in
length; classification labels become class indices 0..C-1 in a fixed order, with
the original label of each index kept as its class name.

Class order: integer (or integral float, or boolean) labels in numeric order, so labels
1, 2, 10 are classes 0, 1, 2 (named "1", "2", "10"); text labels in sorted
(lexicographic) order. ``class_names`` given with integer labels names label value j
by ``class_names[j]`` (the convention of CIFAR's ``label_names``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from lossbench.errors import ConfigError

FLOAT32_MAX = float(np.finfo(np.float32).max)
ArrayTask = Literal["auto", "classification", "regression"]
TASK_CHOICES: tuple[str, ...] = get_args(ArrayTask)


def as_array(value: Any, where: str) -> np.ndarray:
    """``value`` (a numpy array, tensor, list or DataFrame) as a numpy array."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ConfigError(f"{where}: not an array ({type(exc).__name__}: {exc})") from None


def check_inputs(x: np.ndarray, where: str) -> None:
    """Inputs ``[N, *sample_shape]`` of numbers, finite, within float32's range."""
    if x.ndim < 2:
        raise ConfigError(
            f"{where} has shape {list(x.shape)}; inputs need a row axis and a sample shape "
            "[N, features] or [N, C, H, W] (reshape a single feature to [N, 1])"
        )
    if x.shape[0] == 0:
        raise ConfigError(f"{where} has no rows")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise ConfigError(
            f"{where} has dtype {x.dtype}; inputs must be real numbers (int, uint or float): "
            "encode text or categories as numbers first"
        )
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x) | (np.abs(x) > FLOAT32_MAX)
        if bad.any():
            first = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape)
            raise ConfigError(
                f"{where} has {int(bad.sum())} NaN, infinite or out-of-float32 values (first: "
                f"{x[first]} at row {first[0]}); fix or remove those rows"
            )


def check_lengths(x: np.ndarray, y: np.ndarray, where_x: str, where_y: str) -> None:
    if len(x) != len(y):
        raise ConfigError(
            f"{where_x} has {len(x)} rows but {where_y} has {len(y)}; they must match row by row"
        )


def infer_task(y: np.ndarray, task: str, where: str) -> str:
    """``task`` as given, or for ``auto``: classification for integer, boolean or text
    labels, regression for floats."""
    if task not in TASK_CHOICES:
        raise ConfigError(f"dataset.task must be one of {', '.join(TASK_CHOICES)}, got {task!r}")
    if task != "auto":
        return task
    if np.issubdtype(y.dtype, np.floating):
        return "regression"
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ or y.dtype.kind in "USO":
        return "classification"
    raise ConfigError(f"{where} has dtype {y.dtype}; set dataset.task=classification|regression")


def _one_per_row(y: np.ndarray, where: str, rule: str) -> np.ndarray:
    """``y`` as ``[N]`` (a column ``[N, 1]`` is taken as one); else a ConfigError citing
    ``rule``."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ConfigError(f"{where} has shape {list(y.shape)}; {rule}")
    return y


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    """Class labels as a 1-D array of integers or strings (the order of their classes)."""
    y = _one_per_row(
        y,
        where,
        "classification labels must be one per row [N] (class indices or names, not one-hot)",
    )
    if y.dtype == np.bool_:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        finite = np.isfinite(y)
        if not finite.all():
            raise ConfigError(f"{where} has {int((~finite).sum())} NaN or infinite labels")
        if not np.all(y == np.round(y)):
            sample = y[y != np.round(y)][0]
            raise ConfigError(
                f"{where} holds float labels such as {sample:g}: classification needs class "
                "labels (integers or names); use dataset.task=regression for a numeric target"
            )
        return y.astype(np.int64)
    if y.dtype.kind in "USO":
        return y.astype(str)
    raise ConfigError(f"{where} has dtype {y.dtype}; labels must be integers or names")


def encode_classes(
    ys: Sequence[np.ndarray],
    wheres: Sequence[str],
    class_names: Sequence[str] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """Class indices of each label array (one per split) and the name of each index.

    The classes are the labels present in any split, in the order of the module
    docstring; a label that appears in a later split but not in the first (training)
    one is an error: the model would never see it in training.
    """
    labels = [_labels(y, w) for y, w in zip(ys, wheres, strict=True)]
    kinds = {lab.dtype.kind for lab in labels}
    if len(kinds) > 1:
        raise ConfigError(
            f"{', '.join(wheres)} mix text and numeric labels; use one kind in every split"
        )
    classes = np.unique(np.concatenate(labels))
    if len(labels) > 1:
        missing = np.setdiff1d(classes, np.unique(labels[0]))
        if len(missing):
            raise ConfigError(
                f"class {missing[0]} appears in {', '.join(wheres[1:])} but not in {wheres[0]}; "
                "every class needs training rows"
            )
    names = [str(c) for c in classes]
    if class_names is not None:
        given = [str(n) for n in class_names]
        if classes.dtype.kind in "iu":
            if classes.min() < 0 or classes.max() >= len(given):
                raise ConfigError(
                    f"class_names has {len(given)} names but the labels run from "
                    f"{classes.min()} to {classes.max()}; give one name per label value 0..K-1"
                )
            names = [given[int(c)] for c in classes]
        elif len(given) != len(classes):
            raise ConfigError(
                f"class_names has {len(given)} names for {len(classes)} text labels; "
                "leave class_names out (the labels are the names) or give one per class"
            )
        else:
            names = given
        if len(set(names)) != len(names):
            raise ConfigError(f"class_names repeats a name: {names}")
    if len(classes) < 2:
        raise ConfigError(
            f"{wheres[0]} has a single class ({names[0]}); classification needs at least 2"
        )
    return [np.searchsorted(classes, lab).astype(np.int64) for lab in labels], names


def regression_targets(y: np.ndarray, where: str) -> np.ndarray:
    """Regression targets as float64 ``[N]``: numeric, finite, one value per row."""
    y = _one_per_row(y, where, "regression targets must be one value per row [N]")
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise ConfigError(
            f"{where} has dtype {y.dtype}; regression targets must be numbers "
            "(text labels: dataset.task=classification)"
        )
    y = y.astype(np.float64)
    bad = ~np.isfinite(y) | (np.abs(y) > FLOAT32_MAX)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            f"{where} has {int(bad.sum())} NaN, infinite or out-of-float32 targets "
            f"(first: {y[row]} at row {row}); fix or remove those rows"
        )
    return y
