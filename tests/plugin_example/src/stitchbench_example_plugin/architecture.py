"""`example.mlp`: a multilayer perceptron on a pooled view of the image (torch.fx-traceable, no batch norm)."""

from torch import nn

from stitchbench.registry import tagged


@tagged(task="classification")
def mlp(in_channels: int, num_classes: int, hidden: int = 64, grid: int = 12) -> nn.Module:
    """Two hidden ReLU layers of `hidden` units on the image average-pooled to grid x grid."""
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(grid),
        nn.Flatten(),
        nn.Linear(in_channels * grid * grid, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
