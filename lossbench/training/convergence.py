"""Did a member converge? The "probably undertrained" warning of a finished training.

An undertrained baseline manufactures wins for every loss compared against it, so
a run says so instead of letting a report read as a verdict.
"""

from __future__ import annotations

from lossbench.training.loop import MemberResult

TAIL_TENTHS = 1  # the tail checked: the last 10 % of the epochs run


def tail_start(epochs_run: int) -> int:
    """First epoch of the last ``ceil(epochs_run / 10)`` epochs (the "last 10 %")."""
    return epochs_run - -(-epochs_run * TAIL_TENTHS // 10) + 1


def undertrained_warning(result: MemberResult, epochs: int) -> str | None:
    """The warning for a member that was probably still learning when training ended.

    Rule: with ``N = epochs_run``, warn when the member completed, ran the whole
    budget (``N == epochs``: a run ended by early stopping saw ``patience`` epochs
    without improvement, so it has converged by its own criterion) and its best
    validation monitor value was first reached in the last ``ceil(N / 10)`` epochs,
    i.e. ``best_epoch >= N - ceil(N / 10) + 1``. Because an epoch counts as best only
    when it strictly improves on every earlier eligible epoch, this is the same as
    "the monitor was still improving over the last 10 % of epochs" (it reached a new
    best there), whether the evaluated epoch is the best (``evaluate=best``) or the
    last one (``evaluate=last``; the best epoch is tracked either way). Examples:
    best epoch 37 of 40 warns (tail 37..40), 36 of 40 does not; 3 of 3 warns.
    Integer arithmetic, so 30 epochs has a tail of exactly 3.
    """
    if result.status != "completed" or result.best_epoch is None:
        return None
    n = result.epochs_run
    if n < epochs or result.best_epoch < tail_start(n):
        return None
    return f"probably undertrained: best epoch {result.best_epoch} of {n}; raise trainer.epochs"


def crt_undertrained_warning(result: MemberResult) -> str | None:
    """The same rule for the classifier re-training phase (``result.crt``, Kang et al.
    2020's cRT): its best epoch in the last 10 % of ``trainer.crt_epochs``."""
    crt = result.crt or {}
    best, n = crt.get("best_epoch"), crt.get("epochs_run")
    if result.status != "completed" or best is None or not n or best < tail_start(n):
        return None
    return f"cRT probably undertrained: best cRT epoch {best} of {n}; raise trainer.crt_epochs"
