"""Segmentation architectures: encoder-decoders with skip connections, output logits (N, C, H, W).

Two families, so stitching between different architectures is exercised: a plain U-Net (double 3x3 convs,
max-pool down, transposed-conv up) and a residual U-Net (basic residual blocks, strided down, bilinear up).
Both are torch.fx-traceable and free of batch statistics, like the classification families.
"""

import operator
from collections.abc import Callable
from itertools import pairwise

import torch
from torch import nn

from ._architectures import ARCHITECTURES, BasicBlock, conv3x3


def u_path(net: nn.Module, x: torch.Tensor, merge: Callable) -> torch.Tensor:
    """Down through `net.enc` keeping each level's output, then up through `net.up`/`net.dec`, merging the
    upsampled map with the skip of its level."""
    skips = []
    for enc in net.enc:
        x = enc(x)
        skips.append(x)
    x = skips.pop()
    for i in reversed(range(len(net.dec))):
        x = net.dec[i](merge(net.up[i](x), skips.pop()))
    return x


def concat(up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    return torch.cat([up, skip], 1)


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout), nn.ReLU(), conv3x3(cout, cout), nn.ReLU())


class UNet(nn.Module):
    """U-Net with `depth` down/up levels; widths w, 2w, ..., 2^depth w; concatenating skips."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, depth: int = 2):
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.enc = nn.ModuleList([double_conv(in_channels, widths[0])])
        self.enc.extend(nn.Sequential(nn.MaxPool2d(2), double_conv(a, b)) for a, b in pairwise(widths))
        self.up = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in pairwise(widths))
        self.dec = nn.ModuleList(double_conv(2 * a, a) for a in widths[:-1])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(u_path(self, x, concat))


class ResUNet(nn.Module):
    """Residual U-Net: a residual block per level (strided to go down), bilinear upsampling, additive skips."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 12, depth: int = 2):
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.stem = nn.Sequential(conv3x3(in_channels, widths[0]), nn.ReLU())
        self.enc = nn.ModuleList([BasicBlock(widths[0], widths[0], 1)])
        self.enc.extend(BasicBlock(a, b, 2) for a, b in pairwise(widths))
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(b, a, 1))
            for a, b in pairwise(widths)
        )
        self.dec = nn.ModuleList(BasicBlock(a, a, 1) for a in widths[:-1])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(u_path(self, self.stem(x), operator.add))


@ARCHITECTURES.register("unet", task="segmentation")
def unet(in_channels: int, num_classes: int, width: int = 16, depth: int = 2) -> nn.Module:
    """U-Net: double 3x3 convs, max-pool down, transposed-conv up, concatenated skips; widths w..4w."""
    return UNet(in_channels, num_classes, width, depth)


@ARCHITECTURES.register("resunet", task="segmentation")
def resunet(in_channels: int, num_classes: int, width: int = 12, depth: int = 2) -> nn.Module:
    """Residual U-Net: residual blocks (strided down), bilinear up, additive skips; widths w..4w."""
    return ResUNet(in_channels, num_classes, width, depth)
