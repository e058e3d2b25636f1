"""Models: stacks of K independent members, one per training seed.

Every model maps inputs of shape ``[K, B, *features]`` to outputs
``[K, B, out_features]``; member ``k`` is initialised from seed ``seeds[k]`` only,
so a single-seed run (K=1) and member ``k`` of a multi-seed run are the same
model. A model config is one YAML file in ``configs/model/`` whose
``_target_`` class takes ``in_features``, ``out_features`` and ``seeds``.
"""

from lossbench.models.contract import Head, MemberModel
from lossbench.models.functional import PlainMembers
from lossbench.models.mlp import MLP, Linear
from lossbench.models.sequence import GRU, CNN1d
from lossbench.models.stacked import StackedLinear, StackedModel
from lossbench.models.vision import CNN, ResNet32

__all__ = [
    "CNN",
    "CNN1d",
    "GRU",
    "Head",
    "MLP",
    "Linear",
    "MemberModel",
    "PlainMembers",
    "ResNet32",
    "StackedLinear",
    "StackedModel",
]
