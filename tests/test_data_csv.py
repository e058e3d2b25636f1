"""The user's CSV: each task loads, and each mistake is one clear line naming the key."""

from __future__ import annotations

import numpy as np
import pytest

from lossbench.data.user_csv import csv
from lossbench.errors import ConfigError


def _write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = ["a,b,label,value"]
    for i in range(n):
        rows.append(f"{rng.normal():.4f},{rng.normal():.4f},{'yes' if i % 3 else 'no'},{i * 0.5}")
    return "\n".join(rows) + "\n"


def test_classification_regression_forecast_load(tmp_path):
    path = _write(tmp_path, _table())
    clf = csv(path=path, target="label", task="classification", features=["a", "b"])
    assert clf.n_classes == 2 and clf.class_names == ["no", "yes"]
    assert clf.train.x.shape[1] == 2 and len(clf.train) + len(clf.val) + len(clf.test) == 60
    reg = csv(path=path, target="value", task="regression", features=["a", "b"])
    assert reg.task == "regression" and reg.train.y.ndim == 1
    fc = csv(path=path, target="value", task="forecast", input_len=4, horizon=2)
    assert fc.train.x.shape[1:] == (4, 1) and fc.train.y.shape[1:] == (2,)
    multi = csv(path=path, target="value", task="forecast", features=["a"], input_len=4, horizon=2)
    assert multi.train.x.shape[1:] == (4, 2)


def test_time_column_sorts_rows(tmp_path):
    text = "t,v\n" + "\n".join(f"2020-01-{d:02d},{d}" for d in (5, 1, 3, 2, 4, 6, 8, 7, 9, 10))
    data = csv(
        path=_write(tmp_path, text + "\n"),
        target="v",
        task="forecast",
        time_column="t",
        input_len=2,
        horizon=1,
        val_size=0.3,
        test_size=0.3,
    )
    x = data.train.x[0, :, 0].double() * data.info["target_std"] + data.info["target_mean"]
    assert x.round().tolist() == [1.0, 2.0]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset.path=.*nope.csv: no such file"):
        csv(path=str(tmp_path / "nope.csv"), target="y")
    with pytest.raises(ConfigError, match="dataset.path is required"):
        csv(path="???", target="y")


def test_missing_columns(tmp_path):
    path = _write(tmp_path, _table())
    with pytest.raises(ConfigError, match=r"dataset.target=nope is not a column .*columns: a, b"):
        csv(path=path, target="nope")
    with pytest.raises(ConfigError, match="dataset.features: zz not columns"):
        csv(path=path, target="label", features=["a", "zz"])
    with pytest.raises(ConfigError, match="dataset.time_column=when is not a column"):
        csv(path=path, target="value", task="forecast", time_column="when")


def test_non_numeric_features_are_named(tmp_path):
    path = _write(tmp_path, _table())
    with pytest.raises(ConfigError, match="non-numeric columns label in"):
        csv(path=path, target="value", task="regression")


def test_nans_error_or_drop(tmp_path):
    path = _write(
        tmp_path, "a,b,y\n1,2,0\n,3,1\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(30))
    )
    with pytest.raises(ConfigError, match=r"1 rows have missing values \(columns: a\).*nan=drop"):
        csv(path=path, target="y")
    data = csv(path=path, target="y", nan="drop")
    assert len(data.train) + len(data.val) + len(data.test) == 31
    with pytest.raises(ConfigError, match="dataset.nan must be error or drop"):
        csv(path=path, target="y", nan="fill")


def test_single_class_and_bad_task(tmp_path):
    path = _write(tmp_path, "a,y\n" + "".join(f"{i},same\n" for i in range(10)))
    with pytest.raises(ConfigError, match=r"dataset.target=y has a single class \(same\)"):
        csv(path=path, target="y")
    with pytest.raises(ConfigError, match="dataset.task must be one of"):
        csv(path=path, target="y", task="ranking")
    with pytest.raises(ConfigError, match="dataset.target=y must be numeric for regression"):
        csv(path=path, target="y", task="regression")


def test_parquet_file_reads_like_the_csv(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    path = _write(tmp_path, _table())
    pd.read_csv(path).to_parquet(tmp_path / "d.parquet")
    a = csv(path=path, target="label", features=["a", "b"])
    b = csv(path=str(tmp_path / "d.parquet"), target="label", features=["a", "b"])
    assert b.class_names == a.class_names == ["no", "yes"]
    assert all(
        np.array_equal(getattr(a, s).x.numpy(), getattr(b, s).x.numpy())
        for s in ("train", "val", "test")
    )
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ConfigError, match=r"bad.parquet: not a readable Parquet file"):
        csv(path=str(tmp_path / "bad.parquet"), target="label")


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(ConfigError, match=r"needs pyarrow: pip install 'lossbench\[parquet\]'"):
        csv(path=str(tmp_path / "d.parquet"), target="label")
