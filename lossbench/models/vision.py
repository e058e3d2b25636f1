"""Image classifiers as plain ``nn.Module`` s: a small CNN and the CIFAR ResNet-32.

Both take one image ``[C, H, W]`` per sample (``input_shape`` from the data; a
``[H, W]`` image is taken as one channel) and are batched over seeds by
:class:`~lossbench.models.functional.PlainMembers`, like a user's own module.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


def image_shape(in_features: int, input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    """``(C, H, W)`` of one sample; a one-line error for data that are not images."""
    shape = [int(s) for s in input_shape] if input_shape is not None else [int(in_features)]
    if len(shape) == 2:
        shape = [1, *shape]
    if len(shape) != 3:
        raise ValueError(
            f"needs images [C, H, W] (or [H, W]), but a sample has shape {shape}; "
            "use a dataset of images or model=mlp"
        )
    return shape[0], shape[1], shape[2]


def _as_images(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    return x.reshape(x.shape[0], *shape)


class CNN(nn.Module):
    """Small CNN: per entry of ``channels`` a 3x3 conv - BatchNorm - ReLU block followed by
    2x2 max-pooling (while the map is at least 2x2), then global average pooling and a
    linear classifier.

    Args:
        in_features: pixels per sample (C * H * W).
        out_features: number of classes.
        channels: output channels of each conv block.
        input_shape: ``[C, H, W]`` of one image (given by the runner).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        channels: Sequence[int] = (32, 64),
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.shape = image_shape(in_features, input_shape)
        if not channels or any(int(c) < 1 for c in channels):
            raise ValueError(f"channels must be positive integers, got {list(channels)}")
        blocks: list[nn.Module] = []
        size = min(self.shape[1:])
        c_in = self.shape[0]
        for c in channels:
            blocks += [
                nn.Conv2d(c_in, int(c), 3, padding=1, bias=False),
                nn.BatchNorm2d(int(c)),
                nn.ReLU(),
            ]
            if size >= 2:
                blocks.append(nn.MaxPool2d(2))
                size //= 2
            c_in = int(c)
        self.features = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(_as_images(x, self.shape))
        return self.fc(h.mean(dim=(2, 3)))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity shortcut; where the shape changes, the
    shortcut subsamples by 2 and zero-pads the new channels ("option A", He et al. 2016,
    section 4.2: parameter-free, as in the CIFAR experiments)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = (planes - in_planes) // 2 if (stride != 1 or in_planes != planes) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x
        if self.pad is not None:
            short = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class ResNet32(nn.Module):
    """ResNet-32 for CIFAR-sized images (He et al. 2016, "Deep residual learning for image
    recognition", section 4.2, n = 5): a 3x3 conv with 16 channels, three stages of five
    :class:`BasicBlock` s with 16, 32 and 64 channels (stride 2 at the start of stages 2
    and 3, option-A shortcuts), global average pooling and a linear classifier; about
    0.46M parameters. The backbone of the CIFAR-10/100-LT experiments of LDAM-DRW
    (Cao et al. 2019) and logit adjustment (Menon et al. 2021); initialised as their code
    does (Kaiming-normal conv and linear weights).

    Args:
        in_features: pixels per sample (C * H * W).
        out_features: number of classes.
        input_shape: ``[C, H, W]`` of one image (given by the runner).
        blocks: BasicBlocks per stage (5 = ResNet-32; 3 = ResNet-20, 9 = ResNet-56).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        input_shape: Sequence[int] | None = None,
        blocks: int = 5,
    ) -> None:
        super().__init__()
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        self.shape = image_shape(in_features, input_shape)
        self.conv1 = nn.Conv2d(self.shape[0], 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers: list[nn.Module] = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(blocks):
                layers.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, out_features)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(_as_images(x, self.shape))))
        out = self.layers(out)
        return self.fc(out.mean(dim=(2, 3)))
