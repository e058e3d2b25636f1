"""``lossbench check``: the checks a loss must pass before anyone trains with it.

``lossbench check loss=focal loss.gamma=0.5`` composes the loss config from the
same overrides ``lossbench run`` takes, builds it for each data family it
declares (``_tasks_``) with synthetic training statistics, and prints a
pass/fail table. Exit code 0 = all passed, 1 = a check failed, 2 = the
selection itself is wrong (one line on stderr).

The checks, per family:

* ``builds``: the constructor accepts the synthetic statistics.
* ``differentiable``: ``torch.autograd.gradcheck`` in float64 on random inputs
  (analytical vs numerical gradients), and the gradient is not identically 0
  (which would mean a non-differentiable step such as ``argmax`` or ``round``).
* ``finite at extremes``: value and gradient are finite for logits of +-1e4
  (confidently right and confidently wrong), or predictions and targets of
  +-1e3 (regression, forecast), in float32.
* ``reduction=R``: ``none`` gives one value per sample (leading dimension N) or
  per element, ``mean`` and ``sum`` a scalar. Skipped if the loss has no such
  reduction (e.g. a function that returns a scalar supports only ``mean``).
* ``perfect prediction``: classification - logits with a margin of 5 on the
  true class must score lower than all-equal logits and than the same margin on
  a wrong class; regression/forecast - ``pred = target`` must be a minimum:
  no lower value among 12 random perturbations of scale 0.01, 0.1, 1 and 10
  (the value itself is shown; 0 is expected for error-based losses). Skipped
  for a loss whose class sets ``minimum_at_target = False`` (``balanced_mse``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossbench.registry import TASKS

log = logging.getLogger(__name__)
N_CHECK, N_GRAD = 16, 6


@dataclass
class Row:
    """One line of the result table."""

    data: str
    check: str
    result: str  # PASS | FAIL | skip
    detail: str


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def compose_loss(overrides: list[str], config_dir: str | None = None) -> Any:
    """The ``loss`` node that ``lossbench run OVERRIDES`` would use."""
    from hydra import compose, initialize_config_dir

    from lossbench.registry import config_dir as packaged

    extra = []
    if config_dir:
        extra.append(f"hydra.searchpath=[file://{Path(config_dir).resolve()}]")
    with initialize_config_dir(config_dir=str(packaged()), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, *extra])
    return cfg.loss


def synthetic_stats(task: str, n_classes: int) -> dict[str, Any]:
    """Training statistics of a small imbalanced (or skewed) training set."""
    import torch

    g = torch.Generator().manual_seed(0)
    if task == "classification":
        counts = [max(1, int(100 * 0.3**c)) for c in range(n_classes)]
        targets = torch.repeat_interleave(torch.arange(n_classes), torch.tensor(counts))
        total = sum(counts)
        out = {
            "n_classes": n_classes,
            "class_counts": counts,
            "class_prior": [c / total for c in counts],
            "train_targets": targets,
            "n_train": total,
        }
        if n_classes == 2:
            out["positive_class"] = 1  # the minority, as Dataset.stats gives it
        return out
    if task == "regression":
        return {"train_targets": torch.distributions.Exponential(1.0).sample((500,)) - 1.0}
    return {"train_targets": torch.randn(200, 8, generator=g)}


def sample(task: str, n: int, n_classes: int, dtype: Any, seed: int) -> tuple[Any, Any]:
    """Random ``(pred, target)`` of a family."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if task == "classification":
        pred = torch.randn(n, n_classes, generator=g, dtype=dtype)
        return pred, torch.randint(0, n_classes, (n,), generator=g)
    shape = (n,) if task == "regression" else (n, 8)
    pred = torch.randn(shape, generator=g, dtype=dtype)
    return pred, torch.randn(shape, generator=g, dtype=dtype)


class Checker:
    """Runs every check on one loss config for one data family."""

    def __init__(self, node: Any, task: str, n_classes: int) -> None:
        self.node, self.task, self.n_classes = node, task, n_classes
        self.stats = synthetic_stats(task, n_classes)

    def build(self, reduction: str | None = None) -> Callable:
        from omegaconf import OmegaConf, open_dict

        from lossbench.build import build

        node = OmegaConf.create(OmegaConf.to_container(self.node))
        if reduction is not None:
            with open_dict(node):
                node.reduction = reduction
        return build("loss", node, **self.stats)

    def rows(self) -> list[Row]:
        try:
            loss = self.build()
        except Exception as exc:
            return [Row(self.task, "builds", "FAIL", _one_line(exc))]
        out = [Row(self.task, "builds", "PASS", type(loss).__name__)]
        checks: list[tuple[str, Callable[[Any], tuple[str, str]]]] = [
            ("differentiable", self.differentiable),
            ("finite at extremes", self.extremes),
            ("perfect prediction", self.perfect),
        ]
        for name, fn in checks:
            try:
                result, detail = fn(loss)
            except Exception as exc:
                result, detail = "FAIL", _one_line(exc)
            out.append(Row(self.task, name, result, detail))
        for reduction in ("none", "mean", "sum"):
            try:
                result, detail = self.shape(reduction)
            except Exception as exc:
                result, detail = "FAIL", _one_line(exc)
            out.append(Row(self.task, f"reduction={reduction}", result, detail))
        return out

    def differentiable(self, loss: Callable) -> tuple[str, str]:
        import torch

        if isinstance(loss, torch.nn.Module):
            loss = loss.double()
        pred, target = sample(self.task, N_GRAD, self.n_classes, torch.float64, seed=1)
        pred.requires_grad_(True)
        torch.autograd.gradcheck(lambda x: loss(x, target), (pred,))
        (grad,) = torch.autograd.grad(loss(pred, target).sum(), pred)
        if not bool(grad.abs().sum() > 0):
            return "FAIL", "the gradient is zero everywhere: a non-differentiable step?"
        return "PASS", "gradcheck float64 on random inputs"

    def extremes(self, loss: Callable) -> tuple[str, str]:
        import torch

        if isinstance(loss, torch.nn.Module):
            loss = loss.float()
        if self.task == "classification":
            c = self.n_classes
            target = torch.arange(2 * c) % c
            right = torch.nn.functional.one_hot(target, c).float() * 2e4 - 1e4
            wrong = right.roll(1, dims=-1)
            pred = torch.cat([right[:c], wrong[c:]])
            what = "logits +-1e4, right and wrong"
        else:
            pred, target = sample(self.task, 8, 0, torch.float32, seed=2)
            pred = pred.sign() * 1e3
            target = -target.sign() * 1e3
            target[: len(target) // 2] = pred[: len(target) // 2]
            what = "predictions and targets +-1e3"
        pred.requires_grad_(True)
        value = loss(pred, target)
        (grad,) = torch.autograd.grad(value.sum(), pred)
        bad = [n for n, t in (("value", value), ("gradient", grad)) if not torch.isfinite(t).all()]
        if bad:
            return "FAIL", f"{' and '.join(bad)} not finite at {what}"
        return "PASS", what

    def perfect(self, loss: Callable) -> tuple[str, str]:
        import torch

        if getattr(loss, "minimum_at_target", True) is False:
            return "skip", "this loss's minimum is not at the target, by design"
        if isinstance(loss, torch.nn.Module):
            loss = loss.float()

        def value(pred: Any, target: Any) -> float:
            with torch.no_grad():
                return float(loss(pred, target).mean())

        if self.task == "classification":
            _, target = sample(self.task, N_CHECK, self.n_classes, torch.float32, seed=3)
            onehot = torch.nn.functional.one_hot(target, self.n_classes).float()
            perfect = value(5 * onehot, target)
            uniform = value(torch.zeros_like(onehot), target)
            wrong = value(5 * onehot.roll(1, dims=-1), target)
            detail = (
                f"L(right) = {perfect:.4g}, L(equal logits) = {uniform:.4g}, L(wrong) = {wrong:.4g}"
            )
            return ("PASS" if perfect < uniform and perfect < wrong else "FAIL"), detail
        _, target = sample(self.task, N_CHECK, 0, torch.float32, seed=3)
        at_target = value(target.clone(), target)
        g = torch.Generator().manual_seed(4)
        worst = float("inf")
        for scale in (0.01, 0.1, 1.0, 10.0):
            for _ in range(3):
                noisy = target + scale * torch.randn(target.shape, generator=g)
                worst = min(worst, value(noisy, target))
        ok = at_target <= worst + 1e-6 * (1 + abs(at_target))
        detail = f"L(y, y) = {at_target:.4g}; lowest perturbed {worst:.4g}"
        return ("PASS" if ok else "FAIL"), detail

    def shape(self, reduction: str) -> tuple[str, str]:
        import torch

        from lossbench.errors import ConfigError

        try:
            loss = self.build(reduction)
        except ConfigError as exc:
            return "skip", f"no reduction={reduction}: {exc}"
        pred, target = sample(self.task, N_CHECK, self.n_classes, torch.float32, seed=5)
        try:
            value = loss(pred, target)
        except ValueError as exc:
            if "reduction" in str(exc):
                return "skip", str(exc).splitlines()[0]
            raise
        got = tuple(value.shape)
        if reduction == "none":
            ok = value.ndim >= 1 and got[0] == N_CHECK
            want = f"[{N_CHECK}, ...]"
        else:
            ok, want = value.ndim == 0, "a scalar"
        if ok and not torch.isfinite(value).all():
            return "FAIL", "not finite"
        return ("PASS" if ok else "FAIL"), f"shape {list(got)} (want {want})"


def main(argv: list[str]) -> int:
    """``lossbench check [--config-dir DIR] [--classes N] OVERRIDES``; see module docstring."""
    parser = argparse.ArgumentParser(
        prog="lossbench check",
        description="Check a loss (built-in or your own) before training with it.",
        epilog="examples: lossbench check loss=focal loss.gamma=0.5 | "
        "lossbench check loss=custom loss._target_=examples.my_loss.my_loss",
    )
    parser.add_argument("overrides", nargs="*", help="the loss selection, as for `lossbench run`")
    parser.add_argument("--config-dir", help="extra config directory (your own loss YAMLs)")
    parser.add_argument("--classes", type=int, default=3, help="classes of the synthetic data")
    parser.add_argument(
        "--task",
        choices=TASKS,
        action="append",
        help="data family to check (repeatable); default: the loss's _tasks_",
    )
    args = parser.parse_args(argv)
    from lossbench.build import import_target
    from lossbench.errors import ConfigError

    if args.classes < 2:
        log.error("error: --classes must be >= 2")
        return 2
    try:
        node = compose_loss(args.overrides, args.config_dir)
        import_target("loss", node.get("_target_"))
    except Exception as exc:
        message = str(exc) if isinstance(exc, ConfigError) else _one_line(exc)
        log.error(f"error: {message}")
        return 2

    from rich.table import Table

    from lossbench.log import show

    tasks = args.task or [t for t in (node.get("_tasks_") or TASKS) if t in TASKS]
    rows = [row for task in tasks for row in Checker(node, task, args.classes).rows()]
    target = node.get("_target_", "?")
    table = Table(title=f"lossbench check: {target}", title_justify="left")
    for col in ("data", "check", "result", "detail"):
        table.add_column(col)
    style = {"PASS": "green", "FAIL": "bold red", "skip": "yellow"}
    for row in rows:
        table.add_row(row.data, row.check, f"[{style[row.result]}]{row.result}[/]", row.detail)
    show(log, table)
    failed = sum(r.result == "FAIL" for r in rows)
    log.info(f"{failed} failed, {sum(r.result == 'PASS' for r in rows)} passed")
    return 1 if failed else 0
