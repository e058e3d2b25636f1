"""Models: K independent members, one per training seed (the member-model contract,
:mod:`lossbench.models.contract`).

Every model maps inputs of shape ``[K, B, *sample_shape]`` to outputs
``[K, B, out_features]``; member ``k`` is initialised from seed ``seeds[k]`` only,
so a single-seed run (K=1) and member ``k`` of a multi-seed run are the same
model. A model config is one YAML file in ``configs/model/``. Its ``_target_`` is
either a hand-stacked model that takes ``seeds`` (``MLP``, ``Linear``, ``GRU``,
``CNN1d``: :mod:`~lossbench.models.stacked`) or any plain ``nn.Module`` (``CNN``,
``ResNet32``, a user's own), built once per seed and batched by
:class:`~lossbench.models.functional.PlainMembers` (torch.func vmap where exact, else
one member after another).

Why the built-in MLP/Linear/GRU/CNN1d stay hand-stacked (measured, CPU, one thread,
``benchmarks/bench_seeds.py`` and ``benchmarks/bench_vmap.py``): 5 seeds of the
default config train in 3.57 s hand-stacked, 5.33 s as a plain module under vmap and
5.38 s in a loop; per forward + backward step (K=5, batch 128) 1.7 ms hand-stacked,
3.5 ms vmap, 2.9 ms loop. vmap's per-call cost is not repaid on models this small.
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
