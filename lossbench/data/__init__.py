"""Datasets: every builder returns a :class:`Dataset` of in-memory tensor splits.

A dataset config is one YAML file in ``configs/dataset/`` whose ``_target_`` is a
function returning a ``Dataset``. Splits are fixed by the dataset's own ``seed``
(not the training seed), so runs over several training seeds see the same data.
"""

from lossbench.data.base import Dataset, Split, stratified_split

__all__ = ["Dataset", "Split", "stratified_split"]
