"""The training loop: K seeds of one configuration trained side by side.

Fast by design for small models, where per-step overhead dominates: tensors stay
in memory and are ordered by each member's sampler (default ``randperm``,
:mod:`lossbench.training.samplers`) and sliced (a ``DataLoader`` was measured 2.3x
slower), all members share one batched forward/backward, and the optimizer step is
fused where torch supports it. Member ``k`` draws its mini-batch order from its own
seeded stream and its loss is reduced on its own, so it trains exactly as it would
alone.

Which epoch is "best" (``trainer.evaluate=best``) is chosen on the validation
monitor computed from what the final evaluation scores (post-hoc adjusted logits
when an ``adjust`` transform is given, τ-normalised weights under ``scoring``), and
only among the epochs a scheduled loss declares eligible (:func:`schedule_start`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from lossbench.data import Dataset, Split
from lossbench.evaluation.metrics import GREATER_IS_BETTER, monitor_value
from lossbench.models.contract import MemberModel
from lossbench.seeding import generator
from lossbench.training.device import Placement
from lossbench.training.loss_params import wants_index
from lossbench.training.progress import EpochProgress
from lossbench.training.samplers import NoSampler, Sampler, same_epoch_length


@dataclass
class TrainSettings:
    """The ``trainer`` config block, validated."""

    epochs: int
    batch_size: int | None  # None = full batch
    monitor: str  # a metric name or "loss" (validation loss)
    patience: int | None
    evaluate: str  # "best" | "last"
    progress: bool
    fail_on_nan: bool
    # device and precision (trainer.device / trainer.precision); the model and losses
    # are already there when the Trainer gets them
    placement: Placement = field(default_factory=Placement)


@dataclass
class MemberResult:
    """How one seed's training went; ``state`` holds the parameters to evaluate."""

    seed: int
    status: str = "completed"  # completed | diverged
    diverged_epoch: int | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    epochs_run: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    state: list[torch.Tensor] | None = None
    eligible_from: int = 1  # first epoch that may be chosen as best (a loss schedule's switch)
    # decoupled classifier re-training (lossbench.training.decouple), when it ran:
    # {"best_epoch", "best_value", "epochs_run"} of the cRT phase
    crt: dict[str, Any] | None = None


def schedule_start(loss_fn: object, epochs: int) -> int:
    """The first epoch eligible as the best epoch: where the loss's schedule switches, else 1.

    A loss with a training schedule (e.g. LDAM-DRW, Cao et al. 2019, re-weights only
    from its ``drw_epoch`` on) exposes ``schedule_switch_epoch(epochs) -> int | None``:
    the first epoch (counted from 1) trained in the schedule's final phase, or None
    when it has no switch. Epochs before it train a different method, so they must
    not be evaluated as this loss's result (and do not count towards patience).
    """
    hook = getattr(loss_fn, "schedule_switch_epoch", None)
    switch = hook(epochs) if callable(hook) else None
    if switch is None:
        return 1
    if isinstance(switch, bool) or int(switch) != switch or not 1 <= switch <= epochs:
        raise ValueError(
            f"the loss's schedule switches at epoch {switch}, outside the run's epochs "
            f"1..{epochs}; raise trainer.epochs or move the switch"
        )
    return int(switch)


# Rows per member in one evaluation forward pass: bounds the activation memory (ResNet-32
# on CIFAR's 10,000 test images at once would hold ~2 GB of activations per member). Every
# built-in dataset's validation and test splits are smaller, so they are predicted in one
# pass as before.
EVAL_ROWS = 2048

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DivergedError(RuntimeError):
    """Raised instead of recording ``status: diverged`` when ``fail_on_nan`` is set."""


class Trainer:
    """Trains a :class:`~lossbench.models.contract.MemberModel`, one member per seed, on a
    :class:`Dataset`.

    ``loss_fn`` is one loss shared by all members, or one instance per member (what
    the runner passes, so a loss that keeps state, e.g. statistics gathered from the
    batches it sees, sees only its own member's calls, exactly as in a single run).
    ``adjust`` maps validation predictions ``[K, N, ...]`` to what the final evaluation
    scores (e.g. post-hoc logit adjustment) before a metric monitor is computed; the
    validation loss is always that of the raw outputs.

    ``data`` is one dataset for all members, or one per member (members trained on
    different data splits, e.g. ``splits`` x ``seeds`` in one stacked model); the
    datasets must then be alike (:func:`alike`: task and every shape), and member
    ``k`` reads only its own split's rows, exactly as its single run does.

    ``samplers``: one :class:`~lossbench.training.samplers.Sampler` per member (default:
    none, every row once per epoch); a sampler with ``resample`` (SMOTE) changes its
    member's training set once, here, from the member's stream ``"resample"``.
    """

    def __init__(
        self,
        model: MemberModel,
        loss_fn: LossFn | Sequence[LossFn],
        optimizer: torch.optim.Optimizer,
        data: Dataset | Sequence[Dataset],
        settings: TrainSettings,
        adjust: Callable[[torch.Tensor], torch.Tensor] | None = None,
        samplers: Sequence[Sampler] | None = None,
    ) -> None:
        self.model = model
        self.k = model.n_members
        self.loss_fns = list(loss_fn) if isinstance(loss_fn, Sequence) else [loss_fn] * self.k
        if len(self.loss_fns) != self.k:
            raise ValueError(f"{len(self.loss_fns)} loss instances for {self.k} members")
        self.optimizer = optimizer
        datasets = list(data) if isinstance(data, Sequence) else [data] * self.k
        if len(datasets) != self.k:
            raise ValueError(f"{len(datasets)} datasets for {self.k} members")
        self.data = datasets[0]  # task and shapes, the same for every member
        self.datasets = datasets  # on the CPU: metrics and statistics read them
        self.samplers = list(samplers) if samplers is not None else [NoSampler()] * self.k
        if len(self.samplers) != self.k:
            raise ValueError(f"{len(self.samplers)} samplers for {self.k} members")
        self.settings = settings
        self.place = settings.placement
        # the shared splits on the training device (the same tensors on the CPU)
        self._splits = {n: _on(getattr(self.data, n), self.place.device) for n in SPLITS}
        self._own = self._member_inputs(datasets)
        self._train_own = self._resampled_train()
        self._scaler = self.place.scaler()  # fp16 only: each member trains alone then
        if self._scaler is not None and self.k > 1:
            raise ValueError("fp16 trains one member per model (one loss scaler each)")
        self.adjust = adjust
        self.eligible_from = [schedule_start(f, settings.epochs) for f in self.loss_fns]
        # what predictions are scored under (monitor, final evaluation): e.g. τ-normalised
        # classifier weights (lossbench.training.decouple); a context manager factory
        self.scoring: Callable[[], AbstractContextManager] = nullcontext
        self.train_mode = True  # False: train with the model in eval mode (frozen features)
        self.order_stream = "order"  # each member's stream of epoch orders
        # losses that take the batch's training-row indices (lossbench.training.loss_params)
        self._indexed = [wants_index(f) for f in self.loss_fns]
        self._optimized = [p for group in optimizer.param_groups for p in group["params"]]

    # -- forward helpers -------------------------------------------------
    def _shape(self, out: torch.Tensor) -> torch.Tensor:
        """Model output [K, B, out] -> logits [K, B, C], or predictions shaped like the targets."""
        if self.data.task == "classification":
            return out
        return out.reshape(*out.shape[:2], *self.data.train.y.shape[1:])

    def _losses(
        self,
        pred: torch.Tensor,
        y: torch.Tensor,
        members: list[int],
        shared: bool,
        index: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Each member's own scalar loss; ``shared``: one target tensor for all members;
        ``index`` [K, B]: training rows of each member's batch, for losses that take it
        (None at validation)."""
        out = []
        for k in members:
            extra = {"index": index[k]} if index is not None and self._indexed[k] else {}
            value = self.loss_fns[k](pred[k], y if shared else y[k], **extra)
            if value.ndim != 0:
                raise ValueError(
                    "the loss must reduce to a scalar for training; set loss.reduction=mean or sum"
                )
            out.append(value)
        return out

    def _member_inputs(self, datasets: list[Dataset]) -> dict[str, Split] | None:
        """Per-member splits stacked ``[K, N, ...]`` when members have different data, else None."""
        if all(d is datasets[0] for d in datasets):
            return None
        if not alike(datasets):
            raise ValueError("members' datasets differ in task or shape; train them apart")
        return {
            name: _on(
                Split(
                    torch.stack([getattr(d, name).x for d in datasets]),
                    torch.stack([getattr(d, name).y for d in datasets]),
                ),
                self.place.device,
            )
            for name in SPLITS
        }

    def _member_split(self, name: str) -> Split | None:
        """Every member's own ``name`` split stacked ``[K, N, ...]``, or None (one shared)."""
        return None if self._own is None else self._own[name]

    def _member_train(self, k: int) -> Split:
        """Member ``k``'s training rows (its own split's, before any re-sampling)."""
        return self.datasets[k].train  # on the CPU (SMOTE works in numpy)

    def _resampled_train(self) -> Split | None:
        """Every member's training set stacked ``[K, M, ...]`` once a sampler re-sampled it
        (SMOTE), else None; and a check that all members' epochs have one length."""
        train = [self._member_train(k) for k in range(self.k)]
        changed = False
        for k, sampler in enumerate(self.samplers):
            resample = getattr(sampler, "resample", None)
            if callable(resample):
                x, y = resample(train[k].x, train[k].y, generator(self.model.seeds[k], "resample"))
                train[k], changed = Split(x, y), True
        if not same_epoch_length(self.samplers, [t.y for t in train]):
            raise ValueError(
                "the sampler gives the members epochs of different lengths (their splits' "
                "class counts differ); train the splits apart"
            )
        if not changed:
            return None
        if len({tuple(t.x.shape) for t in train}) != 1:
            raise ValueError("re-sampled training sets differ in size; train the splits apart")
        stacked = Split(torch.stack([t.x for t in train]), torch.stack([t.y for t in train]))
        return _on(stacked, self.place.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model on ``x`` (already on the device) in the run's precision; float32 out
        (a reduced-precision output is cast up: losses compute in float32)."""
        if self.place.dtype is None:  # fp32: no context manager on the hot path
            return self.model(x)
        with self.place.autocast():
            out = self.model(x)
        return out.float()

    @torch.no_grad()
    def predict(self, split: Split) -> torch.Tensor:
        """Predictions of every member on ``split`` (one split for all): [K, N, ...],
        on the training device."""
        self.model.eval()
        x = split.x.to(self.place.device)
        return self._in_chunks(x.unsqueeze(0).expand(self.k, *x.shape))

    @torch.no_grad()
    def predict_split(self, name: str) -> torch.Tensor:
        """Predictions of every member on its own ``name`` split (train, val, test): [K, N, ...],
        on the training device."""
        if self._own is None:
            return self.predict(self._splits[name])
        self.model.eval()
        return self._in_chunks(self._own[name].x)

    def _in_chunks(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every member on ``x`` [K, N, ...], at most :data:`EVAL_ROWS` rows per
        forward pass (the same chunks at any K, so a member's predictions do not depend on K)."""
        n = x.shape[1]
        if n <= EVAL_ROWS:
            return self._shape(self._forward(x))
        return torch.cat(
            [self._shape(self._forward(x[:, i : i + EVAL_ROWS])) for i in range(0, n, EVAL_ROWS)],
            dim=1,
        )

    @torch.no_grad()
    def scored(self, name: str, raw: torch.Tensor | None = None) -> torch.Tensor:
        """What the evaluation scores on split ``name``: the predictions made under
        :attr:`scoring` (``raw``, the plain predictions, when that changes nothing),
        then ``adjust`` (post-hoc logit adjustment)."""
        if self.scoring is not nullcontext or raw is None:
            with self.scoring():
                raw = self.predict_split(name)
        return raw if self.adjust is None else self.adjust(raw)

    def targets(self, name: str) -> tuple[torch.Tensor, bool]:
        """Targets of the ``name`` split (on the training device) and whether one tensor
        serves all members."""
        if self._own is None:
            return self._splits[name].y, True
        return self._own[name].y, False

    # -- state snapshots -------------------------------------------------
    def _snapshot(self, k: int) -> list[torch.Tensor]:
        return self.model.member_state(k)

    def load_member_state(self, k: int, state: list[torch.Tensor]) -> None:
        self.model.load_member_state(k, state)

    # -- training --------------------------------------------------------
    def fit(self) -> list[MemberResult]:
        """Train all members; return each member's history, status and chosen state."""
        s = self.settings
        gens = [generator(seed, self.order_stream) for seed in self.model.seeds]
        results = [
            MemberResult(seed=seed, eligible_from=start)
            for seed, start in zip(self.model.seeds, self.eligible_from, strict=True)
        ]
        active = list(range(self.k))  # members still training
        with EpochProgress(s.epochs, enabled=s.progress) as bar:
            for epoch in range(1, s.epochs + 1):
                # once per distinct instance: a shared loss stands K times in loss_fns
                for loss_fn in {id(f): f for f in self.loss_fns}.values():
                    if hasattr(loss_fn, "on_epoch_start"):
                        loss_fn.on_epoch_start(epoch, s.epochs)
                if hasattr(self.optimizer, "on_epoch_start"):  # e.g. PESG's epoch decay
                    self.optimizer.on_epoch_start(epoch, s.epochs)
                train_loss = self._train_epoch(gens, active, epoch)
                self._validate(epoch, train_loss, results, active)
                bar.update(epoch, self._progress_text(results, s.monitor))
                if not active:
                    break
        return results

    def _train_epoch(
        self, gens: list[torch.Generator], active: list[int], epoch: int = 1
    ) -> torch.Tensor:
        """One pass over the training split in each member's sampler's order; the mean
        mini-batch loss of each member."""
        train = self._splits["train"]
        own = self._train_own if self._train_own is not None else self._member_split("train")
        n = len(train) if own is None else int(own.y.shape[1])
        full = self.settings.batch_size is None
        size = n if full else self.settings.batch_size
        dev = self.place.device
        order = None
        # full batch without re-sampling: every member sees the whole split, in its stored
        # order; otherwise drawn on the CPU generators (from CPU labels), then moved: the
        # same sample order on every device
        if not (full and all(s.permutes for s in self.samplers)):
            labels = [(train.y if own is None else own.y[k]).cpu() for k in range(self.k)]
            order = torch.stack(
                [
                    s.epoch_order(labels[k], size, epoch, self.settings.epochs, gens[k])
                    for k, s in enumerate(self.samplers)
                ]
            )
            n = order.shape[1]
            if dev.type != "cpu":
                order = order.to(dev)
        batch = n if full else min(size, n)
        self.model.train(self.train_mode)
        step_values = []
        rows = torch.arange(self.k, device=dev).unsqueeze(1)
        # training rows of each member's batch, for losses that take ``index``: the
        # sampler's order, or (one full batch in stored order) every row
        idx = None
        if order is None and any(self._indexed):
            idx = torch.arange(n, device=train.y.device).expand(self.k, n)
        for start in range(0, n, batch):
            if order is None and own is not None:
                xb, yb = own.x, own.y
            elif order is None:
                xb, yb = train.x.unsqueeze(0).expand(self.k, *train.x.shape), train.y
            else:
                idx = order[:, start : start + batch]
                if own is None:
                    xb, yb = train.x[idx], train.y[idx]
                else:  # member k's rows of its own split
                    xb, yb = own.x[rows, idx], own.y[rows, idx]
            shared = order is None and own is None
            losses = self._losses(self._shape(self._forward(xb)), yb, active, shared, idx)
            stacked = torch.stack(losses) if len(losses) > 1 else None
            total = losses[0] if stacked is None else stacked.sum()
            # = optimizer.zero_grad(set_to_none=True) without its profiler bookkeeping
            # (measured ~50 us less per step, ~8% of a default-MLP step)
            for p in self._optimized:
                p.grad = None
            if self._scaler is None:
                total.backward()
                self.optimizer.step()
            else:  # fp16: scaled loss; a step with inf/nan gradients is skipped
                self._scaler.scale(total).backward()
                self._scaler.step(self.optimizer)
                self._scaler.update()
            step_values.append((losses[0] if stacked is None else stacked).detach())
        # exact per-member means (fsum): a float32 reduction over the [steps, K] table
        # would depend on K, and member k must report what it reports alone
        # (on the CPU first: MPS has no float64)
        table = torch.stack(step_values).reshape(len(step_values), -1).cpu().double().tolist()
        train_loss = torch.full((self.k,), float("nan"), dtype=torch.float64)
        for j, k in enumerate(active):
            train_loss[k] = math.fsum(row[j] for row in table) / len(table)
        return train_loss

    def _validate(
        self, epoch: int, train_loss: torch.Tensor, results: list[MemberResult], active: list[int]
    ) -> None:
        """Record each active member's epoch; retire members that diverged or stopped early."""
        s = self.settings
        val_pred = self.predict_split("val")
        val_y, shared = self.targets("val")
        with torch.no_grad():
            val_losses = self._losses(val_pred, val_y, active, shared=shared)
        scored = val_pred if s.monitor == "loss" else self.scored("val", val_pred)
        # metrics are numpy code: the monitor reads CPU copies
        scored = scored.cpu()
        val_y_cpu = val_y.cpu()
        for k, val_loss in zip(list(active), val_losses, strict=True):
            res = results[k]
            y_k = val_y if shared else val_y[k]
            y_cpu = val_y_cpu if shared else val_y_cpu[k]
            res.epochs_run = epoch
            row = {"epoch": epoch, "train_loss": float(train_loss[k]), "val_loss": float(val_loss)}
            row.update(self._components(k, val_pred[k], y_k))
            res.history.append(row)
            if not (math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"])):
                res.status, res.diverged_epoch = "diverged", epoch
                active.remove(k)
                if s.fail_on_nan:
                    raise DivergedError(
                        f"training diverged at epoch {epoch} (seed {res.seed}): loss "
                        f"{row['train_loss']}; lower optimizer.lr or check the loss"
                    )
                continue
            if s.monitor == "loss":
                value = row["val_loss"]
            else:
                value = monitor_value(s.monitor, self.datasets[k], y_cpu, scored[k])
                row[f"val_{s.monitor}"] = value
            if epoch >= res.eligible_from and self._improved(value, res.best_value):
                res.best_value, res.best_epoch = value, epoch
                if s.evaluate == "best":
                    res.state = self._snapshot(k)
            patience_over = (
                s.patience is not None
                and res.best_epoch is not None
                and epoch - res.best_epoch >= s.patience
            )
            if patience_over or epoch == s.epochs:
                if s.evaluate == "last":
                    res.state = self._snapshot(k)
                active.remove(k)

    @torch.no_grad()
    def _components(self, k: int, pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """``val_<name>`` for each term a loss reports through ``components(pred, target)``."""
        components = getattr(self.loss_fns[k], "components", None)
        if components is None:
            return {}
        return {f"val_{name}": float(value) for name, value in components(pred, y).items()}

    def _improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if GREATER_IS_BETTER.get(self.settings.monitor, False) else value < best

    @staticmethod
    def _progress_text(results: list[MemberResult], monitor: str) -> str:
        rows = [r.history[-1] for r in results if r.history]
        if not rows:
            return ""

        def mean(key: str) -> float:
            vals = [r[key] for r in rows if key in r]
            return sum(vals) / len(vals) if vals else float("nan")

        text = f"train {mean('train_loss'):.4f}  val {mean('val_loss'):.4f}"
        if monitor != "loss":
            text += f"  {monitor} {mean(f'val_{monitor}'):.4f}"
        return text


SPLITS = ("train", "val", "test")


def _on(split: Split, device: torch.device) -> Split:
    """``split`` with its tensors on ``device`` (itself when they are there already)."""
    if split.x.device == device and split.y.device == device:
        return split
    return Split(split.x.to(device), split.y.to(device))


def alike(datasets: Sequence[Dataset]) -> bool:
    """Datasets that one stacked model can train side by side: same task, classes and shapes."""
    first = datasets[0]

    def shape(d: Dataset) -> tuple:
        return (
            d.task,
            d.n_classes,
            *(
                (tuple(s.x.shape), tuple(s.y.shape), s.x.dtype, s.y.dtype)
                for s in (d.train, d.val, d.test)
            ),
        )

    return all(shape(d) == shape(first) for d in datasets)


def settings_from_config(cfg: Any, task: str, known: list[str]) -> TrainSettings:
    """The ``trainer`` block as settings; each key checked by its rule in the config
    schema (:data:`lossbench.schema.ROOT`, one rule per key), the monitor against the
    metrics ``known`` for this task. Raises ConfigError naming the key at fault."""
    from lossbench.errors import ConfigError
    from lossbench.evaluation.metrics import DEFAULT_MONITOR
    from lossbench.schema import ROOT, check_value

    def value(name: str) -> Any:
        key = f"trainer.{name}"
        return check_value(key, cfg[name], ROOT[key])

    batch_size = value("batch_size")
    monitor = value("monitor")
    monitor = DEFAULT_MONITOR[task] if monitor == "auto" else monitor
    if monitor != "loss" and monitor not in known:
        raise ConfigError(
            f"trainer.monitor={monitor} is not a {task} metric; choose auto, loss, or one of: "
            + ", ".join(known)
        )
    from lossbench.training.device import placement

    return TrainSettings(
        placement=placement(cfg.get("device", "cpu"), cfg.get("precision", "fp32")),
        epochs=value("epochs"),
        batch_size=None if batch_size == "full" else batch_size,
        monitor=monitor,
        patience=value("patience"),
        evaluate=value("evaluate"),
        progress=value("progress"),
        fail_on_nan=value("fail_on_nan"),
    )
