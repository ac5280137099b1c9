"""Task metrics and losses. Metrics take class probabilities with any leading batch dims."""

import torch
import torch.nn.functional as F

from stitchbench.errors import unknown


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose most probable class is the label; probs (..., N, C), y (N,)."""
    return (probs.argmax(-1) == y).float().mean(-1)


METRICS = {"accuracy": accuracy}


def score(metric: str, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if metric not in METRICS:
        raise unknown("metric", metric, METRICS)
    return METRICS[metric](probs, y)


def task_loss(task: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of a task, on logits."""
    if task == "classification":
        return F.cross_entropy(logits, y)
    raise unknown("task", task, ["classification"])


def probs_loss(task: str, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss on (ensembled) probabilities: negative log-likelihood."""
    if task == "classification":
        return F.nll_loss(torch.log(probs.clamp_min(1e-8)), y)
    raise unknown("task", task, ["classification"])
