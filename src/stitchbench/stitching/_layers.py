"""Stitching layers: a small trainable affine map from one network's representation to another's shape.

Both kinds are a matrix product over channels (`rows` gives the input as one row per sample and pixel), so a
stitch-ensemble can accumulate several stitched representations into one tensor (see `networks.mix`)."""

import torch
import torch.nn.functional as F
from torch import nn


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """Feature maps in channels-last layout (on CPU, convolutions and pooling run 2-10x faster); vectors as is."""
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def as_rows(t: torch.Tensor) -> torch.Tensor:
    """A representation as (samples x pixels, channels) rows: a view for channels-last maps and vectors."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]) if t.dim() == 4 else t


class ConvStitch(nn.Module):
    """1x1 convolution between feature maps, resizing spatially first when the sizes differ
    (adaptive average pooling to shrink, bilinear interpolation to grow).

    Computed as a matrix product over the channels of the channels-last view, with a channels-last output:
    on CPU about twice as fast as the convolution kernel, forward and backward."""

    def __init__(self, src: tuple[int, ...], dst: tuple[int, ...]):
        super().__init__()
        self.size = tuple(dst[1:])
        self.shrink = src[1] > dst[1]
        self.resize = tuple(src[1:]) != self.size
        self.conv = nn.Conv2d(src[0], dst[0], 1)

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight.flatten(1)

    @property
    def bias(self) -> torch.Tensor:
        return self.conv.bias

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize:
            x = (
                F.adaptive_avg_pool2d(x, self.size)
                if self.shrink
                else F.interpolate(x, self.size, mode="bilinear", align_corners=False)
            )
        return as_rows(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(self.rows(x), self.weight, self.bias)
        return y.view(len(x), *self.size, -1).permute(0, 3, 1, 2)


class LinearStitch(nn.Linear):
    """Linear map between vectors."""

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        return x


def make_stitch(src: tuple[int, ...], dst: tuple[int, ...]) -> nn.Module:
    """A stitch from per-sample shape `src` to `dst`: 1x1 conv for feature maps, linear for vectors."""
    if len(src) == 3 and len(dst) == 3:
        return ConvStitch(src, dst)
    if len(src) == 1 and len(dst) == 1:
        return LinearStitch(src[0], dst[0])
    raise ValueError(f"cannot stitch a {src} representation into {dst}")
