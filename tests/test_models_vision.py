"""Image models (model=cnn, model=resnet32): shapes, the published ResNet-32 layout, and
training on a small synthetic image dataset [N, 1, 8, 8] built here, with seeds batched."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from lossbench.build import build_model
from lossbench.data.base import Dataset, Split
from lossbench.losses import CrossEntropyLoss
from lossbench.models import CNN, ResNet32
from lossbench.models.vision import BasicBlock
from lossbench.training.loop import Trainer, TrainSettings
from tests.conftest import composed


def _images(n: int, seed: int) -> Split:
    """Class c in 0..2: a bright 4x4 quadrant c (of three) on noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.5 * torch.randn(n, 1, 8, 8, generator=g)
    for i, c in enumerate(y.tolist()):
        r, col = divmod(c, 2)
        x[i, 0, 4 * r : 4 * r + 4, 4 * col : 4 * col + 4] += 1.5
    return Split(x, y)


def _dataset() -> Dataset:
    return Dataset(
        "quadrants", "classification", _images(192, 0), _images(96, 1), _images(96, 2), 3
    )


def _model(name: str, seeds: list[int], data: Dataset, **params):
    node = composed("model", name)
    for k, v in params.items():
        node[k] = v
    return build_model(
        OmegaConf.to_container(node),
        seeds,
        in_features=data.in_features,
        out_features=data.out_features,
        input_shape=list(data.train.x.shape[1:]),
    )


def _fit(model, data: Dataset, epochs: int):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    settings = TrainSettings(epochs, 32, "balanced_accuracy", None, "last", False, False)
    return Trainer(model, CrossEntropyLoss(), opt, data, settings).fit()


def test_resnet32_is_the_published_layout():
    """3 stages x 5 BasicBlocks (16/32/64 channels), 31 convs + 1 linear = 32 weighted
    layers, ~0.46M parameters for 10 classes (He et al. 2016, table 6: 0.46M)."""
    net = ResNet32(3 * 32 * 32, 10, input_shape=[3, 32, 32])
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 15
    assert [b.conv2.out_channels for b in blocks] == [16] * 5 + [32] * 5 + [64] * 5
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == 32  # option A: shortcuts have no weights
    n_params = sum(p.numel() for p in net.parameters())
    assert 0.45e6 < n_params < 0.47e6
    out = net(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10)


def test_cnn_shapes_and_non_image_input_is_refused():
    assert CNN(784, 10, input_shape=[1, 28, 28])(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert CNN(64, 3, input_shape=[8, 8])(torch.randn(2, 8, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="needs images"):
        CNN(10, 3, input_shape=[10])


@pytest.mark.parametrize("name", ["cnn", "resnet32"])
def test_image_model_learns_and_members_equal_single_runs(name):
    data = _dataset()
    epochs = 3 if name == "cnn" else 2
    model = _model(name, [0, 1], data)
    assert model.mode == "loop"  # BatchNorm: exact per seed (see lossbench.models.functional)
    assert model.warnings == []  # lossbench's own models: documented, not announced per run
    results = _fit(model, data, epochs)
    preds = model(data.test.x.expand(2, *data.test.x.shape)).argmax(-1)
    acc = (preds == data.test.y).float().mean(-1)
    assert (acc > 0.6).all(), acc  # chance is 1/3
    single = _model(name, [1], data)
    results1 = _fit(single, data, epochs)
    assert results1[0].history == results[1].history
    for a, b in zip(single.member_state(0), model.member_state(1), strict=True):
        assert torch.equal(a, b)


def test_image_models_declare_classification_and_expose_their_classifier():
    for name in ("cnn", "resnet32"):
        assert list(composed("model", name)["_tasks_"]) == ["classification"]
    data = _dataset()
    for batching in ("auto", "vmap"):  # auto: loop (BatchNorm)
        model = _model("resnet32", [0, 1], data, _batching_=batching)
        head = model.classifier_head()
        assert head.weight.shape == (2, 3, 64) and head.bias.shape == (2, 3)
        x = data.test.x[:5].expand(2, 5, 1, 8, 8)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.copy_(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        model.eval()
        assert torch.equal(model(x), head.bias.unsqueeze(1).expand(2, 5, 3))
