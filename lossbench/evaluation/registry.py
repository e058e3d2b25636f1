"""The one registry of metric facts: each metric's tasks, its direction, the default per task.

Training (early stopping, the best epoch), ``trainer.monitor`` validation and the
report (which difference is a win) all read the direction from here, so they cannot
disagree. Torch-free: the report imports it without loading torch.

Names not in the registry follow one rule, :func:`greater_is_better`:

1. ``train_``/``val_``/``test_`` + a registered name: that metric's direction;
   ``train_``/``val_`` + anything else (``val_loss``, a loss term's ``val_<term>``
   from ``components()``): a loss value, lower is better.
2. A family pattern (``recall_class_<c>``: higher is better).
3. A name with an error-like part (``loss``, ``error``, ``mse``, ``mae``, ``dtw``, ...
   between underscores, see :data:`ERROR_WORDS`): lower is better.
4. Anything else (accuracy, recall, F1, AUC-like scores): higher is better.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLASSIFICATION, REGRESSION, FORECAST = "classification", "regression", "forecast"
TASKS = (CLASSIFICATION, REGRESSION, FORECAST)
# Target regions of imbalanced regression and shot groups of long-tailed classification
# (Yang et al. 2021; Liu et al. 2019).
GROUPS = ("many", "medium", "few")


@dataclass(frozen=True)
class Metric:
    """A metric as the tables show it: its name, the tasks that report it, its direction."""

    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    doc: str = ""


def _m(name: str, tasks: tuple[str, ...], greater: bool, doc: str = "") -> Metric:
    return Metric(name, tasks, greater, doc)


_C, _R, _F = (CLASSIFICATION,), (REGRESSION,), (FORECAST,)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        _m("accuracy", _C, True, "fraction of correct predictions"),
        _m("balanced_accuracy", _C, True, "mean recall over classes"),
        _m("macro_f1", _C, True, "unweighted mean F1 over classes"),
        _m("gmean", _C, True, "geometric mean of class recalls (Kubat & Matwin 1997)"),
        _m("ece", _C, False, "expected calibration error, 15 bins (Guo et al. 2017)"),
        *(_m(f"{g}_shot_accuracy", _C, True, f"accuracy on {g}-shot classes") for g in GROUPS),
        _m("roc_auc", _C, True, "binary: area under the ROC curve"),
        _m("average_precision", _C, True, "binary: area under the precision-recall curve"),
        _m("f1_best_threshold", _C, True, "binary: best F1 over thresholds (oracle)"),
        _m("mse", (REGRESSION, FORECAST), False, "mean squared error"),
        _m("mae", (REGRESSION, FORECAST), False, "mean absolute error"),
        *(
            _m(f"{m}_{g}", _R, False, f"{m.upper()} on the {g}-shot target region")
            for m in ("mse", "mae")
            for g in GROUPS
        ),
        _m("gmean_ae", _R, False, "geometric mean of absolute errors (Yang et al. 2021)"),
        _m("dtw", _F, False, "dynamic time warping distance"),
        _m("tdi", _F, False, "temporal distortion index (Le Guen & Thome 2019)"),
        _m("smape", _F, False, "symmetric MAPE in percent"),
        _m("mase", _F, False, "mean absolute scaled error (Hyndman & Koehler 2006)"),
        _m("loss", TASKS, False, "the training loss on the validation split"),
    ]
}

# Families of names with a varying part: (pattern, direction).
PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = ((re.compile(r"^recall_class_\d+$"), True),)

# Name parts that mark an error-like quantity (rule 3).
ERROR_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "ae",
        "mse",
        "rmse",
        "mae",
        "mape",
        "smape",
        "mase",
        "nll",
        "ece",
        "brier",
        "dtw",
        "tdi",
        "pinball",
        "crps",
        "distance",
        "regret",
    }
)

GREATER_IS_BETTER: dict[str, bool] = {name: m.greater_is_better for name, m in METRICS.items()}

# The metric a run monitors (``trainer.monitor=auto``) and a report headlines
# (``report.metric=auto``) for each task.
DEFAULT_METRIC: dict[str, str] = {
    CLASSIFICATION: "balanced_accuracy",
    REGRESSION: "mse",
    FORECAST: "mse",
}
DEFAULT_MONITOR = DEFAULT_METRIC

_SPLIT_PREFIX = re.compile(r"^(train|val|test)_(.+)$")


def greater_is_better(name: str) -> bool:
    """Direction of the metric or history column ``name`` (module docstring: the rule)."""
    if name in GREATER_IS_BETTER:
        return GREATER_IS_BETTER[name]
    prefixed = _SPLIT_PREFIX.match(name)
    if prefixed:
        split, rest = prefixed.groups()
        if rest in GREATER_IS_BETTER or any(p.match(rest) for p, _ in PATTERNS):
            return greater_is_better(rest)
        if split != "test":
            return False  # val_loss, train_loss, val_<term>: loss values
        name = rest
    for pattern, greater in PATTERNS:
        if pattern.match(name):
            return greater
    return not any(part in ERROR_WORDS for part in name.lower().split("_"))


def is_test_metric(name: str) -> bool:
    """Whether ``name`` is a test metric some task reports (a registered name or a
    family member such as ``recall_class_3``): what ``report.metric`` may name."""
    return (name in METRICS and name != "loss") or any(p.match(name) for p, _ in PATTERNS)


def direction(name: str) -> str:
    """``higher is better`` or ``lower is better``, for tables."""
    return "higher is better" if greater_is_better(name) else "lower is better"


def default_metric(task: str) -> str:
    """The headline / monitored metric of ``task`` ('' for an unknown task)."""
    return DEFAULT_METRIC.get(task, "")


def metrics_for(task: str) -> list[str]:
    """Registered metric names reported for ``task`` (families such as recall_class_<c> aside)."""
    return [name for name, m in METRICS.items() if task in m.tasks and name != "loss"]
