"""CIFAR-10-LT / CIFAR-100-LT on small archives the tests write in the exact CIFAR python
format; ``lossbench data download`` from a local file:// URL and offline; no network."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbench.data import cifar
from lossbench.data.cifar import ARCHIVES, cifar10_lt, cifar100_lt, load_cifar, md5sum
from lossbench.data.profiles import exponential_profile
from lossbench.errors import ConfigError
from tests.conftest import read_metrics

NAMES10 = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def _pixels(labels: np.ndarray, seed: int) -> np.ndarray:
    """uint8 [N, 3072]; each class shifts its own channel mean, so classes are learnable."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 128, size=(len(labels), 3, 1024)).astype(np.uint8)
    for c in np.unique(labels):
        x[labels == c, c % 3, :] += np.uint8(8 * (c % 10) + 20)
    return x.reshape(len(labels), 3072)


def _write(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def make_cifar10(root: Path, per_class: int = 12, test_per_class: int = 4) -> Path:
    """``root/cifar-10-batches-py`` with 5 training batches, a test batch and the meta file."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    y = np.tile(np.arange(10), per_class)
    x = _pixels(y, 0)
    for i, rows in enumerate(np.array_split(np.arange(len(y)), 5), start=1):
        cifar.write_batch(folder / f"data_batch_{i}", x[rows], y[rows], b"labels")
    yt = np.tile(np.arange(10), test_per_class)
    cifar.write_batch(folder / "test_batch", _pixels(yt, 1), yt, b"labels")
    _write(
        folder / "batches.meta",
        {
            b"label_names": [n.encode() for n in NAMES10],
            b"num_vis": 3072,
            b"num_cases_per_batch": 0,
        },
    )
    return folder


def make_cifar100(root: Path, per_class: int = 6, test_per_class: int = 2) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    y = np.tile(np.arange(100), per_class)
    _write(
        folder / "train",
        {b"data": _pixels(y, 0), b"fine_labels": y.tolist(), b"coarse_labels": (y // 5).tolist()},
    )
    yt = np.tile(np.arange(100), test_per_class)
    _write(folder / "test", {b"data": _pixels(yt, 1), b"fine_labels": yt.tolist()})
    _write(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    return folder


def test_reads_the_archive_format(tmp_path):
    folder = make_cifar10(tmp_path)
    x, y, xt, yt, names = load_cifar("cifar10", str(tmp_path))
    assert x.shape == (120, 3, 32, 32) and x.dtype == np.uint8 and len(y) == 120
    assert xt.shape == (40, 3, 32, 32) and names == NAMES10
    # row-major [N, 3072] = 1024 red, 1024 green, 1024 blue values of 32x32
    with open(folder / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    np.testing.assert_array_equal(x[0, 1].reshape(-1), raw[b"data"][0, 1024:2048])


def test_cifar10_lt_profile_splits_and_names(tmp_path):
    make_cifar10(tmp_path)
    data = cifar10_lt(
        root=str(tmp_path), n_max=10, imbalance_ratio=10, val_per_class=2, many_shot=5, few_shot=2
    )
    profile = exponential_profile(10, 10, 10.0)
    assert data.class_counts() == profile == [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]
    assert data.train.x.shape[1:] == (3, 32, 32) and data.train.x.dtype == torch.float32
    assert torch.bincount(data.val.y).tolist() == [2] * 10
    assert torch.bincount(data.test.y).tolist() == [4] * 10  # the official test batch
    assert data.class_names == NAMES10 and data.name == "cifar10_lt"
    assert data.info["shot_groups"] == {"many": [0, 1], "medium": [2, 3, 4, 5, 6], "few": [7, 8, 9]}
    # per-channel standardisation with training statistics only
    assert data.train.x.double().mean(dim=(0, 2, 3)).abs().max() < 1e-5
    assert (data.train.x.double().std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4
    again = cifar10_lt(
        root=str(tmp_path), n_max=10, imbalance_ratio=10, val_per_class=2, many_shot=5, few_shot=2
    )
    assert torch.equal(again.train.x, data.train.x)  # seeded
    other = cifar10_lt(root=str(tmp_path), n_max=10, imbalance_ratio=10, val_per_class=2, seed=1)
    assert not torch.equal(other.train.x, data.train.x)
    sub = cifar10_lt(root=str(tmp_path), n_max=10, val_per_class=2, test_per_class=3)
    assert torch.bincount(sub.test.y).tolist() == [3] * 10


def test_cifar100_lt(tmp_path):
    make_cifar100(tmp_path)
    data = cifar100_lt(root=str(tmp_path), n_max=5, imbalance_ratio=5, val_per_class=1)
    assert data.n_classes == 100 and data.class_counts()[0] == 5 and data.class_counts()[-1] == 1
    assert len(data.test) == 200 and data.class_names[:2] == ["c0", "c1"]


def test_too_few_images_and_missing_archive_are_one_line(tmp_path):
    make_cifar10(tmp_path)
    with pytest.raises(ConfigError, match=r"class 0 has 12 rows, fewer than val_per_class \+"):
        cifar10_lt(root=str(tmp_path), n_max=12, val_per_class=2)
    empty = tmp_path / "empty"
    with pytest.raises(ConfigError) as info:
        cifar100_lt(root=str(empty))
    assert str(info.value) == (
        f"dataset.root={empty}: no cifar-100-python/ (nor cifar-100-python.tar.gz) in {empty}; "
        f"fetch it with: lossbench data download cifar100 --root {empty}"
    )
    with pytest.raises(ConfigError, match=r"test set has 4 rows of class 0, fewer than"):
        cifar10_lt(root=str(tmp_path), n_max=10, val_per_class=2, test_per_class=5)


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    folder = make_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": print}, protocol=2))
    with pytest.raises(
        ConfigError, match="test_batch: not a CIFAR python batch .*refused global .*print"
    ):
        load_cifar("cifar10", str(tmp_path))


def test_wrong_batch_content(tmp_path):
    folder = make_cifar10(tmp_path)
    _write(folder / "test_batch", {b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4})
    with pytest.raises(ConfigError, match=r"b'data' must be uint8 \[N, 3072\]"):
        load_cifar("cifar10", str(tmp_path))
    (folder / "data_batch_3").unlink()
    with pytest.raises(ConfigError, match="data_batch_3: missing from .*lossbench data download"):
        load_cifar("cifar10", str(tmp_path))


def _tarball(tmp_path: Path, name: str) -> Path:
    """The dataset's .tar.gz as published: one top folder with the batches."""
    src = tmp_path / "src"
    (make_cifar10 if name == "cifar10" else make_cifar100)(src)
    out = tmp_path / ARCHIVES[name].filename
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src / ARCHIVES[name].folder, arcname=ARCHIVES[name].folder)
    return out


@pytest.fixture
def local_archive(tmp_path, monkeypatch):
    """cifar10's archive at a file:// URL with its md5 (the real ones are not fetched)."""
    tarball = _tarball(tmp_path, "cifar10")
    real = ARCHIVES["cifar10"]
    fake = type(real)(**{**real.__dict__, "url": tarball.as_uri(), "md5": md5sum(tarball)})
    monkeypatch.setitem(ARCHIVES, "cifar10", fake)
    return tarball


def test_download_command_checks_and_extracts(cli, tmp_path, local_archive):
    out = cli("data", "download", "cifar10", "--root", "store")
    assert "cifar10: ready in" in out.stdout
    assert (tmp_path / "store" / "cifar-10-batches-py" / "data_batch_5").is_file()
    again = cli("data", "download", "cifar10", "--root", "store")  # already there: no work
    assert again.returncode == 0
    x, *_ = load_cifar("cifar10", str(tmp_path / "store"))
    assert x.shape == (120, 3, 32, 32)


def test_a_tarball_in_root_is_extracted_at_run_time(tmp_path, local_archive):
    root = tmp_path / "root"
    root.mkdir()
    (root / local_archive.name).write_bytes(local_archive.read_bytes())
    x, *_ = load_cifar("cifar10", str(root))
    assert x.shape == (120, 3, 32, 32)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / local_archive.name).write_bytes(local_archive.read_bytes()[:-10])
    with pytest.raises(ConfigError, match="md5 .* is not the published"):
        load_cifar("cifar10", str(bad))


def test_download_offline_is_one_line_exit_2(cli, monkeypatch):
    real = ARCHIVES["cifar10"]
    # a closed local port: refused at once, the way an offline machine answers
    offline = type(real)(**{**real.__dict__, "url": "http://127.0.0.1:9/cifar-10-python.tar.gz"})
    monkeypatch.setitem(ARCHIVES, "cifar10", offline)
    out = cli("data", "download", "cifar10", "--root", "store", check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot download http://127.0.0.1:9/cifar-10-python.tar.gz ("
    )
    assert "copy it into" in lines[0]
    bad = cli("data", "download", "imagenet", check=False)
    assert bad.returncode == 2


def test_cifar10_lt_trains_one_epoch_through_the_cli(cli, tmp_path):
    make_cifar10(tmp_path / "data")
    cli(
        "run",
        "dataset=cifar10_lt",
        "dataset.root=data",
        "dataset.n_max=10",
        "dataset.imbalance_ratio=10",
        "dataset.val_per_class=2",
        "model=mlp",
        "trainer.epochs=1",
        "trainer.progress=false",
        "hydra.run.dir=job",
    )
    record = read_metrics(tmp_path / "job")
    assert record["status"] == "completed" and record["class_names"] == NAMES10
    assert record["class_counts"] == [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]
    missing = cli("run", "dataset=cifar10_lt", "dataset.root=nowhere", check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "error: dataset.root=nowhere: no cifar-10-batches-py/ (nor cifar-10-python.tar.gz) in "
        "nowhere; fetch it with: lossbench data download cifar10 --root nowhere"
    ]


def test_yaml_root_is_the_download_default():
    import yaml

    from lossbench.registry import config_dir

    for name in ("cifar10_lt", "cifar100_lt"):
        node = yaml.safe_load((config_dir() / "dataset" / f"{name}.yaml").read_text())
        assert node["root"] == cifar.DEFAULT_ROOT


def test_write_batch_round_trips(tmp_path):
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3, 32, 32)
    cifar.write_batch(tmp_path / "b", images, np.array([3, 1]), b"labels")
    raw = pickle.load(io.BytesIO((tmp_path / "b").read_bytes()), encoding="bytes")
    assert raw[b"labels"] == [3, 1] and raw[b"data"].shape == (2, 3072)
