"""The user's arrays (``dataset=npz``, ``npy``): layouts, sample shapes, scaling fitted on
train only, class order and names, and each mistake one line naming the file and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lossbench.data.arrays import npy, npz
from lossbench.data.user_csv import csv
from lossbench.errors import ConfigError


def _images(n_per_class=(30, 20, 10), shape=(3, 4, 5), seed=0, labels=None):
    """Random uint8 'images' [N, C, H, W]; the class shifts the mean of channel 0."""
    rng = np.random.default_rng(seed)
    labels = labels if labels is not None else list(range(len(n_per_class)))
    y = np.repeat(np.asarray(labels), n_per_class)
    x = rng.integers(0, 200, size=(len(y), *shape)).astype(np.uint8)
    x[:, 0] += (np.searchsorted(np.unique(labels), y) * 10).astype(np.uint8)[:, None, None]
    return x, y


def _save(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_npz_images_keep_shape_and_numeric_class_order(tmp_path):
    x, y = _images(labels=[1, 2, 10])
    data = npz(path=_save(tmp_path, x=x, y=y))
    assert data.task == "classification" and data.n_classes == 3
    assert data.train.x.shape[1:] == (3, 4, 5) and data.train.x.dtype == torch.float32
    assert data.class_names == ["1", "2", "10"]  # numeric order, not "1" < "10" < "2"
    assert sum(len(s) for s in (data.train, data.val, data.test)) == len(y)
    # stratified: each class in each split, in proportion
    assert data.class_counts() == [18, 12, 6]
    assert data.in_features == 60 and data.info["scale"] == "channel"


def test_per_channel_scaling_is_fitted_on_train_only(tmp_path):
    x, y = _images()
    tr, va, te = np.arange(0, 60, 2), np.arange(1, 60, 4), np.arange(3, 60, 4)
    data = npz(
        path=_save(
            tmp_path,
            x_train=x[tr],
            y_train=y[tr],
            x_val=x[va],
            y_val=y[va],
            x_test=x[te],
            y_test=y[te],
        )
    )
    scaled = data.train.x.double()
    assert scaled.mean(dim=(0, 2, 3)).abs().max() < 1e-5
    assert (scaled.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-5
    # validation and test use the training rows' statistics (numpy, by hand)
    m = x[tr].astype(np.float64).mean(axis=(0, 2, 3))[:, None, None]
    s = x[tr].astype(np.float64).std(axis=(0, 2, 3))[:, None, None]
    np.testing.assert_allclose(data.test.x.numpy(), (x[te] - m) / s, atol=1e-5)
    np.testing.assert_allclose(data.val.x.numpy(), (x[va] - m) / s, atol=1e-5)
    assert abs(float(data.test.x.double().mean())) > 1e-3  # not refitted on test


def test_feature_scaling_and_scale_none(tmp_path):
    x, y = _images()
    feat = npz(path=_save(tmp_path, x=x, y=y), scale="feature")
    tr = feat.train.x.double().flatten(1)
    assert tr.mean(0).abs().max() < 1e-5 and (tr.std(0, unbiased=False) - 1).abs().max() < 1e-4
    raw = npz(path=_save(tmp_path, x=x, y=y), scale="none")
    assert raw.train.x.max() > 100  # pixel values as they are
    with pytest.raises(ConfigError, match="dataset.scale must be one of auto, feature"):
        npz(path=_save(tmp_path, x=x, y=y), scale="pixels")
    flat = np.zeros((30, 4)), np.arange(30) % 2
    with pytest.raises(ConfigError, match="dataset.scale=channel needs samples with a channel"):
        npz(path=_save(tmp_path, x=flat[0], y=flat[1]), scale="channel")


def test_predefined_splits_are_kept(tmp_path):
    x, y = _images()
    a, b = np.arange(0, 60, 2), np.arange(1, 60, 2)
    arrays = dict(
        x_train=x[a], y_train=y[a], x_val=x[b][:10], y_val=y[b][:10], x_test=x[b], y_test=y[b]
    )
    data = npz(path=_save(tmp_path, **arrays))
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 30)
    assert data.train.y.tolist() == y[a].tolist()
    # without x_val: val_size of the training rows, stratified
    no_val = {k: v for k, v in arrays.items() if not k.endswith("_val")}
    held = npz(path=_save(tmp_path, **no_val), val_size=0.2)
    assert (len(held.train), len(held.val), len(held.test)) == (24, 6, 30)


def test_class_names_from_file_and_config(tmp_path):
    x, y = _images(labels=[0, 1, 2])
    names = np.array(["cat", "dog", "emu"])
    assert npz(path=_save(tmp_path, x=x, y=y, class_names=names)).class_names == names.tolist()
    over = npz(path=_save(tmp_path, x=x, y=y), class_names=["a", "b", "c"])
    assert over.class_names == ["a", "b", "c"]
    text = npz(path=_save(tmp_path, x=x, y=names[y]))
    assert text.class_names == ["cat", "dog", "emu"] and text.class_counts() == [18, 12, 6]
    with pytest.raises(ConfigError, match="class_names has 2 names but the labels run from 0 to 2"):
        npz(path=_save(tmp_path, x=x, y=y), class_names=["a", "b"])


def test_regression_from_float_targets(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x[:, 0] * 3.0 + 1.0
    data = npz(path=_save(tmp_path, x=x, y=y))
    assert data.task == "regression" and data.class_names is None
    assert data.train.y.dtype == torch.float32 and data.train.y.ndim == 1
    assert abs(float(data.train.y.double().mean())) < 1e-6
    assert "target_regions" in data.info
    forced = npz(path=_save(tmp_path, x=x, y=(y > 1).astype(np.int64)), task="regression")
    assert forced.task == "regression"


def test_npy_pair(tmp_path):
    x, y = _images()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    data = npy(x=str(tmp_path / "x.npy"), y=str(tmp_path / "y.npy"))
    assert data.train.x.shape[1:] == (3, 4, 5) and data.n_classes == 3
    with pytest.raises(ConfigError, match=r"dataset.y=.*nope.npy: no such file"):
        npy(x=str(tmp_path / "x.npy"), y=str(tmp_path / "nope.npy"))


def test_long_tailed_user_data_gets_shot_groups(tmp_path):
    x, y = _images(n_per_class=(400, 100, 30, 12), shape=(2, 2, 2))
    data = npz(path=_save(tmp_path, x=x, y=y), val_size=0.1, test_size=0.1)
    assert data.info["shot_groups"] == {"many": [0], "medium": [1, 2], "few": [3]}


BAD = [
    ({"x": np.zeros((10, 2)), "labels": np.zeros(10)}, "unknown array labels; expected x and y"),
    ({"x": np.zeros((10, 2))}, "has no array y: x and y go together"),
    (
        {"x": np.zeros((10, 2)), "y": np.zeros(10), "x_train": np.zeros((10, 2))},
        "has both x and x_train",
    ),
    ({"x_train": np.zeros((10, 2)), "y_train": np.zeros(10)}, "has no array x_test"),
    ({"x": np.zeros((10, 2)), "y": np.arange(9) % 2}, "x has 10 rows but .*y has 9"),
    ({"x": np.zeros(10), "y": np.arange(10) % 2}, r"x has shape \[10\]; inputs need a row axis"),
    ({"x": np.array(["a"] * 10)[:, None], "y": np.arange(10) % 2}, "x has dtype <U1; inputs must"),
    (
        {"x": np.where(np.eye(10, 3) > 0, np.nan, 0.0), "y": np.arange(10) % 2},
        r"x has 3 NaN, infinite or out-of-float32 values \(first: nan at row 0\)",
    ),
    (
        {"x": np.full((10, 2), np.inf), "y": np.arange(10) % 2},
        "x has 20 NaN, infinite or out-of-float32 values",
    ),
    ({"x": np.full((10, 2), 1e300), "y": np.arange(10) % 2}, "out-of-float32"),
    ({"x": np.zeros((10, 2)), "y": np.zeros(10, dtype=int)}, r"has a single class \(0\)"),
    (
        {"x": np.zeros((12, 2)), "y": np.r_[np.zeros(10, int), 1, 1]},
        "class 1 has 2 rows; each class needs at least 3",
    ),
    (
        {"x": np.zeros((10, 2)), "y": np.eye(10, 2, dtype=int)},
        r"y has shape \[10, 2\]; classification labels must be one per row",
    ),
    (
        {
            "x_train": np.zeros((10, 2)),
            "y_train": np.arange(10) % 2,
            "x_test": np.zeros((4, 2)),
            "y_test": np.arange(4) % 3,
        },
        "class 2 appears in .*y_test but not in .*y_train",
    ),
    (
        {
            "x_train": np.zeros((10, 2)),
            "y_train": np.arange(10) % 2,
            "x_test": np.zeros((4, 3)),
            "y_test": np.arange(4) % 2,
        },
        r"x_test has samples of shape \[3\] but x_train has \[2\]",
    ),
    (
        {"x": np.zeros((10, 2)), "y": np.arange(10) % 2, "class_names": np.array([{}, 1])},
        "holds Python objects",
    ),
    (
        {"x": np.zeros((9, 2)), "y": np.arange(9) % 3},
        "too few rows per class for a stratified split",
    ),
]


@pytest.mark.parametrize(("arrays", "message"), BAD)
def test_mistakes_are_one_line_naming_the_file(tmp_path, arrays, message):
    path = str(tmp_path / "bad.npz")
    _savez(path, arrays)
    with pytest.raises(ConfigError, match=message) as info:
        npz(path=path, task="classification" if "y" in arrays else "auto")
    assert "\n" not in str(info.value)


def _savez(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_float_labels_for_classification(tmp_path):
    path = _save(tmp_path, x=np.zeros((10, 2)), y=np.linspace(0, 1, 10))
    with pytest.raises(ConfigError, match="holds float labels such as 0.111111: classification"):
        npz(path=path, task="classification")
    integral = npz(
        path=_save(tmp_path, x=np.ones((30, 2)), y=(np.arange(30) % 2) * 1.0), task="classification"
    )
    assert integral.class_names == ["0", "1"]


def test_not_an_npz_file(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset.path=.*missing.npz: no such file"):
        npz(path=str(tmp_path / "missing.npz"))
    path = tmp_path / "bad.npz"
    path.write_text("hello")
    with pytest.raises(ConfigError, match="bad.npz: not a readable .npz file"):
        npz(path=str(path))
    with pytest.raises(ConfigError, match="dataset.path is required"):
        npz(path="???")
    with pytest.raises(ConfigError, match="dataset.task must be one of auto, classification"):
        npz(path=_save(tmp_path, x=np.zeros((10, 2)), y=np.arange(10) % 2), task="forecast")


def test_csv_labels_keep_numeric_order_and_names(tmp_path):
    # feature a is the label itself: class index i must hold only the rows of its label
    rows = ["a,label"] + [f"{(1, 2, 10)[i % 3]},{(1, 2, 10)[i % 3]}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    data = csv(path=str(tmp_path / "d.csv"), target="label")
    assert data.class_names == ["1", "2", "10"]
    a = data.train.x[:, 0]
    means = [float(a[data.train.y == c].mean()) for c in range(3)]
    assert means == sorted(means) and all(
        float(a[data.train.y == c].std()) < 1e-6 for c in range(3)
    )


def test_npy_mistakes_name_the_key(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 2)))
    np.save(tmp_path / "y.npy", np.arange(9) % 2)
    x, y = str(tmp_path / "x.npy"), str(tmp_path / "y.npy")
    with pytest.raises(ConfigError, match=r"dataset.x=.*x.npy has 10 rows but dataset.y=.*y.npy"):
        npy(x=x, y=y)
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 2)))
    with pytest.raises(ConfigError, match=r"dataset.x=.*a.npz: an .npz archive, not one .npy"):
        npy(x=str(tmp_path / "a.npz"), y=y)
