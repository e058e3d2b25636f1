"""The user's arrays as a dataset: ``dataset=npz``, ``dataset=npy`` and the arrays a
``dataset=custom`` function returns.

Layouts (the keys of an ``.npz`` file or of a returned dict):

* ``x``, ``y``: all rows; split here into train/validation/test (``val_size``,
  ``test_size``; stratified by class for classification, seeded by ``dataset.seed``);
* ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally ``x_val``, ``y_val``:
  the user's own splits, kept as they are (without ``x_val``, a ``val_size`` share of
  the training rows is held out as validation);
* optional ``class_names``: the name of each label value (see :mod:`lossbench.data.checks`).

Inputs keep their sample shape (``[N, F]``, images ``[N, C, H, W]``) and are
standardised with training statistics only (``scale``: per channel for images,
per feature otherwise; see :func:`lossbench.data.base.fit_scaler`). ``task=auto``
reads classification from integer / boolean / text labels and regression from float
targets. Classification sets whose training counts span the many / medium / few
thresholds get shot groups (Liu et al. 2019), as the long-tailed sets do.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lossbench.data.base import (
    Dataset,
    Scale,
    check_fractions,
    resolve_scale,
    scaled_classification,
)
from lossbench.data.checks import (
    ArrayTask,
    as_array,
    check_inputs,
    check_lengths,
    encode_classes,
    infer_task,
    regression_targets,
)
from lossbench.data.profiles import group_by_count, spans_shot_groups
from lossbench.data.regression import random_split, scaled_regression
from lossbench.errors import ConfigError

SPLITS = ("train", "val", "test")
SPLIT_KEYS = tuple(f"{a}_{s}" for s in SPLITS for a in ("x", "y"))
KEYS = ("x", "y", *SPLIT_KEYS, "class_names")
MIN_ROWS_PER_CLASS = 3  # one each for train, validation and test


def _layout(keys: set[str], source: str) -> str:
    """``"whole"`` (x, y) or ``"splits"`` (x_train, ...); an error for anything else."""
    unknown = sorted(keys - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown array {unknown[0]}; expected x and y, or x_train, y_train, "
            "x_test, y_test (and optionally x_val, y_val), plus optional class_names"
        )
    whole = keys & {"x", "y"}
    splits = keys & set(SPLIT_KEYS)
    if whole and splits:
        raise ConfigError(
            f"{source} has both {sorted(whole)[0]} and {sorted(splits)[0]}: give either x and y "
            "(split here) or x_train/y_train/x_test/y_test (your own splits), not both"
        )
    if whole:
        missing = {"x", "y"} - keys
        if missing:
            raise ConfigError(f"{source} has no array {missing.pop()}: x and y go together")
        return "whole"
    required = {"x_train", "y_train", "x_test", "y_test"}
    if ("x_val" in keys) != ("y_val" in keys):
        required |= {"x_val", "y_val"}
    missing_split = sorted(required - keys)
    if missing_split:
        raise ConfigError(
            f"{source} has no array {missing_split[0]}; expected x and y, or x_train, y_train, "
            "x_test, y_test (and optionally x_val, y_val)"
        )
    return "splits"


def from_arrays(
    name: str,
    source: str,
    arrays: Mapping[str, Any],
    *,
    task: str = "auto",
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
    scale: str = "auto",
    class_names: Sequence[str] | None = None,
    n_bins: int = 20,
    many_shot: int = 100,
    few_shot: int = 20,
    wheres: Mapping[str, str] | None = None,
) -> Dataset:
    """A Dataset from named arrays (the layouts of the module docstring); error messages
    name an array as ``wheres[key]``, by default ``"<source>: <key>"`` (a file, or a
    function)."""
    layout = _layout(set(arrays), source)

    def where(key: str) -> str:
        return (wheres or {}).get(key, f"{source}: {key}")

    names = arrays.get("class_names")
    names = class_names if class_names is not None else names
    if names is not None:
        names = [str(n) for n in as_array(names, where("class_names")).reshape(-1)]
    parts = ("",) if layout == "whole" else tuple(f"_{s}" for s in SPLITS if f"x_{s}" in arrays)
    xs = {p: as_array(arrays[f"x{p}"], where(f"x{p}")) for p in parts}
    ys = {p: as_array(arrays[f"y{p}"], where(f"y{p}")) for p in parts}
    shape = None
    for p in parts:
        check_inputs(xs[p], where(f"x{p}"))
        check_lengths(xs[p], ys[p], where(f"x{p}"), where(f"y{p}"))
        if shape is not None and xs[p].shape[1:] != shape:
            raise ConfigError(
                f"{source}: x{p} has samples of shape {list(xs[p].shape[1:])} but x{parts[0]} "
                f"has {list(shape)}; every split needs the same sample shape"
            )
        shape = xs[p].shape[1:]
    scale = resolve_scale(scale, tuple(shape or ()))
    task = infer_task(ys[parts[0]], task, where(f"y{parts[0]}"))
    info: dict[str, Any] = {"source": source, "scale": scale}
    if task == "classification":
        encoded, class_list = encode_classes(
            [ys[p] for p in parts], [where(f"y{p}") for p in parts], names
        )
        ys = dict(zip(parts, encoded, strict=True))
        info["class_names"] = class_list
        splits = _classification_splits(xs, ys, class_list, val_size, test_size, seed, source)
        counts = np.bincount(splits[0][1], minlength=len(class_list)).tolist()
        if spans_shot_groups(counts, many_shot, few_shot):
            info["shot_groups"], info["shot_rule"] = group_by_count(counts, many_shot, few_shot)
        return scaled_classification(name, *splits, len(class_list), info, scale)
    if names is not None:
        raise ConfigError(f"{source}: class_names given for a regression target; remove them")
    ys = {p: regression_targets(ys[p], where(f"y{p}")) for p in parts}
    if layout == "whole":
        splits = random_split(xs[""], ys[""], val_size, test_size, seed)
    else:
        splits = _given_splits(xs, ys, val_size, seed, stratify=False, source=source)
    return scaled_regression(
        name,
        *splits,
        n_bins=n_bins,
        many_shot=many_shot,
        few_shot=few_shot,
        info=info,
        scale=scale,
    )


Arrays = tuple[np.ndarray, np.ndarray]


def _classification_splits(
    xs: dict[str, np.ndarray],
    ys: dict[str, np.ndarray],
    names: list[str],
    val_size: float,
    test_size: float,
    seed: int,
    source: str,
) -> tuple[Arrays, Arrays, Arrays]:
    if "" not in xs:
        return _given_splits(xs, ys, val_size, seed, stratify=True, source=source)
    check_fractions(val_size, test_size)
    y = ys[""]
    counts = np.bincount(y, minlength=len(names))
    rare = int(np.argmin(counts))
    if counts[rare] < MIN_ROWS_PER_CLASS:
        raise ConfigError(
            f"{source}: class {names[rare]} has {counts[rare]} rows; each class needs at least "
            f"{MIN_ROWS_PER_CLASS} (one each for train, validation and test): add rows, drop the "
            "class, or give your own splits (x_train, y_train, x_val, ...)"
        )
    x = xs[""]
    return _stratified(x, y, val_size, test_size, seed, source)


def _stratified(
    x: np.ndarray, y: np.ndarray, val_size: float, test_size: float, seed: int, source: str
) -> tuple[Arrays, Arrays, Arrays]:
    """Stratified train/val/test of row indices (arrays indexed once: images stay cheap)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    try:
        rest, test = train_test_split(rows, test_size=test_size, stratify=y, random_state=seed)
        rel_val = val_size / (1.0 - test_size)
        train, val = train_test_split(rest, test_size=rel_val, stratify=y[rest], random_state=seed)
    except ValueError as exc:
        raise ConfigError(
            f"{source}: too few rows per class for a stratified split with dataset.val_size="
            f"{val_size} and dataset.test_size={test_size} ({exc}); raise the sizes or add rows"
        ) from None
    return (x[train], y[train]), (x[val], y[val]), (x[test], y[test])


def _given_splits(
    xs: dict[str, np.ndarray],
    ys: dict[str, np.ndarray],
    val_size: float,
    seed: int,
    stratify: bool,
    source: str,
) -> tuple[Arrays, Arrays, Arrays]:
    """The user's train/val/test; without ``_val``, ``val_size`` of the training rows."""
    test = (xs["_test"], ys["_test"])
    if "_val" in xs:
        return (xs["_train"], ys["_train"]), (xs["_val"], ys["_val"]), test
    if not 0 < val_size < 1:
        raise ConfigError(f"dataset.val_size must be in (0, 1), got {val_size}")
    x, y = xs["_train"], ys["_train"]
    rows = np.arange(len(y))
    if stratify:
        from sklearn.model_selection import train_test_split

        try:
            train, val = train_test_split(rows, test_size=val_size, stratify=y, random_state=seed)
        except ValueError as exc:
            raise ConfigError(
                f"{source}: too few training rows per class to hold out dataset.val_size="
                f"{val_size} as validation ({exc}); add x_val/y_val or rows"
            ) from None
    else:
        order = np.random.default_rng(seed).permutation(len(y))
        n_val = max(1, round(len(y) * val_size))
        val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val]), test


# -- files ---------------------------------------------------------------------


def _file(path: str, key: str, example: str) -> Path:
    if path in ("", "???", None):
        raise ConfigError(f"{key} is required: {example}")
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise ConfigError(f"{key}={path}: no such file ({example})")
    return file


def load_npz(path: str, key: str = "dataset.path") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (no pickled objects: text as numpy string arrays)."""
    file = _file(path, key, "dataset=npz dataset.path=FILE.npz")
    if not zipfile.is_zipfile(file):
        raise ConfigError(
            f"{key}={path}: not a readable .npz file (np.savez writes one; a single .npy "
            "array goes with dataset=npy)"
        )
    try:
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise ConfigError(
                f"{key}={path}: holds Python objects (pickled); save text such as class_names "
                "as a string array, np.array(names, dtype=str)"
            ) from None
        raise ConfigError(f"{key}={path}: not a readable .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"{key}={path}: not a readable .npz file ({exc})") from None


def load_npy(path: str, key: str) -> np.ndarray:
    """One ``.npy`` array, memory-mapped (no pickled objects)."""
    file = _file(path, key, "dataset=npy dataset.x=X.npy dataset.y=Y.npy")
    if zipfile.is_zipfile(file):
        raise ConfigError(f"{key}={path}: an .npz archive, not one .npy array; use dataset=npz")
    try:
        return np.load(file, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{key}={path}: not a readable .npy array ({exc})") from None


def npz(
    *,
    path: str = "",
    task: ArrayTask = "auto",
    val_size: float = 0.2,
    test_size: float = 0.2,
    scale: Scale = "auto",
    class_names: Sequence[str] | None = None,
    n_bins: int = 20,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """``dataset=npz dataset.path=FILE.npz``: arrays ``x``, ``y`` or predefined splits."""
    arrays = load_npz(path)
    return from_arrays(
        "npz",
        str(path),
        arrays,
        task=task,
        val_size=val_size,
        test_size=test_size,
        seed=seed,
        scale=scale,
        class_names=class_names,
        n_bins=n_bins,
        many_shot=many_shot,
        few_shot=few_shot,
    )


def npy(
    *,
    x: str = "",
    y: str = "",
    task: ArrayTask = "auto",
    val_size: float = 0.2,
    test_size: float = 0.2,
    scale: Scale = "auto",
    class_names: Sequence[str] | None = None,
    n_bins: int = 20,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """``dataset=npy dataset.x=X.npy dataset.y=Y.npy``: inputs and targets, split here."""
    arrays = {"x": load_npy(x, "dataset.x"), "y": load_npy(y, "dataset.y")}
    return from_arrays(
        "npy",
        f"dataset.x={x}",
        arrays,
        wheres={"x": f"dataset.x={x}", "y": f"dataset.y={y}"},
        task=task,
        val_size=val_size,
        test_size=test_size,
        seed=seed,
        scale=scale,
        class_names=class_names,
        n_bins=n_bins,
        many_shot=many_shot,
        few_shot=few_shot,
    )
