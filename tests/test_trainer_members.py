"""Members of a stacked model train exactly as separate single-seed runs.

For every built-in loss and model (read from ``configs/``), training seeds
[0, 1, 2] in one batched pass must give each seed bit-for-bit the history and
parameters of a run that trains that seed alone; early stopping and divergence
must act on one member without touching the others. (One torch thread, as a
run uses by default.)
"""

from __future__ import annotations

import functools

import pytest
import torch
from omegaconf import OmegaConf

from lossbench.build import build, tasks_of
from lossbench.data import Dataset, Split
from lossbench.data.synthetic import imbalanced
from lossbench.registry import config_dir
from lossbench.training.loop import Trainer, TrainSettings
from lossbench.training.loss_params import loss_parameters
from tests.conftest import composed

SEEDS = [0, 1, 2]
IMAGE_MODELS = ("cnn", "resnet32")


@pytest.fixture(autouse=True)
def one_thread():
    """As in a run (``trainer.num_threads=1``): with more threads torch splits work by
    total size, so member k's arithmetic could depend on K."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _settings(**kw) -> TrainSettings:
    base = dict(
        epochs=3,
        batch_size=32,
        monitor="loss",
        patience=None,
        evaluate="best",
        progress=False,
        fail_on_nan=False,
    )
    return TrainSettings(**{**base, **kw})


def _split(x: torch.Tensor, y: torch.Tensor) -> Split:
    return Split(x.contiguous(), y.contiguous())


@functools.cache
def _dataset(task: str) -> Dataset:
    """A small dataset of each family (regression and forecast are synthetic signals)."""
    if task == "classification":
        return imbalanced(n_samples=400)
    g = torch.Generator().manual_seed(0)
    if task == "regression":
        x = torch.randn(300, 5, generator=g)
        y = x @ torch.randn(5, generator=g) + 0.1 * torch.randn(300, generator=g)
    else:  # forecast: sine windows, input 12 steps, horizon 4
        t = torch.arange(300).unsqueeze(1) * 0.3 + torch.arange(16) * 0.3
        series = torch.sin(t) + 0.05 * torch.randn(300, 16, generator=g)
        x, y = series[:, :12].unsqueeze(-1), series[:, 12:]
    parts = [_split(x[a:b], y[a:b]) for a, b in ((0, 200), (200, 250), (250, 300))]
    return Dataset(task, task, *parts)


def _yaml(group: str) -> dict[str, object]:
    """Each option's own YAML file (enough to read ``_tasks_``; :func:`composed` to build)."""
    return {p.stem: OmegaConf.load(p) for p in sorted((config_dir() / group).glob("*.yaml"))}


def _cases() -> list[tuple[str, str, str]]:
    losses, models = _yaml("loss"), _yaml("model")
    cases = []
    for loss_name, loss_node in losses.items():
        if OmegaConf.is_missing(loss_node, "_target_"):  # `custom`: the user names the class
            continue
        for task in tasks_of(loss_node) or ("classification",):
            for model_name, model_node in models.items():
                # image models (need [C, H, W] data) and `custom` (the user's class) are
                # checked member by member in tests/test_models_vision.py, test_user_model.py
                if model_name in IMAGE_MODELS or OmegaConf.is_missing(model_node, "_target_"):
                    continue
                if not tasks_of(model_node) or task in tasks_of(model_node):
                    cases.append((loss_name, model_name, task))
    return cases


def _train(loss_name: str, model_name: str, data: Dataset, seeds: list[int], settings=None):
    model_node = composed("model", model_name)
    if "dropout" in model_node:  # exercise the per-member dropout streams
        model_node.dropout = 0.2
    model = build(
        "model",
        model_node,
        in_features=data.in_features,
        out_features=data.out_features,
        seeds=seeds,
    )
    # one loss instance per member, as the runner builds them (a loss may keep state, e.g.
    # SOAP's per-sample averages, or own parameters, e.g. AUC-M's a, b, alpha)
    loss_fns = [build("loss", composed("loss", loss_name), **data.stats()) for _ in seeds]
    params = [*model.parameters(), *loss_parameters(loss_fns)]
    opt = torch.optim.Adam(params, lr=1e-2, fused=True)
    trainer = Trainer(model, loss_fns, opt, data, settings or _settings())
    return trainer, trainer.fit()


def _assert_same_member(batched, single) -> None:
    assert batched.seed == single.seed
    assert batched.status == single.status
    assert batched.epochs_run == single.epochs_run
    assert batched.best_epoch == single.best_epoch
    assert batched.diverged_epoch == single.diverged_epoch
    assert batched.history == single.history  # exact float equality
    if single.state is None:
        assert batched.state is None
    else:
        for a, b in zip(batched.state, single.state, strict=True):
            assert torch.equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize(("loss_name", "model_name", "task"), _cases())
def test_batched_seeds_equal_single_runs(loss_name, model_name, task):
    data = _dataset(task)
    _, batched = _train(loss_name, model_name, data, SEEDS)
    for k, seed in enumerate(SEEDS):
        _, (single,) = _train(loss_name, model_name, data, [seed])
        _assert_same_member(batched[k], single)


def test_early_stopping_is_per_member():
    data = _dataset("classification")
    settings = _settings(epochs=40, patience=2, evaluate="last")
    _, batched = _train("ce", "mlp", data, SEEDS, settings)
    stopped = [r.epochs_run for r in batched]
    assert len(set(stopped)) > 1, f"members should stop at different epochs, got {stopped}"
    assert max(stopped) < 40
    for k, seed in enumerate(SEEDS):
        _, (single,) = _train("ce", "mlp", data, [seed], settings)
        _assert_same_member(batched[k], single)


def test_one_diverging_member_leaves_the_others_untouched():
    data = _dataset("classification")

    def train(seeds: list[int], poison: int | None):
        model = build(
            "model",
            _yaml("model")["mlp"],
            in_features=data.in_features,
            out_features=2,
            seeds=seeds,
        )
        if poison is not None:  # member `poison` starts with overflowing weights
            with torch.no_grad():
                model.layers[0].weight[poison].fill_(1e38)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
        loss_fn = build("loss", _yaml("loss")["ce"])
        return Trainer(model, loss_fn, opt, data, _settings(epochs=4)).fit()

    batched = train(SEEDS, poison=1)
    assert batched[1].status == "diverged" and batched[1].diverged_epoch == 1
    assert batched[1].epochs_run == 1
    for k in (0, 2):
        (single,) = train([SEEDS[k]], poison=None)
        assert single.status == "completed"
        _assert_same_member(batched[k], single)


def test_large_splits_are_predicted_in_chunks_with_the_same_outputs(monkeypatch):
    """Evaluation in chunks of EVAL_ROWS rows gives the outputs of one pass (to rounding)
    and bounds the rows per forward."""
    import torch

    from lossbench.data.base import Dataset, Split
    from lossbench.models import MLP
    from lossbench.training import loop

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 4, generator=gen), torch.randint(0, 3, (50,), generator=gen)
    data = Dataset("t", "classification", Split(x, y), Split(x, y), Split(x, y), n_classes=3)
    model = MLP(4, 3, hidden_sizes=(8,), seeds=[0, 1])
    settings = loop.TrainSettings(1, None, "loss", None, "last", False, False)
    trainer = loop.Trainer(
        model, torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), 0.1), data, settings
    )
    whole = trainer.predict_split("test")
    seen = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda xb: (seen.append(xb.shape[1]), forward(xb))[1])
    monkeypatch.setattr(loop, "EVAL_ROWS", 16)
    chunked = trainer.predict_split("test")
    assert seen == [16, 16, 16, 2]
    torch.testing.assert_close(chunked, whole)
