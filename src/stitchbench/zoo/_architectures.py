"""Architectures: a registry of model families, `create(name, in_channels, num_classes, **params)`.

Every model is a plain, torch.fx-traceable `nn.Module` without batch statistics (no BatchNorm), so that
FedAvg averages weights cleanly and stitched networks behave the same in training and evaluation.
"""

import torch
from torch import nn

from stitchbench.registry import Registry

ARCHITECTURES: Registry[nn.Module] = Registry("architecture")


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class PlainCNN(nn.Module):
    """Three conv stages (conv-ReLU, max-pool between stages), a last max-pool to 3x3, linear head."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16):
        super().__init__()
        w = width
        self.stage1 = nn.Sequential(conv3x3(in_channels, w), nn.ReLU())
        self.stage2 = nn.Sequential(nn.MaxPool2d(2), conv3x3(w, 2 * w), nn.ReLU())
        self.stage3 = nn.Sequential(nn.MaxPool2d(2), conv3x3(2 * w, 4 * w), nn.ReLU())
        self.pool = nn.AdaptiveMaxPool2d(3)
        self.head = nn.Linear(4 * w * 9, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.head(torch.flatten(self.pool(x), 1))


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or strided 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.conv2 = conv3x3(cout, cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """A stem, three residual blocks (the last two downsample), global average pool, linear head."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 12):
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv3x3(in_channels, w, stride=2), nn.ReLU())
        self.layer1 = BasicBlock(w, w, 1)
        self.layer2 = BasicBlock(w, 2 * w, 2)
        self.layer3 = BasicBlock(2 * w, 4 * w, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.head(torch.flatten(self.pool(x), 1))


class ResidualMLP(nn.Module):
    """Inputs average-pooled to 8x8 and flattened, a linear stem, `depth` residual blocks x + relu(W x + b),
    a linear head: a chain whose every block output is a stitch point (deep stitch graphs)."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 64, depth: int = 14):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(8)
        self.stem = nn.Sequential(nn.Linear(in_channels * 64, width), nn.ReLU())
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(torch.flatten(self.pool(x), 1))
        for block in self.blocks:
            x = x + torch.relu(block(x))
        return self.head(x)


@ARCHITECTURES.register("cnn", task="classification")
def cnn(in_channels: int, num_classes: int, width: int = 16) -> nn.Module:
    """Plain 3-stage CNN (conv-ReLU, max-pool), widths w, 2w, 4w, linear head on a 3x3 map."""
    return PlainCNN(in_channels, num_classes, width)


@ARCHITECTURES.register("resnet", task="classification")
def resnet(in_channels: int, num_classes: int, width: int = 12) -> nn.Module:
    """Small residual network: strided stem + 3 basic blocks, widths w, w, 2w, 4w."""
    return SmallResNet(in_channels, num_classes, width)


@ARCHITECTURES.register("resmlp", task="classification")
def resmlp(in_channels: int, num_classes: int, width: int = 64, depth: int = 14) -> nn.Module:
    """Residual MLP: 8x8-pooled inputs, a linear stem and `depth` residual blocks of width w (16 stitch
    points at the defaults: the pooled input, the stem and every block)."""
    return ResidualMLP(in_channels, num_classes, width, depth)


def create(name: str, in_channels: int, num_classes: int, **params) -> nn.Module:
    return ARCHITECTURES.create(name, in_channels, num_classes, **params)
