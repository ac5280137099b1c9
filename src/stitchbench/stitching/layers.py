"""Stitching layers: a small trainable map from one network's representation to another's shape."""

import torch
import torch.nn.functional as F
from torch import nn


class ConvStitch(nn.Module):
    """1x1 convolution between feature maps, resizing spatially first when the sizes differ
    (adaptive average pooling to shrink, bilinear interpolation to grow)."""

    def __init__(self, src: tuple[int, ...], dst: tuple[int, ...]):
        super().__init__()
        self.size = tuple(dst[1:])
        self.shrink = src[1] > dst[1]
        self.resize = tuple(src[1:]) != self.size
        self.conv = nn.Conv2d(src[0], dst[0], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize:
            x = (
                F.adaptive_avg_pool2d(x, self.size)
                if self.shrink
                else F.interpolate(x, self.size, mode="bilinear", align_corners=False)
            )
        return self.conv(x)


def make_stitch(src: tuple[int, ...], dst: tuple[int, ...]) -> nn.Module:
    """A stitch from per-sample shape `src` to `dst`: 1x1 conv for feature maps, linear for vectors."""
    if len(src) == 3 and len(dst) == 3:
        return ConvStitch(src, dst)
    if len(src) == 1 and len(dst) == 1:
        return nn.Linear(src[0], dst[0])
    raise ValueError(f"cannot stitch a {src} representation into {dst}")
