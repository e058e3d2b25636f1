"""Samplers: which training rows each member sees in one epoch, and how often.

A sampler gives one member's epoch order, ``epoch_order(labels, batch_size, epoch,
epochs, gen) -> LongTensor[M]`` (indices into the member's training split; the trainer
slices it into mini-batches of ``batch_size``; indices are CPU tensors, whatever the
device of ``labels``). Each member draws from its own stream
(``gen``: :func:`lossbench.seeding.generator` of its seed, stream ``"order"``), so a
member trained next to others sees the order it sees alone. ``M`` must be the same for
every member of one model (:meth:`Sampler.epoch_length`; splits whose lengths differ
train apart, see :func:`same_epoch_length`).

Re-sampling is the cheapest fix for class imbalance (Buda et al. 2018) and half of
decoupled training (Kang et al. 2020, ICLR, "Decoupling representation and classifier
for long-tailed recognition", sec. 3): class ``c`` is drawn with probability
``p_c ∝ n_c^q`` (``q = 1`` instance-balanced, ``q = 0`` class-balanced, ``q = ½``
square-root), or progressively ``p_c(t) = (1 - t/T) p_c^IB + (t/T) p_c^CB``. Random
over-/under-sampling and SMOTE (Chawla et al. 2002, through imbalanced-learn) change
the training set once instead (a fixed resampled epoch).

A sampler is built from the ``sampler`` config group (``configs/sampler/*.yaml``, its
``_target_`` a class here or the user's own): one instance per member, so a sampler
may keep state (the fixed set of :class:`OverSampler`) for its member only. Adding
a sampler is one class and one YAML file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from lossbench.errors import ConfigError


class Sampler:
    """One member's order of training rows per epoch (see the module docstring).

    ``permutes``: every epoch order is a permutation of all ``N`` rows, so full-batch
    training (``trainer.batch_size=full``) may use the rows in their stored order, as
    training without a sampler always has. A sampler that draws rows with replacement
    or drops rows sets it False; full-batch training then takes its whole epoch order
    as one batch (one step of ``M`` rows, duplicates included).
    """

    permutes: ClassVar[bool] = False

    def epoch_order(
        self,
        labels: torch.Tensor,
        batch_size: int,
        epoch: int,
        epochs: int,
        gen: torch.Generator,
    ) -> torch.Tensor:
        """Indices into the training split for ``epoch`` (1-based of ``epochs``)."""
        raise NotImplementedError

    def epoch_length(self, labels: torch.Tensor) -> int:
        """``M``, the length of every epoch order for training labels ``labels``."""
        return int(labels.shape[0])


class NoSampler(Sampler):
    """Every row once per epoch in a random order: plain mini-batch SGD (the default).

    Exactly the order lossbench always drew (``randperm`` from the member's stream),
    so results without a sampler are bitwise those of earlier versions.
    """

    permutes = True

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        return torch.randperm(int(labels.shape[0]), generator=gen)


def class_counts(labels: torch.Tensor) -> torch.Tensor:
    """Rows per class index, ``[C]`` with ``C = max label + 1``."""
    return torch.bincount(labels)


def _draw(labels: torch.Tensor, class_p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``N`` rows drawn with replacement: class ``c`` with probability ``class_p[c]``, then a
    row of class ``c`` uniformly (per-row weight ``p_c / n_c``, Kang et al. 2020 sec. 3)."""
    labels = labels.cpu()  # the member's stream is a CPU generator
    counts = class_counts(labels).to(torch.float64)
    present = counts > 0
    weight_of_class = torch.zeros_like(counts)
    weight_of_class[present] = class_p.to(torch.float64)[present] / counts[present]
    weights = weight_of_class[labels]
    return torch.multinomial(weights, int(labels.shape[0]), replacement=True, generator=gen)


def power_prior(labels: torch.Tensor, power: float) -> torch.Tensor:
    """``p_c ∝ n_c^power`` over the classes present (absent classes 0)."""
    counts = class_counts(labels.cpu()).to(torch.float64)
    p = torch.where(counts > 0, counts.clamp(min=1.0) ** power, torch.zeros_like(counts))
    return p / p.sum()


class PowerSampler(Sampler):
    """``N`` rows per epoch drawn with replacement, class ``c`` with probability
    ``p_c ∝ n_c^power`` (Kang et al. 2020 eq. 1): ``power = 0`` class-balanced (every
    class equally likely), ``½`` square-root, ``1`` instance-balanced."""

    def __init__(self, power: float = 0.0) -> None:
        if not 0.0 <= power <= 1.0:
            raise ValueError(f"power must be in [0, 1], got {power}")
        self.power = float(power)

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        return _draw(labels, power_prior(labels, self.power), gen)


class ProgressiveSampler(Sampler):
    """From instance- to class-balanced over training (Kang et al. 2020 eq. 2):
    ``p_c(t) = (1 - t/T) p_c^IB + (t/T) p_c^CB`` with ``t = epoch - 1`` (0-based) and
    ``T = epochs``; ``N`` rows with replacement per epoch."""

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        t = (epoch - 1) / epochs
        p = (1.0 - t) * power_prior(labels, 1.0) + t * power_prior(labels, 0.0)
        return _draw(labels, p, gen)


class _FixedSet(Sampler):
    """A training set re-sampled once (on the first epoch, from the member's stream),
    then every epoch a random permutation of it (as imbalanced-learn's samplers, which
    re-sample a dataset once)."""

    def __init__(self) -> None:
        self._labels: torch.Tensor | None = None
        self._rows: torch.Tensor | None = None

    def _resampled(self, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        if self._rows is None or self._labels is not labels:
            self._labels, self._rows = labels, self._resampled(labels.cpu(), gen)
        return self._rows[torch.randperm(int(self._rows.shape[0]), generator=gen)]


class OverSampler(_FixedSet):
    """Random over-sampling: every class topped up to the largest class's count by rows
    of its own drawn with replacement (imbalanced-learn's ``RandomOverSampler``);
    ``M = C · max_c n_c``."""

    def _resampled(self, labels, gen):
        counts = class_counts(labels)
        top = int(counts.max())
        parts = []
        for c in range(counts.numel()):
            rows = torch.nonzero(labels == c).flatten()
            if rows.numel() == 0:
                continue
            extra = torch.randint(rows.numel(), (top - rows.numel(),), generator=gen)
            parts += [rows, rows[extra]]
        return torch.cat(parts)

    def epoch_length(self, labels):  # noqa: D102
        counts = class_counts(labels)
        return int(counts.max()) * int((counts > 0).sum())


class UnderSampler(_FixedSet):
    """Random under-sampling: every class cut to the smallest class's count by rows drawn
    without replacement (imbalanced-learn's ``RandomUnderSampler``); ``M = C · min_c n_c``
    (the rest of the training split is never seen)."""

    def _resampled(self, labels, gen):
        counts = class_counts(labels)
        low = int(counts[counts > 0].min())
        parts = []
        for c in range(counts.numel()):
            rows = torch.nonzero(labels == c).flatten()
            if rows.numel():
                parts.append(rows[torch.randperm(rows.numel(), generator=gen)[:low]])
        return torch.cat(parts)

    def epoch_length(self, labels):  # noqa: D102
        counts = class_counts(labels)
        return int(counts[counts > 0].min()) * int((counts > 0).sum())


class SmoteSampler(Sampler):
    """SMOTE (Chawla et al. 2002) through imbalanced-learn: synthetic minority rows
    interpolated between a row and one of its ``k_neighbors`` nearest same-class rows,
    until every class has the majority's count. It changes the training set (once per
    member, :meth:`resample`, its ``random_state`` drawn from the member's own stream),
    then every epoch is a random permutation of the new set. Tabular (2-D) inputs only.

    Needs the optional extra ``pip install 'lossbench[imbalanced]'``.
    """

    permutes = True

    def __init__(self, k_neighbors: int = 5) -> None:
        if isinstance(k_neighbors, bool) or int(k_neighbors) != k_neighbors or k_neighbors < 1:
            raise ValueError(f"k_neighbors must be an integer >= 1, got {k_neighbors}")
        try:
            import imblearn  # noqa: F401
        except ImportError:
            raise ConfigError(
                "sampler=smote needs imbalanced-learn: pip install 'lossbench[imbalanced]'"
            ) from None
        self.k_neighbors = int(k_neighbors)

    def resample(
        self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The SMOTE-resampled training set ``(x', y')``: the original rows first, then
        the synthetic ones (imbalanced-learn's order)."""
        from imblearn.over_sampling import SMOTE

        if x.ndim != 2:
            raise ConfigError(
                f"sampler=smote interpolates tabular rows, but the inputs have shape "
                f"{tuple(x.shape[1:])} per sample; choose sampler=oversample"
            )
        counts = class_counts(y)
        low = int(counts[counts > 0].min())
        if low <= self.k_neighbors:
            raise ConfigError(
                f"sampler.k_neighbors={self.k_neighbors} needs more than {self.k_neighbors} "
                f"training rows in every class, the smallest has {low}; lower "
                f"sampler.k_neighbors or choose sampler=oversample"
            )
        state = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        smote = SMOTE(k_neighbors=self.k_neighbors, random_state=state)
        xr, yr = smote.fit_resample(x.double().numpy(), y.numpy())
        return torch.as_tensor(xr).to(x.dtype), torch.as_tensor(yr).to(y.dtype)

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        return torch.randperm(int(labels.shape[0]), generator=gen)

    def epoch_length(self, labels):  # noqa: D102 - the length after :meth:`resample`
        counts = class_counts(labels)
        return int(counts.max()) * int((counts > 0).sum())


class DualSampler(Sampler):
    """A fixed share of positives in every mini-batch (LibAUC ``DualSampler``; Yuan et al.
    2023, "LibAUC: A Deep Learning Library for X-Risk Optimization"), binary labels.

    Each batch holds ``num_pos = round(sampling_rate * batch_size)`` positives (at least
    1, at most ``batch_size - 1``) and ``num_neg = batch_size - num_pos`` negatives, the
    positives first. An epoch has ``max(P // num_pos, N // num_neg)`` batches (``P``,
    ``N``: the class sizes; at least one), so the larger side is seen about once and the
    other cycled: a class runs through fresh random permutations, concatenated, as LibAUC
    reshuffles one when it is exhausted (LibAUC carries its position across epochs; here
    each epoch starts afresh from the member's own stream). The positive class is
    ``positive_class``, or the minority class of the training labels (class 1 on a tie),
    as lossbench's ranking metrics pick it. Pairwise and AP losses need both classes in
    every batch; Zhu et al. 2022 found a positive share above the data's helpful.

    ``batch_size`` is the trainer's (the YAML interpolates ``trainer.batch_size``; ``full``
    = the whole split), needed only for :meth:`epoch_length`, which depends on it.
    """

    def __init__(
        self,
        sampling_rate: float = 0.5,
        positive_class: int | None = None,
        batch_size: int | str | None = None,
    ) -> None:
        if not 0 < sampling_rate < 1:
            raise ValueError(f"sampling_rate must be in (0, 1), got {sampling_rate}")
        if positive_class not in (None, 0, 1):
            raise ValueError(f"positive_class must be null, 0 or 1, got {positive_class}")
        self.sampling_rate = float(sampling_rate)
        self.positive_class = positive_class
        self.batch_size = batch_size

    def _classes(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the positive and of the negative class."""
        counts = torch.bincount(labels, minlength=2)
        if counts.numel() != 2 or int(counts.min()) == 0:
            raise ConfigError(
                "sampler=dual needs binary training labels with both classes, got class "
                f"counts {counts.tolist()}; choose another sampler"
            )
        pos_class = self.positive_class
        if pos_class is None:
            pos_class = 0 if counts[0] < counts[1] else 1
        return (
            torch.nonzero(labels == pos_class).flatten(),
            torch.nonzero(labels != pos_class).flatten(),
        )

    def _layout(self, n_pos: int, n_neg: int, batch_size: int) -> tuple[int, int, int]:
        """``(batches, num_pos, num_neg)`` of one epoch."""
        num_pos = min(max(1, round(self.sampling_rate * batch_size)), batch_size - 1)
        num_neg = batch_size - num_pos
        if num_pos < 1:
            raise ConfigError("sampler=dual needs trainer.batch_size >= 2")
        return max(n_pos // num_pos, n_neg // num_neg, 1), num_pos, num_neg

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):  # noqa: D102
        pos, neg = self._classes(labels)
        batches, num_pos, num_neg = self._layout(len(pos), len(neg), batch_size)
        take_pos = _cycled(pos, batches * num_pos, gen).view(batches, num_pos)
        take_neg = _cycled(neg, batches * num_neg, gen).view(batches, num_neg)
        return torch.cat([take_pos, take_neg], dim=1).flatten()

    def epoch_length(self, labels):  # noqa: D102
        size = self.batch_size
        size = int(labels.shape[0]) if size in (None, "full") else int(size)
        pos, neg = self._classes(labels)
        return self._layout(len(pos), len(neg), size)[0] * size


def _cycled(rows: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` of ``rows``: fresh random permutations, concatenated, cut at ``n``."""
    rounds = -(-n // len(rows))
    return torch.cat([rows[torch.randperm(len(rows), generator=gen)] for _ in range(rounds)])[:n]


def same_epoch_length(samplers: Sequence[Sampler], labels: Sequence[torch.Tensor]) -> bool:
    """True when every member's epoch order has one length (they can train in one model)."""
    return len({s.epoch_length(y) for s, y in zip(samplers, labels, strict=True)}) <= 1
