"""Training with AUC losses: PESG against LibAUC's update, sample indices reaching the loss,
batched seeds equal to single runs with loss parameters and per-sample state, a user's
own min-max loss through ``loss=custom``."""

from __future__ import annotations

import textwrap

import pytest
import torch

from lossbench.training.loss_params import MAXIMIZED, loss_parameters, wants_index
from lossbench.training.optim import make_optimizer
from lossbench.training.pesg import PESG
from tests.conftest import read_metrics
from tests.libauc_reference import PESGReference
from tests.test_seeds import _computed

KW = dict(lr=0.1, momentum=0.9, weight_decay=1e-3, epoch_decay=0.05, clip_value=0.5)


def test_pesg_steps_equal_libauc():
    """Five steps, a stage reset (LibAUC's update_regularizer), five more: the parameters
    equal LibAUC's PESG (mode sgd, its model_ref set to the initial point), element-wise."""
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 2, generator=g, dtype=torch.float64) for _ in range(2)]
    ref = PESGReference(params, params, **KW)
    mine = [p.clone().requires_grad_(True) for p in params]
    opt = make_optimizer(lambda ps: PESG(ps, decay_epochs=[3], decay_factor=4.0, **KW), mine)
    for epoch in (1, 2, 3):
        opt.on_epoch_start(epoch, 3)
        if epoch == 3:
            ref.update_regularizer(4.0)
        for _ in range(5 if epoch != 2 else 0):
            grads = [torch.randn(3, 2, generator=g, dtype=torch.float64) for _ in mine]
            for p, gr in zip(mine, grads, strict=True):
                p.grad = gr.clone()
            opt.step()
            ref.step(grads)
            for p, r in zip(mine, ref.params, strict=True):
                torch.testing.assert_close(p.detach(), r, rtol=0, atol=1e-14)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


def test_pesg_ascends_maximised_parameters():
    """A maximised parameter (reversed gradient) takes a plain ascent step: no clipping,
    momentum or decay."""
    w = torch.nn.Parameter(torch.tensor([2.0]))
    alpha = torch.nn.Parameter(torch.tensor([0.0]))
    setattr(alpha, MAXIMIZED, True)
    alpha.register_hook(torch.neg)
    opt = PESG([w, alpha], **KW)
    (w * 3.0 + alpha * 5.0).sum().backward()  # d/d alpha = 5 -> ascent by lr * 5
    opt.step()
    assert float(alpha.detach()) == pytest.approx(0.5)
    assert float(w.detach()) == pytest.approx(2.0 - 0.1 * (0.5 + 1e-3 * 2.0))


def test_pesg_decay_epochs_and_bad_values():
    opt = PESG([torch.nn.Parameter(torch.zeros(1))], decay_epochs=[0.5, 0.75, 7])
    assert opt.decay_at(20) == {11, 16, 7}
    for bad in ({"decay_epochs": [1]}, {"lr": 0}, {"momentum": 2}, {"epoch_decay": -1}):
        with pytest.raises(ValueError):
            PESG([torch.nn.Parameter(torch.zeros(1))], **bad)


class _Recorder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor | None] = []

    def forward(self, pred, target, index=None):
        self.seen.append(None if index is None else index.clone())
        return torch.nn.functional.cross_entropy(pred, target)


def test_wants_index_needs_a_default():
    assert wants_index(_Recorder()) and not wants_index(torch.nn.CrossEntropyLoss())

    def bad(pred, target, index):
        return pred.sum()

    with pytest.raises(ValueError, match="index=None"):
        wants_index(bad)


def test_maximize_must_name_a_parameter():
    class Bad(torch.nn.Module):
        maximize = ("beta",)

    with pytest.raises(ValueError, match="not a parameter"):
        loss_parameters([Bad()])


def test_trainer_passes_each_members_training_rows(tmp_path):
    """In training each member's loss gets its own batch rows (the rows its batch holds),
    covering the split once per epoch; at validation no index."""
    from omegaconf import OmegaConf

    from lossbench.build import build
    from lossbench.data.synthetic import imbalanced
    from lossbench.models.stacked import StackedModel  # noqa: F401 - the default model
    from lossbench.training.loop import Trainer, TrainSettings

    data = imbalanced(n_samples=300, seed=0)
    model = build(
        "model",
        OmegaConf.load("configs/model/mlp.yaml"),
        in_features=data.in_features,
        out_features=data.out_features,
        input_shape=list(data.train.x.shape[1:]),
        seeds=[0, 1],
    )
    losses = [_Recorder(), _Recorder()]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    settings = TrainSettings(2, 64, "loss", None, "best", False, False)
    Trainer(model, losses, opt, data, settings).fit()
    n = len(data.train)
    for loss in losses:
        train = [i for i in loss.seen if i is not None]
        assert len(loss.seen) - len(train) == 2  # one validation call per epoch, no index
        first_epoch = torch.cat(train[: len(train) // 2])
        assert sorted(first_epoch.tolist()) == list(range(n))
    assert not torch.equal(losses[0].seen[0], losses[1].seen[0])  # own orders
    # full batch: every row, in the stored order
    full = [_Recorder(), _Recorder()]
    settings = TrainSettings(1, None, "loss", None, "best", False, False)
    Trainer(model, full, torch.optim.SGD(model.parameters(), lr=0.01), data, settings).fit()
    for loss in full:
        assert torch.equal(loss.seen[0], torch.arange(n)) and loss.seen[1] is None


COMMON = ["trainer.epochs=3", "trainer.progress=false", "dataset.n_samples=600"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["loss=auc_margin", "optimizer=pesg", "optimizer.decay_epochs=[2]"],
        ["loss=average_precision", "trainer.batch_size=64"],
        ["loss=auc_pairwise", "loss.pretrain_epochs=1", "trainer.monitor=roc_auc"],
    ],
    ids=["auc_margin-pesg", "average_precision", "pairwise-pretrain"],
)
def test_batched_seeds_equal_single_runs(cli, tmp_path, args):
    cli("run", "seeds=3", *COMMON, *args, "hydra.run.dir=batch")
    cli("run", "-m", "seed=0,1,2", *COMMON, *args, "hydra.sweep.dir=sep")
    singles = {
        read_metrics(p.parent)["seed"]: p.parent for p in (tmp_path / "sep").rglob("metrics.json")
    }
    assert sorted(singles) == [0, 1, 2]
    values = set()
    for seed, single in singles.items():
        member = tmp_path / "batch" / f"seed_{seed}"
        batched = read_metrics(member)
        assert batched["status"] == "completed"
        assert _computed(batched) == _computed(read_metrics(single)), seed
        history = (member / "history.csv").read_text()
        assert history == (single / "history.csv").read_text()
        values.add(history)
    assert len(values) == 3  # the seeds differ


MY_LOSS = '''
import torch
from torch import nn


class MyMinMax(nn.Module):
    """A user's min-max loss: CE + alpha * (mean positive-class margin gap) - alpha^2 / 2."""

    maximize = ("alpha",)

    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(()))

    def on_epoch_start(self, epoch, epochs):
        with open("alpha.txt", "a") as f:
            f.write(f"{float(self.alpha.detach())}\\n")

    def forward(self, pred, target, index=None):
        ce = nn.functional.cross_entropy(pred, target)
        gap = 0.5 - (pred[:, 1] - pred[:, 0]).mean()
        return ce + self.alpha * gap - self.alpha ** 2 / 2
'''


@pytest.mark.slow
def test_user_min_max_loss_through_custom(cli, tmp_path, monkeypatch):
    """A maximised parameter of a user's own loss trains with no lossbench change: its
    alpha follows the ascent (alpha tracks the maximiser, the gap, which is > 0 here)."""
    (tmp_path / "mymod.py").write_text(textwrap.dedent(MY_LOSS))
    monkeypatch.syspath_prepend(str(tmp_path))  # a module beside the user's working dir
    cli("run", "loss=custom", "loss._target_=mymod.MyMinMax", *COMMON, "hydra.run.dir=job")
    record = read_metrics(tmp_path / "job")
    assert record["status"] == "completed"
    # at epochs 1, 2, 3: alpha rises (gap > 0; descent would lower it), Adam steps of ~lr
    alphas = [float(v) for v in (tmp_path / "alpha.txt").read_text().split()]
    assert alphas[0] == 0 and 0 < alphas[1] < alphas[2] < 0.01
    from mymod import MyMinMax

    loss = MyMinMax()
    (alpha,) = loss_parameters([loss])
    opt = torch.optim.SGD([alpha], lr=0.5)
    pred = torch.zeros(4, 2)
    for _ in range(50):
        opt.zero_grad()
        loss(pred, torch.tensor([0, 1, 0, 1])).backward()
        opt.step()
    assert float(alpha.detach()) == pytest.approx(0.5, abs=1e-6)  # argmax of a*0.5 - a^2/2
