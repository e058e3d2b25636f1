"""Which epoch a run evaluates, and when it says it was cut short.

A tiny trainer on a small imbalanced set: the "probably undertrained" rule
(triggering and not), a scheduled loss's switch limiting the eligible epochs,
post-hoc logit adjustment choosing the epoch on adjusted logits, and
``loss_is_batchable`` finding a user's loss module in the current directory.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from omegaconf import OmegaConf

from lossbench.data.synthetic import imbalanced
from lossbench.errors import ConfigError
from lossbench.evaluation.metrics import monitor_value
from lossbench.evaluation.posthoc import check_tau, logit_adjuster
from lossbench.experiment import loss_is_batchable
from lossbench.losses import CrossEntropyLoss
from lossbench.models.mlp import MLP
from lossbench.training.convergence import tail_start, undertrained_warning
from lossbench.training.loop import MemberResult, Trainer, TrainSettings
from tests.conftest import FAST, read_metrics
from tests.inprocess import run_inprocess

DATA = imbalanced(n_samples=600, seed=0)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class ScheduledCE(CrossEntropyLoss):
    """CE whose (fake) schedule switches at epoch ``switch``: nothing else changes."""

    def __init__(self, *, switch: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.switch = switch

    def schedule_switch_epoch(self, epochs: int) -> int | None:
        return self.switch


def _fit(
    epochs: int,
    lr: float,
    *,
    seeds: tuple[int, ...] = (0, 1),
    loss: type = CrossEntropyLoss,
    adjust=None,
    **settings,
) -> tuple[Trainer, list[MemberResult]]:
    base = dict(
        epochs=epochs,
        batch_size=None,
        monitor="loss",
        patience=None,
        evaluate="best",
        progress=False,
        fail_on_nan=False,
    )
    model = MLP(
        in_features=DATA.in_features,
        out_features=DATA.out_features,
        hidden_sizes=[16],
        seeds=list(seeds),
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = [loss(**({"switch": settings.pop("switch")} if "switch" in settings else {}))]
    trainer = Trainer(
        model, losses * len(seeds), opt, DATA, TrainSettings(**{**base, **settings}), adjust
    )
    return trainer, trainer.fit()


# -- the undertrained rule ----------------------------------------------------
@pytest.mark.parametrize(("n", "start"), [(1, 1), (3, 3), (10, 10), (11, 10), (30, 28), (40, 37)])
def test_tail_is_the_last_tenth_rounded_up(n, start):
    assert tail_start(n) == start


@pytest.mark.parametrize(
    ("best", "run", "budget", "warns"),
    [
        (37, 40, 40, True),
        (36, 40, 40, False),
        (40, 40, 40, True),
        (3, 3, 3, True),
        (28, 30, 30, True),
        (27, 30, 30, False),
        (18, 20, 40, False),
    ],  # last: stopped early
)
def test_undertrained_rule(best, run, budget, warns):
    result = MemberResult(seed=0, best_epoch=best, epochs_run=run)
    warning = undertrained_warning(result, budget)
    if warns:
        assert warning == f"probably undertrained: best epoch {best} of {run}; raise trainer.epochs"
    else:
        assert warning is None


def test_still_learning_trainer_warns():
    """Three full-batch epochs at a small lr: the validation loss falls every epoch."""
    _, results = _fit(epochs=3, lr=0.05)
    for r in results:
        assert [row["val_loss"] for row in r.history] == sorted(
            (row["val_loss"] for row in r.history), reverse=True
        )
        assert r.best_epoch == 3
        assert undertrained_warning(r, 3) == (
            "probably undertrained: best epoch 3 of 3; raise trainer.epochs"
        )


def test_converged_trainer_does_not_warn():
    """lr = 0: nothing changes, the first epoch stays best (a strict improvement is needed)."""
    _, results = _fit(epochs=10, lr=0.0)
    assert {r.best_epoch for r in results} == {1}
    assert all(undertrained_warning(r, 10) is None for r in results)


def test_early_stopped_trainer_does_not_warn():
    _, results = _fit(epochs=10, lr=0.0, patience=2)
    assert {r.epochs_run for r in results} == {3}
    assert all(undertrained_warning(r, 10) is None for r in results)


def test_evaluate_last_warns_while_improving():
    _, results = _fit(epochs=4, lr=0.05, evaluate="last")
    assert all(undertrained_warning(r, 4) is not None for r in results)


def test_warning_reaches_the_record_and_console(tmp_path, capsys):
    run_inprocess([*FAST, "trainer.monitor=loss", "trainer.batch_size=full"], tmp_path / "job")
    record = read_metrics(tmp_path / "job")
    assert record["warnings"] == ["probably undertrained: best epoch 3 of 3; raise trainer.epochs"]
    assert "warning: probably undertrained: best epoch 3 of 3" in capsys.readouterr().err


# -- scheduled losses ---------------------------------------------------------
def test_best_epoch_is_not_before_the_schedule_switch():
    """lr = 0 makes every epoch equal, so without a switch epoch 1 would be best."""
    _, results = _fit(epochs=6, lr=0.0, loss=ScheduledCE, switch=5, patience=1)
    for r in results:
        assert (r.eligible_from, r.best_epoch) == (5, 5)
        assert r.epochs_run == 6  # patience counts from the first eligible epoch only
    _, plain = _fit(epochs=6, lr=0.0, loss=ScheduledCE, switch=None)
    assert {(r.eligible_from, r.best_epoch) for r in plain} == {(1, 1)}


def test_schedule_switch_is_recorded(tmp_path):
    target = f"{ScheduledCE.__module__}.ScheduledCE"
    run_inprocess([*FAST, f"loss._target_={target}", "+loss.switch=2"], tmp_path / "job")
    record = read_metrics(tmp_path / "job")
    assert record["eligible_from_epoch"] == 2 and record["best_epoch"] >= 2


def test_schedule_switch_after_the_budget_is_a_config_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_inprocess(
            [*FAST, f"loss._target_={ScheduledCE.__module__}.ScheduledCE", "+loss.switch=9"],
            tmp_path / "job",
        )
    assert exc.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "switches at epoch 9, outside the run's epochs 1..3; raise trainer.epochs" in line


# -- post-hoc logit adjustment ------------------------------------------------
def test_epoch_is_chosen_on_adjusted_logits():
    prior = DATA.stats()["class_prior"]
    adjust = logit_adjuster(prior, 2.0)
    trainer, results = _fit(
        epochs=12, lr=0.5, adjust=adjust, monitor="balanced_accuracy", seeds=(0, 1, 2)
    )
    val = DATA.val
    raw_differs = False
    for k, r in enumerate(results):
        trainer.load_member_state(k, r.state)
        pred = trainer.predict(val)[k]
        assert monitor_value("balanced_accuracy", DATA, val.y, adjust(pred)) == r.best_value
        raw = monitor_value("balanced_accuracy", DATA, val.y, pred)
        raw_differs |= raw != r.best_value
    assert raw_differs, "the adjustment should change balanced accuracy on this data"


def test_adjuster_matches_the_formula():
    z = torch.randn(2, 5, 3, dtype=torch.float64)
    prior = [0.7, 0.2, 0.1]
    expected = z - 1.5 * torch.log(torch.tensor(prior, dtype=torch.float64))
    torch.testing.assert_close(logit_adjuster(prior, 1.5)(z), expected, rtol=0, atol=0)
    assert logit_adjuster(prior, 0.0) is None


@pytest.mark.parametrize("bad", [-0.5, "one", True, float("nan"), None])
def test_bad_posthoc_tau(bad):
    with pytest.raises(ConfigError, match="eval.posthoc_tau must be a number >= 0"):
        check_tau(bad)


def test_posthoc_tau_on_regression_is_one_line_exit_2(tmp_path, capsys):
    args = ["dataset=diabetes", "loss=mse", "eval.posthoc_tau=1.0", "trainer.epochs=1"]
    with pytest.raises(SystemExit) as exc:
        run_inprocess(args, tmp_path / "job")
    assert exc.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "eval.posthoc_tau=1.0 adjusts class logits" in line and "set eval.posthoc_tau=0" in line


# -- batchable, resolved like the builder -------------------------------------
def test_batchable_false_found_in_the_cwd(tmp_path, monkeypatch):
    """The ``lossbench`` console script does not put the cwd on sys.path; the builder
    (and so loss_is_batchable) looks there too."""
    (tmp_path / "cwd_user_loss.py").write_text(
        textwrap.dedent(
            """
            from lossbench.losses import CrossEntropyLoss

            class MyLoss(CrossEntropyLoss):
                batchable = False
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwd_user_loss", raising=False)
    cfg = OmegaConf.create({"loss": {"_target_": "cwd_user_loss.MyLoss"}})
    assert loss_is_batchable(cfg) is False
    assert loss_is_batchable(OmegaConf.create({"loss": {"_target_": "nowhere.Loss"}})) is True
