"""A weighted sum of losses composed in YAML: the seed's ``0.7 CE + 0.3 MSE``."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import nn

from lossbench.losses.base import Loss

TERM_KEYS = ("loss", "weight", "name")


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _task_of(class_counts: Any, train_targets: Any) -> str | None:
    if class_counts is not None:
        return "classification"
    if train_targets is None:
        return None
    return "regression" if torch.as_tensor(train_targets).ndim == 1 else "forecast"


def _takes_reduction(target_path: Any) -> bool:
    from lossbench.build import import_target
    from lossbench.losses.function import is_loss_function

    target = import_target("loss.terms", target_path)
    try:
        accepts = "reduction" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        accepts = False
    return accepts or is_loss_function(target)


def term_config(spec: dict[str, Any], reduction: str) -> tuple[str, dict[str, Any]]:
    """``(label, config)`` of one term: a packaged loss config by name, or a dotted path.

    ``loss: ce`` loads ``configs/loss/ce.yaml``; ``loss: mypkg.losses.my_loss`` (a
    name with a dot) is a class or function of your own. Other keys override
    that loss's params. The term's ``reduction`` follows the combined loss.
    """
    from lossbench.registry import config_dir

    name = spec.get("loss")
    if not isinstance(name, str) or not name:
        raise ValueError(f"each term needs loss: NAME (a loss config or a dotted path), got {spec}")
    overrides = {k: v for k, v in spec.items() if k not in TERM_KEYS}
    if "." in name:
        config: dict[str, Any] = {"_target_": name}
    else:
        path = config_dir() / "loss" / f"{name}.yaml"
        if name == "combined" or not path.exists():
            raise ValueError(f"loss: {name} is not a loss config (see `lossbench list losses`)")
        config = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        unknown = sorted(set(overrides) - set(config))
        if unknown:
            raise ValueError(
                f"{name} has no parameter {unknown[0]}; its parameters: "
                + ", ".join(k for k in config if not k.startswith("_"))
            )
    config.update(overrides)
    if _takes_reduction(config.get("_target_")):
        config["reduction"] = reduction
    return str(spec.get("name") or name.rsplit(".", 1)[-1]), config


class CombinedLoss(Loss):
    """``sum_k w_k L_k(pred, target)``: a weighted sum of other losses.

    The seed's combined loss (its example: ``0.7 CE + 0.3 MSE``, the default in
    ``combined.yaml``). Each term names a loss config (``loss: ce``) or your own
    class/function (``loss: mypkg.losses.my_loss``), has a ``weight`` (default 1)
    and may override that loss's params; the training statistics reach every
    term's constructor. ``weights: [...]``, if given, replaces the terms'
    weights (one per term; handy for sweeps: ``loss.weights=[0.5,0.5]``).

    Weights must be non-negative and not all zero. They are **not** normalised:
    a sum other than 1 scales the whole loss (and with it the effective learning
    rate); ``0.7/0.3`` and ``7/3`` train differently under SGD.

    Reductions: ``mean`` = ``sum_k w_k mean(L_k)``; ``sum`` = ``sum_k w_k sum(L_k)``;
    ``none`` = ``sum_k w_k L_k`` element-wise when all terms give the same shape,
    else each term is first averaged to one value per sample ``[N]``.
    ``components`` gives each unweighted term's value (its mean when the reduction
    is ``none``), logged per epoch as ``val_<term>`` in ``history.csv``.
    """

    def __init__(
        self,
        *,
        terms: Sequence[Any],
        weights: Sequence[float] | None = None,
        reduction: str = "mean",
        n_classes: int | None = None,
        class_counts: Sequence[int] | None = None,
        class_prior: Sequence[float] | None = None,
        train_targets: Any = None,
    ) -> None:
        super().__init__(reduction=reduction)
        from lossbench.build import build, tasks_of

        specs = [dict(_plain(t)) for t in (_plain(terms) or [])]
        if not specs:
            raise ValueError("terms must list at least one loss, e.g. [{loss: ce, weight: 1.0}]")
        if weights is None:
            weights = [spec.get("weight", 1.0) for spec in specs]
        weights = [float(w) for w in _plain(weights)]
        if len(weights) != len(specs):
            raise ValueError(f"weights has {len(weights)} values for {len(specs)} terms")
        if any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError(f"weights must be non-negative and not all zero, got {weights}")
        stats = {
            "n_classes": n_classes,
            "class_counts": class_counts,
            "class_prior": class_prior,
            "train_targets": train_targets,
        }
        stats = {k: v for k, v in stats.items() if v is not None}
        task = _task_of(class_counts, train_targets)
        labels, modules = [], []
        for i, spec in enumerate(specs):
            label, config = term_config(spec, reduction)
            fits = tasks_of(OmegaConf.create({"_tasks_": config.pop("_tasks_", None)}))
            if task and fits and task not in fits:
                raise ValueError(f"term {label} fits {'/'.join(fits)} data, not {task} data")
            while label in labels:
                label += "_"
            labels.append(label)
            modules.append(build(f"loss.terms[{i}]", config, **stats))
        self.labels = labels
        self.terms = nn.ModuleList(m if isinstance(m, nn.Module) else _Callable(m) for m in modules)
        self.weights = weights

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Pass the epoch on to terms that change during training (e.g. LDAM's DRW)."""
        for term in self.terms:
            if hasattr(term, "on_epoch_start"):
                term.on_epoch_start(epoch, epochs)

    def schedule_switch_epoch(self, total_epochs: int) -> int | None:
        """The latest switch among the terms (the epoch from which every term has its final
        form); ``None`` when no term has a schedule."""
        switches = [
            term.schedule_switch_epoch(total_epochs)
            for term in self.terms
            if hasattr(term, "schedule_switch_epoch")
        ]
        switches = [e for e in switches if e is not None]
        return max(switches) if switches else None

    def _values(self, pred: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
        return [term(pred, target) for term in self.terms]

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        values = self._values(pred, target)
        if self.reduction == "none" and len({v.shape for v in values}) > 1:
            values = [v.reshape(v.shape[0], -1).mean(dim=1) for v in values]
        return sum(w * v for w, v in zip(self.weights, values, strict=True))

    def components(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's unweighted value (averaged if the reduction is ``none``)."""
        return {
            label: v.mean() if self.reduction == "none" else v
            for label, v in zip(self.labels, self._values(pred, target), strict=True)
        }


class _Callable(nn.Module):
    """Holds a non-module callable term in the module list."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(pred, target)
