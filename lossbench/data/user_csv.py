"""The user's own CSV (or Parquet) file as a classification, regression or forecasting dataset.

``dataset=csv dataset.path=FILE dataset.target=COLUMN dataset.task=...``; a path
ending in ``.parquet`` or ``.pq`` is read as Parquet (needs pyarrow, the optional
extra ``parquet``).
Features default to every other column (except ``time_column``) for
classification and regression, and to none for forecasting (the target's own
history; listed features become extra input channels). Rows are sorted by
``time_column`` when given. Class labels keep their order and names
(:mod:`lossbench.data.checks`: labels 1, 2, 10 are classes 0, 1, 2 named "1", "2",
"10"; text labels sorted). Every mistake is one line naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lossbench.data.base import Dataset, tabular_classification
from lossbench.data.checks import encode_classes
from lossbench.data.regression import random_split, scaled_regression
from lossbench.data.timeseries import chronological
from lossbench.errors import ConfigError
from lossbench.registry import TASKS

NAN_POLICIES = ("error", "drop")


PARQUET_SUFFIXES = (".parquet", ".pq")


def _read_parquet(file: Path, path: str) -> pd.DataFrame:
    """A Parquet file through pandas; its engine (pyarrow) is the optional extra ``parquet``."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"dataset.path={path}: reading Parquet needs pyarrow: pip install "
            "'lossbench[parquet]' (or pyarrow), or save the table as CSV"
        ) from None
    try:
        return pd.read_parquet(file)
    except Exception as exc:  # pyarrow's own errors: a damaged or non-Parquet file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"dataset.path={path}: not a readable Parquet file ({first})") from None


def _read(path: str) -> pd.DataFrame:
    file = Path(path).expanduser()
    if path in ("", "???"):
        raise ConfigError("dataset.path is required: dataset=csv dataset.path=FILE.csv")
    if not file.is_file():
        raise ConfigError(
            f"dataset.path={path}: no such file (give the path to a CSV or Parquet file)"
        )
    if file.suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet(file, path)
    try:
        return pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"dataset.path={path}: not a readable CSV file ({first})") from None


def _columns(
    df: pd.DataFrame,
    path: str,
    target: str,
    task: str,
    features: Sequence[str] | None,
    time_column: str | None,
) -> list[str]:
    known = ", ".join(map(str, df.columns))
    if task not in TASKS:
        raise ConfigError(f"dataset.task must be one of {', '.join(TASKS)}, got {task!r}")
    for key, col in (("target", target), ("time_column", time_column)):
        if col is not None and col not in df.columns:
            raise ConfigError(f"dataset.{key}={col} is not a column of {path}; columns: {known}")
    if features is None:
        if task == "forecast":
            return []
        return [c for c in df.columns if c not in (target, time_column)]
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise ConfigError(
            f"dataset.features: {', '.join(missing)} not columns of {path}; columns: {known}"
        )
    return [c for c in features if c != target]


def _handle_nans(df: pd.DataFrame, columns: list[str], path: str, nan: str) -> pd.DataFrame:
    if nan not in NAN_POLICIES:
        raise ConfigError(f"dataset.nan must be error or drop, got {nan!r}")
    bad = df[columns].isna()
    if not bad.to_numpy().any():
        return df
    if nan == "error":
        cols = ", ".join(c for c in columns if bad[c].any())
        raise ConfigError(
            f"{path}: {int(bad.any(axis=1).sum())} rows have missing values (columns: {cols}); "
            "set dataset.nan=drop to drop them"
        )
    return df[~bad.any(axis=1)]


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite(df: pd.DataFrame, columns: list[str], path: str) -> None:
    """Every numeric value is finite and fits float32 (what the model trains in): a CSV cell
    of ``inf`` or ``1e300`` is a data error naming the file, column and row, not a
    training run that "diverges"."""
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        values = df[col].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            line = int(df.index[row]) + 2  # the header is line 1
            raise ConfigError(
                f"{path}: column {col} has {int(bad.sum())} non-finite or out-of-range values "
                f"(first: {values[row]:g} on line {line}); values must be finite and "
                f"within +-{FLOAT32_MAX:.3g} (float32); fix or remove those rows"
            )


def csv(
    *,
    path: str = "",
    target: str = "",
    task: str = "classification",
    features: Sequence[str] | None = None,
    time_column: str | None = None,
    nan: str = "error",
    input_len: int = 24,
    horizon: int = 6,
    val_size: float = 0.2,
    test_size: float = 0.2,
    n_bins: int = 20,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """Load ``path`` and build splits for ``task`` (see the module docstring)."""
    if target in ("", "???"):
        raise ConfigError("dataset.target is required: the name of the target column")
    df = _read(path)
    feats = _columns(df, path, target, task, features, time_column)
    non_numeric = [c for c in feats if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise ConfigError(
            f"dataset.features: non-numeric columns {', '.join(non_numeric)} in {path}; "
            "encode them as numbers or leave them out with dataset.features=[...]"
        )
    if task != "classification" and not pd.api.types.is_numeric_dtype(df[target]):
        raise ConfigError(f"dataset.target={target} must be numeric for {task}")
    df = _handle_nans(df, [target, *feats, *([time_column] if time_column else [])], path, nan)
    _check_finite(df, feats if task == "classification" else [target, *feats], path)
    if time_column:
        df = df.assign(_t=pd.to_datetime(df[time_column], errors="coerce"))
        df = df.sort_values("_t" if df["_t"].notna().all() else time_column, kind="stable")
    if task != "forecast" and not feats:
        raise ConfigError(f"dataset.features is empty: {task} needs at least one feature column")
    x = df[feats].to_numpy(dtype=np.float64)
    if task == "classification":
        (y,), names = encode_classes([df[target].to_numpy()], [f"dataset.target={target}"])
        return tabular_classification(
            "csv", x, y, val_size, test_size, seed, info={"class_names": names}
        )
    y = df[target].to_numpy(dtype=np.float64)
    if task == "regression":
        train, val, test = random_split(x, y, val_size, test_size, seed)
        return scaled_regression(
            "csv", train, val, test, n_bins=n_bins, many_shot=many_shot, few_shot=few_shot
        )
    return chronological(
        "csv",
        np.column_stack([y, x]),
        input_len=input_len,
        horizon=horizon,
        val_size=val_size,
        test_size=test_size,
    )
