"""Decoupled training (Kang et al. 2020, ICLR, "Decoupling representation and classifier
for long-tailed recognition"): keep the features learnt with instance-balanced
sampling, re-balance only the classifier.

* **cRT** (classifier re-training, ``trainer.crt_epochs`` > 0): after the main budget,
  each member's chosen state is loaded, its classifier (the last linear layer, the
  model's :meth:`~lossbench.models.contract.MemberModel.classifier_head`) re-initialised
  from the member's stream ``"crt"``, and only the classifier re-trained for
  ``crt_epochs`` epochs with cross-entropy and class-balanced sampling
  (``trainer.crt_sampler``, a ``sampler`` option). Every other parameter is frozen
  (``requires_grad`` off, bitwise unchanged) and the model runs in eval mode (dropout
  off, normalisation statistics fixed: the features are those of the chosen state).
  The best cRT epoch on the validation monitor is kept.
* **τ-normalisation** (``eval.tau_norm`` = τ > 0): each class's weight vector is
  rescaled to ``w_c / ||w_c||^τ`` (eq. 3; τ = 1 gives unit-norm rows, τ = 0 is a
  no-op). The bias is left as trained: the paper's rescaling is of the weight norms,
  whose growth with class size it corrects (its reference code scores
  ``f · w̃_c`` without a bias; a model with a bias keeps it here). Applied
  whenever predictions are scored: each epoch's validation monitor (so the best
  epoch is that of the τ-normalised classifier) and the final evaluation; the
  trained weights themselves are never changed.

Both need a model whose last layer is linear (``classifier_head()`` not None);
otherwise a one-line :class:`ConfigError` before training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError
from lossbench.models.contract import Head, MemberModel
from lossbench.seeding import generator

CRT_HISTORY_KEY = "crt_epoch"  # history rows of the cRT phase carry their cRT epoch


def tau_normalised(weight: torch.Tensor, tau: float) -> torch.Tensor:
    """``w_c / ||w_c||_2^τ`` for every class row ``c`` (the last axis is the feature axis).

    A zero row stays zero (its norm is 0: nothing to rescale); τ = 0 returns ``weight``
    unchanged (a copy).
    """
    if tau == 0:
        return weight.clone()
    norm = torch.linalg.vector_norm(weight, dim=-1, keepdim=True)
    scale = torch.where(norm > 0, norm, torch.ones_like(norm)).pow(tau)
    return weight / scale


@contextlib.contextmanager
def tau_norm_applied(head: Head, tau: float) -> Iterator[None]:
    """Within the block the classifier's weights are τ-normalised; restored bitwise after."""
    if tau == 0:
        yield
        return
    with torch.no_grad():
        saved = head.weight.detach().clone()
        head.weight.copy_(tau_normalised(saved, tau))
    try:
        yield
    finally:
        with torch.no_grad():
            head.weight.copy_(saved)


@dataclass(frozen=True)
class Decoupling:
    """The validated decoupling options of one job."""

    crt_epochs: int  # 0 = off
    crt_sampler: str  # a ``sampler`` option name
    tau: float  # eval.tau_norm; 0 = off


def options(cfg: DictConfig) -> Decoupling:
    """``trainer.crt_epochs``, ``trainer.crt_sampler`` and ``eval.tau_norm``, each checked by
    its rule in :data:`lossbench.schema.ROOT`."""
    from lossbench.schema import ROOT, check_value

    def value(key: str, default: Any) -> Any:
        return check_value(key, OmegaConf.select(cfg, key, default=default), ROOT[key])

    return Decoupling(
        crt_epochs=value("trainer.crt_epochs", 0),
        crt_sampler=value("trainer.crt_sampler", "class_balanced"),
        tau=float(value("eval.tau_norm", 0.0)),
    )


def check(opts: Decoupling, model: MemberModel, task: str, choices: dict[str, Any]) -> Head | None:
    """The classifier head when decoupling is asked for (None when it is not); a one-line
    ConfigError, before training, when the data or the model cannot be decoupled."""
    if not opts.crt_epochs and not opts.tau:
        return None
    what = "trainer.crt_epochs" if opts.crt_epochs else "eval.tau_norm"
    fix = f"set {what}=0"
    if task != "classification":
        raise ConfigError(
            f"{what} re-balances a classifier, but dataset={choices.get('dataset')} is a "
            f"{task} dataset; {fix}"
        )
    head = model.classifier_head()
    if head is None:
        raise ConfigError(
            f"{what} needs a model whose last layer is linear (classifier_head() is None "
            f"for model={choices.get('model')}); {fix}"
        )
    return head


def sampler_node(name: str) -> DictConfig:
    """The config of ``sampler`` option ``name`` (``configs/sampler/<name>.yaml``)."""
    from lossbench.registry import config_dir, options

    path = config_dir() / "sampler" / f"{name}.yaml"
    if not path.is_file():
        names = ", ".join(o.name for o in options("samplers"))
        raise ConfigError(f"trainer.crt_sampler={name} is not a sampler; choose one of: {names}")
    return OmegaConf.load(path)


def scoring(head: Head | None, tau: float) -> Callable[[], contextlib.AbstractContextManager]:
    """The context predictions are scored in: τ-normalised weights (or nothing)."""
    if head is None or not tau:
        return contextlib.nullcontext
    return lambda: tau_norm_applied(head, tau)


@contextlib.contextmanager
def _frozen_except(model: Any, keep: list[torch.nn.Parameter]) -> Iterator[None]:
    """All parameters but ``keep`` frozen (``requires_grad`` off) within the block."""
    ids = {id(p) for p in keep}
    frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


def retrain_classifier(
    trainer: Any,
    results: list[Any],
    head: Head,
    opts: Decoupling,
    optimizer_node: DictConfig,
) -> None:
    """cRT (see the module docstring) for every completed member of ``trainer``; each
    result's ``state`` becomes its state with the best re-trained classifier, its history
    gains the cRT epochs (``crt_epoch`` 1..N, ``epoch`` counting on), and its ``crt``
    holds the cRT phase's best epoch, best value and epochs run."""
    from lossbench.build import build
    from lossbench.losses import CrossEntropyLoss
    from lossbench.training.loop import Trainer
    from lossbench.training.optim import make_optimizer

    model = trainer.model
    done = [k for k, r in enumerate(results) if r.status == "completed" and r.state is not None]
    if not done:
        return
    for k in done:
        trainer.load_member_state(k, results[k].state)
    with _frozen_except(model, head.params):
        for k in done:
            head.reset_member(k, generator(model.seeds[k], "crt"))
        node = sampler_node(opts.crt_sampler)
        samplers = [build("trainer.crt_sampler", node) for _ in range(trainer.k)]
        optimizer = make_optimizer(build("optimizer", optimizer_node), head.params)
        settings = replace(trainer.settings, epochs=opts.crt_epochs, patience=None, evaluate="best")
        crt = Trainer(
            model,
            [CrossEntropyLoss() for _ in range(trainer.k)],
            optimizer,
            trainer.datasets,
            settings,
            trainer.adjust,
            samplers,
        )
        crt.scoring = trainer.scoring
        crt.train_mode = False  # frozen features: dropout off, normalisation statistics fixed
        crt.order_stream = "crt_order"
        crt_results = crt.fit()
        for k in done:
            r, c = results[k], crt_results[k]
            if c.status != "completed" or c.state is None:
                r.status, r.diverged_epoch = c.status, c.diverged_epoch
                continue
            crt.load_member_state(k, c.state)  # the head's state, taken while frozen
            r.crt = dict(best_epoch=c.best_epoch, best_value=c.best_value, epochs_run=c.epochs_run)
            for row in c.history:
                r.history.append(
                    {**row, "epoch": r.epochs_run + row["epoch"], CRT_HISTORY_KEY: row["epoch"]}
                )
    for k in done:
        results[k].state = model.member_state(k)  # every parameter, with the new classifier
