"""CIFAR-10-LT and CIFAR-100-LT (Cao et al. 2019, LDAM) from the standard CIFAR python archives.

The archives (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html) are read
from a local ``dataset.root``: ``cifar-10-batches-py/`` (``data_batch_1..5``,
``test_batch``, ``batches.meta``) and ``cifar-100-python/`` (``train``, ``test``,
``meta``), each file a pickled dict with ``b"data"`` (uint8 ``[N, 3072]``, the 1024
red, then green, then blue pixels of a 32x32 image) and ``b"labels"`` /
``b"fine_labels"``. A downloaded ``.tar.gz`` left in ``root`` is extracted on first
use; ``lossbench data download cifar10 --root DIR`` fetches it (see
:mod:`lossbench.data.download`). Nothing is downloaded at run time.

Training follows the exponential profile n_i = n_max * (1/ratio)^(i/(C-1)) of Cao
et al. over the official training images, drawn per class with ``dataset.seed`` as the
other long-tailed sets (:func:`lossbench.data.longtail.long_tailed`); a balanced
validation split of ``val_per_class`` images per class is held out of the same
training images first, so ``n_max + val_per_class`` must not exceed the images per
class (5000 for CIFAR-10, 500 for CIFAR-100). The defaults keep 100 / 10 images of
each class for validation and lower n_max by as much (4900 / 490 instead of the
paper's 5000 / 500; the ratio and shape of the profile are the paper's). The test
split is the official test batch (balanced: 1000 / 100 per class), or
``test_per_class`` of each class. Images are ``[3, 32, 32]``, standardised per
channel with training statistics.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossbench.data.base import Dataset
from lossbench.data.longtail import long_tailed
from lossbench.errors import ConfigError

DEFAULT_ROOT = "~/.cache/lossbench/data"


@dataclass(frozen=True)
class Archive:
    """One CIFAR archive: where it is published and what it holds."""

    name: str  # the name ``lossbench data download`` takes
    url: str
    md5: str
    folder: str  # the directory the archive extracts to
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    meta_file: str
    names_key: bytes
    n_classes: int

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


ARCHIVES: dict[str, Archive] = {
    "cifar10": Archive(
        "cifar10",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        b"labels",
        "batches.meta",
        b"label_names",
        10,
    ),
    "cifar100": Archive(
        "cifar100",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        "cifar-100-python",
        ("train",),
        ("test",),
        b"fine_labels",
        "meta",
        b"fine_label_names",
        100,
    ),
}

# The only globals a CIFAR batch may name: a numpy array and its dtype, and the codec that
# Python 3's protocol-2 pickles use for bytes. Anything else in a pickle (which can run
# code when loaded) is refused.
_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


class _BatchUnpickler(pickle.Unpickler):
    """Loads numpy arrays and plain containers only (see ``_ALLOWED``)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        old, new = ("numpy.core", "numpy._core") if _NUMPY2 else ("numpy._core", "numpy.core")
        if module.startswith(old + "."):
            module = new + module[len(old) :]  # the archives were written by numpy 1
        return super().find_class(module, name)


def read_batch(path: Path) -> dict[bytes, Any]:
    """One pickled CIFAR batch (keys are bytes, as the Python 2 originals load)."""
    try:
        with open(path, "rb") as f:
            data = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a CIFAR python batch ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a CIFAR python batch (a {type(data).__name__})")
    return data


def _images(batch: dict[bytes, Any], archive: Archive, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if b"data" not in batch or archive.label_key not in batch:
        raise ConfigError(
            f"{path}: a CIFAR batch needs b'data' and {archive.label_key!r}; found {sorted(batch)}"
        )
    x = np.asarray(batch[b"data"])
    y = np.asarray(batch[archive.label_key], dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or len(x) != len(y):
        raise ConfigError(
            f"{path}: b'data' must be uint8 [N, 3072] with one label per row, got "
            f"{x.dtype} {list(x.shape)} and {len(y)} labels"
        )
    if len(y) and (y.min() < 0 or y.max() >= archive.n_classes):
        raise ConfigError(f"{path}: labels outside 0..{archive.n_classes - 1}")
    return x.reshape(-1, 3, 32, 32), y


def missing_message(archive: Archive, root: Path, given: str) -> str:
    """The one line for an archive that is not in ``root``."""
    return (
        f"dataset.root={given}: no {archive.folder}/ (nor {archive.filename}) in {root}; "
        f"fetch it with: lossbench data download {archive.name} --root {given}"
    )


def locate(archive: Archive, root: str) -> Path:
    """The extracted folder of ``archive`` under ``root``; a downloaded ``.tar.gz`` there is
    checked (md5) and extracted first."""
    base = Path(str(root)).expanduser()
    folder = base / archive.folder
    if folder.is_dir():
        return folder
    tarball = base / archive.filename
    if tarball.is_file():
        from lossbench.data.download import extract, verify

        verify(tarball, archive)
        extract(tarball, base)
        if folder.is_dir():
            return folder
    raise ConfigError(missing_message(archive, base, str(root)))


def load_cifar(
    name: str, root: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(x_train, y_train, x_test, y_test, class_names)`` of archive ``name`` under ``root``;
    images uint8 ``[N, 3, 32, 32]``."""
    archive = ARCHIVES[name]
    folder = locate(archive, root)
    parts = {}
    for split, files in (("train", archive.train_files), ("test", archive.test_files)):
        xs, ys = [], []
        for file in files:
            path = folder / file
            if not path.is_file():
                raise ConfigError(
                    f"{path}: missing from {folder}; the archive is incomplete: fetch it again "
                    f"with: lossbench data download {archive.name} --root {root}"
                )
            x, y = _images(read_batch(path), archive, path)
            xs.append(x)
            ys.append(y)
        parts[split] = (np.concatenate(xs), np.concatenate(ys))
    names = [str(c) for c in range(archive.n_classes)]
    meta = folder / archive.meta_file
    if meta.is_file():
        found = read_batch(meta).get(archive.names_key)
        if found is not None and len(found) == archive.n_classes:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in found]
    return (*parts["train"], *parts["test"], names)


def _cifar_lt(
    name: str,
    *,
    root: str,
    n_max: int,
    imbalance_ratio: float,
    val_per_class: int,
    test_per_class: int | None,
    many_shot: int,
    few_shot: int,
    seed: int,
) -> Dataset:
    x, y, x_test, y_test, names = load_cifar(name, root)
    return long_tailed(
        f"{name}_lt",
        x,
        y,
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
        test=(x_test, y_test),
        scale="channel",
        class_names=names,
    )


def cifar10_lt(
    *,
    root: str = DEFAULT_ROOT,
    n_max: int = 4900,
    imbalance_ratio: float = 100.0,
    val_per_class: int = 100,
    test_per_class: int | None = None,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """CIFAR-10-LT: 10 classes, training n_max -> n_max/ratio images per class (module doc)."""
    return _cifar_lt(
        "cifar10",
        root=root,
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
    )


def cifar100_lt(
    *,
    root: str = DEFAULT_ROOT,
    n_max: int = 490,
    imbalance_ratio: float = 100.0,
    val_per_class: int = 10,
    test_per_class: int | None = None,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """CIFAR-100-LT: 100 (fine) classes, training n_max -> n_max/ratio per class (module doc)."""
    return _cifar_lt(
        "cifar100",
        root=root,
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
    )


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray, label_key: bytes) -> None:
    """Write a batch in the archive's format (for tests and for converting own images):
    a pickled dict with bytes keys, ``b"data"`` uint8 ``[N, 3072]``."""
    data = {
        b"batch_label": path.name.encode(),
        label_key: [int(v) for v in labels],
        b"data": np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.uint8),
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    buf = io.BytesIO()
    pickle.dump(data, buf, protocol=4)
    path.write_bytes(buf.getvalue())


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
