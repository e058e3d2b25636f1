"""Building the dataset of a job, including ``dataset=custom dataset._target_=pkg.fn``.

A user's function (found on ``sys.path`` or in the current directory, like a
loss) may return

* a lossbench :class:`~lossbench.data.Dataset` (used as it is),
* a pair ``(x, y)`` of arrays (numpy, torch or anything ``np.asarray`` takes), or
* a dict of arrays in a layout of :mod:`lossbench.data.arrays` (``x``/``y``, or
  ``x_train``/``y_train``/``x_val``/``y_val``/``x_test``/``y_test``, optional
  ``class_names``).

Arrays are split, checked and standardised by :func:`lossbench.data.arrays.from_arrays`
with the keys of :data:`SPLIT_KEYS` (``task``, ``val_size``, ``test_size``, ``seed``,
``scale``, ``class_names``, ``n_bins``, ``many_shot``, ``few_shot``). The function
receives its own parameters (``+dataset.NAME=VALUE``) and, of these keys, only those
its signature names: a generator that takes ``seed`` gets ``dataset.seed``.
"""

from __future__ import annotations

import inspect
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.build import build, import_target
from lossbench.data.arrays import from_arrays
from lossbench.data.base import Dataset
from lossbench.errors import ConfigError

# What lossbench does with returned arrays; configs/dataset/custom.yaml sets them.
SPLIT_KEYS = (
    "task",
    "val_size",
    "test_size",
    "seed",
    "scale",
    "class_names",
    "n_bins",
    "many_shot",
    "few_shot",
)
RETURNS = (
    "return (x, y), a dict of arrays (x/y or x_train/y_train/x_val/y_val/x_test/y_test) "
    "or a lossbench Dataset"
)


def _accepts(target: Any) -> tuple[set[str], bool]:
    """The parameter names of ``target`` and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def build_dataset(node: DictConfig | dict) -> Dataset:
    """The dataset ``node`` (the ``dataset`` config) describes: lossbench's built-in sets and
    a user's function alike (see the module docstring)."""
    params = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    target_path = params.get("_target_")
    target = import_target("dataset", target_path)
    names, open_kwargs = _accepts(target)
    split_args = {k: params[k] for k in SPLIT_KEYS if k in params}
    call = {k: v for k, v in params.items() if k not in SPLIT_KEYS or k in names or open_kwargs}
    result = build("dataset", call)
    if isinstance(result, Dataset):
        return result
    source = f"dataset._target_={target_path}"
    if isinstance(result, tuple | list) and len(result) == 2:
        arrays = {"x": result[0], "y": result[1]}
    elif isinstance(result, dict):
        arrays = result
    else:
        raise ConfigError(f"{source} returned {type(result).__name__}; {RETURNS}")
    if not all(isinstance(k, str) for k in arrays):
        raise ConfigError(f"{source} returned a dict with non-text keys; {RETURNS}")
    return from_arrays(str(target_path).rsplit(".", 1)[-1], source, arrays, **split_args)
