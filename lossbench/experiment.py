"""One training of a configuration on one data split: build it, fit it, evaluate it.

Everything is validated before training starts (a mistake is a one-line
:class:`ConfigError`). The final evaluation loads every member's chosen state and
predicts each split once for all members, so it costs the same per member at any K.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lossbench.build import build, build_model, import_target, tasks_of
from lossbench.data import Dataset
from lossbench.errors import ConfigError
from lossbench.evaluation import metrics
from lossbench.evaluation.posthoc import check_task, check_tau, logit_adjuster
from lossbench.models.contract import Head
from lossbench.training import decouple
from lossbench.training.device import to_device
from lossbench.training.loop import MemberResult, Trainer, schedule_start, settings_from_config
from lossbench.training.loss_params import loss_parameters, wants_index
from lossbench.training.optim import make_optimizer
from lossbench.training.samplers import NoSampler, Sampler, same_epoch_length

GROUP_LISTS = {"loss": "losses", "model": "models", "sampler": "samplers"}
EVAL_SPLITS = ("test", "val")


@dataclass
class Experiment:
    """Everything built from one job's config for one data split, ready to train."""

    data: Dataset
    trainer: Trainer  # its ``adjust``: the post-hoc logit adjustment, if any
    warnings: list[str] = field(default_factory=list)  # the model's, for every member's record
    decoupling: decouple.Decoupling | None = None  # cRT / τ-norm options, when asked for
    head: Head | None = None  # the classifier decoupling works on
    optimizer_node: DictConfig | None = None  # the optimizer config (cRT builds its own)


def _check_fits(cfg: DictConfig, choices: dict[str, str | None], data: Dataset) -> None:
    for group in GROUP_LISTS:
        if group not in cfg:
            continue
        tasks = tasks_of(cfg[group])
        if tasks and data.task not in tasks:
            raise ConfigError(
                f"{group}={choices.get(group)} fits {'/'.join(tasks)} data, but dataset="
                f"{choices.get('dataset')} is a {data.task} dataset; "
                f"see `lossbench list {GROUP_LISTS[group]}`"
            )


def posthoc_tau(cfg: DictConfig) -> float:
    """``eval.posthoc_tau``, validated (a number >= 0)."""
    return check_tau(OmegaConf.select(cfg, "eval.posthoc_tau", default=0.0))


def _check_schedules(losses: list[Any], epochs: int, choices: dict[str, str | None]) -> None:
    for loss in losses:
        try:
            schedule_start(loss, epochs)
        except ValueError as exc:
            raise ConfigError(f"loss={choices.get('loss')}: {exc}") from None


def _check_report_metric(cfg: DictConfig, data: Dataset) -> None:
    """``report.metric`` must be one this dataset's jobs report (checked before training,
    not when the sweep's report is written)."""
    name = OmegaConf.select(cfg, "report.metric", default="auto")
    known = metrics.known_metrics(data)
    if name in (None, "auto") or name in known:
        return
    if data.task == "classification" and name.startswith("recall_class_"):
        c = name.removeprefix("recall_class_")
        if c.isdigit() and int(c) < data.n_classes:
            return
    raise ConfigError(
        f"report.metric={name} is not a {data.task} metric of dataset={data.name}; "
        f"choose auto or one of: {', '.join(known)}"
    )


def build_samplers(cfg: DictConfig, n: int) -> list[Sampler]:
    """One sampler per member from ``cfg.sampler`` (none when the config has no sampler)."""
    if OmegaConf.select(cfg, "sampler") is None:
        return [NoSampler() for _ in range(n)]
    return [build("sampler", cfg.sampler) for _ in range(n)]


def same_epochs(cfg: DictConfig, datasets: list[Dataset]) -> bool:
    """Whether the job's sampler gives every dataset's members one epoch length (they can
    then train in one stacked model; see :meth:`Sampler.epoch_length`)."""
    samplers = build_samplers(cfg, len(datasets))
    return same_epoch_length(samplers, [d.train.y for d in datasets])


def build_data(cfg: DictConfig) -> Dataset:
    """The dataset ``cfg.dataset`` describes (one data split); a user function's arrays
    are split and checked here (:func:`lossbench.data.custom.build_dataset`)."""
    from lossbench.data.custom import build_dataset

    return build_dataset(cfg.dataset)


def build_experiment(
    cfg: DictConfig,
    seeds: list[int],
    choices: dict[str, str | None],
    datasets: list[Dataset] | None = None,
) -> Experiment:
    """Build data, model, loss and optimizer; validate everything before training starts.

    ``datasets``: one (already built) dataset per member, for members trained on
    different data splits in one stacked model; default: ``cfg.dataset``, shared.
    Each member's loss gets its own split's training statistics.
    """
    tau = posthoc_tau(cfg)
    datasets = datasets or [build_data(cfg)] * len(seeds)
    data = datasets[0]
    _check_fits(cfg, choices, data)
    check_task(tau, data.task, choices.get("dataset"))
    _check_report_metric(cfg, data)
    settings = settings_from_config(cfg.trainer, data.task, metrics.known_metrics(data))
    device = settings.placement.device
    # initialised on the CPU (its seeded generators), then moved: the same start everywhere
    model = build_model(
        cfg.model,
        seeds,
        in_features=data.in_features,
        out_features=data.out_features,
        input_shape=list(data.train.x.shape[1:]),
    )
    model = to_device(model, device)  # before the optimizer: its state is made there
    stats = {id(d): d.stats() for d in datasets}  # once per split
    # one per member, its buffers (class weights, priors, bins) on the device
    losses = [to_device(build("loss", cfg.loss, **stats[id(d)]), device) for d in datasets]
    _check_schedules(losses, settings.epochs, choices)
    # the classifier head before the optimizer: a plain module in loop mode moves its
    # members' last Linear into new stacked parameters on the first classifier_head()
    decoupling = decouple.options(cfg)
    head = decouple.check(decoupling, model, data.task, choices)
    if decoupling.crt_epochs:
        decouple.sampler_node(decoupling.crt_sampler)  # a known sampler, before training
    try:  # a loss's own parameters train with the model (lossbench.training.loss_params)
        loss_params = loss_parameters(losses)
        indexed = any([wants_index(loss) for loss in losses])
    except ValueError as exc:
        raise ConfigError(f"loss={choices.get('loss')}: {exc}") from None
    optimizer = make_optimizer(
        build("optimizer", cfg.optimizer), [*model.parameters(), *loss_params]
    )
    adjust = None
    if tau:
        priors = [stats[id(d)]["class_prior"] for d in datasets]
        adjust = logit_adjuster(priors[0] if len(stats) == 1 else priors, tau)
    samplers = build_samplers(cfg, len(datasets))
    if data.task != "classification" and not all(isinstance(s, NoSampler) for s in samplers):
        raise ConfigError(
            f"sampler={choices.get('sampler')} re-samples classes, but dataset="
            f"{choices.get('dataset')} is a {data.task} dataset; set sampler=none"
        )
    if indexed and any(callable(getattr(s, "resample", None)) for s in samplers):
        raise ConfigError(
            f"loss={choices.get('loss')} keeps state per training row (it takes `index`), "
            f"but sampler={choices.get('sampler')} adds rows to the training set; "
            "choose another sampler"
        )
    trainer = Trainer(model, losses, optimizer, datasets, settings, adjust, samplers)
    trainer.scoring = decouple.scoring(head, decoupling.tau)
    return Experiment(
        data,
        trainer,
        list(getattr(model, "warnings", [])),
        decoupling,
        head,
        cfg.optimizer,
    )


def fit_members(exp: Experiment) -> list[MemberResult]:
    """Train every member; then re-train their classifiers when ``trainer.crt_epochs`` > 0
    (cRT, :func:`lossbench.training.decouple.retrain_classifier`)."""
    results = exp.trainer.fit()
    opts = exp.decoupling
    if opts is not None and opts.crt_epochs and exp.head is not None:
        decouple.retrain_classifier(exp.trainer, results, exp.head, opts, exp.optimizer_node)
    return results


def predict_chosen(exp: Experiment, results: list[MemberResult]) -> dict[str, torch.Tensor]:
    """Raw predictions ``[K, N, ...]`` of every member at its chosen (best or last) epoch,
    on the test and validation splits: each split is predicted once for all members, under
    the trainer's ``scoring`` (τ-normalised classifier weights, ``eval.tau_norm``).
    On the CPU whatever the training device (the metrics are numpy code)."""
    trainer = exp.trainer
    for k, result in enumerate(results):
        if result.status == "completed" and result.state is not None:
            trainer.load_member_state(k, result.state)
    with getattr(trainer, "scoring", contextlib.nullcontext)():
        return {name: trainer.predict_split(name) for name in EVAL_SPLITS}


def member_data(exp: Experiment, k: int) -> Dataset:
    """The dataset (data split) member ``k`` trained and is evaluated on."""
    return exp.trainer.datasets[k]


def evaluate_members(
    exp: Experiment, results: list[MemberResult], preds: dict[str, torch.Tensor]
) -> list[dict[str, dict[str, float]] | None]:
    """Test and validation metrics of each completed member (None for the others); the
    members of one data split are scored together (:func:`metrics.compute_many`).

    With post-hoc logit adjustment (Menon et al. 2021, eq. 10) the adjusted logits
    are scored, the same transform the epoch was selected with.
    """
    adjust = exp.trainer.adjust
    scored = {n: p if adjust is None else adjust(p) for n, p in preds.items()}
    out: list[dict[str, dict[str, float]] | None] = [None] * len(results)
    by_data: dict[int, list[int]] = {}  # completed members per dataset: scored together
    for k, result in enumerate(results):
        if result.status == "completed":
            by_data.setdefault(id(member_data(exp, k)), []).append(k)
    for ks in by_data.values():
        data = member_data(exp, ks[0])
        split_scores = {
            name: metrics.compute_many(
                data, getattr(data, name).y, torch.stack([scored[name][k] for k in ks])
            )
            for name in EVAL_SPLITS
        }
        for i, k in enumerate(ks):
            out[k] = {name: split_scores[name][i] for name in EVAL_SPLITS}
    return out


def loss_is_batchable(cfg: DictConfig) -> bool:
    """False if the loss's class (or function) sets ``batchable = False``.

    The target is resolved as the builder resolves it (also found in the current
    directory), so the answer is the same under ``lossbench`` and ``python -m
    lossbench``. Each member gets its own loss instance, so a loss with state trains
    batched exactly as alone; only a loss whose result depends on something shared
    across members (e.g. draws from torch's global random stream) must opt out.
    """
    try:
        target = import_target("loss", OmegaConf.select(cfg, "loss._target_", default=None))
    except ConfigError:  # reported when the loss is built
        return True
    return bool(getattr(target, "batchable", True))
