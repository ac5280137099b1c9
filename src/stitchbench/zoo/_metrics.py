"""Task metrics and losses. Metrics take class probabilities with any leading batch dims.

Classification: probs (..., N, C), labels (N,). Segmentation: probs (..., N, C, H, W), masks (N, H, W).
"""

import torch
import torch.nn.functional as F

from stitchbench.errors import unknown
from stitchbench.moo import _scoring as scoring

TASKS = ("classification", "segmentation")
TASK_METRICS = {"classification": "accuracy", "segmentation": "dice"}  # what early stopping maximizes


def score(metric: str, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The metric (see `stitchbench.moo._scoring`, its one implementation) of probabilities with any leading
    batch dims, on any device (scored on the CPU)."""
    return torch.as_tensor(scoring.score(metric, probs.detach().cpu().numpy(), y.cpu().numpy()))


def soft_dice_loss(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice over foreground classes, pooled over the batch (smooth 1): differentiable in probs."""
    onehot = F.one_hot(y, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * onehot)[:, 1:].sum((0, 2, 3))
    total = (probs + onehot)[:, 1:].sum((0, 2, 3))
    return 1 - ((2 * inter + 1) / (total + 1)).mean()


def task_loss(task: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of a task, on logits: cross-entropy (+ soft Dice for segmentation)."""
    if task == "classification":
        return F.cross_entropy(logits, y)
    if task == "segmentation":
        return F.cross_entropy(logits, y) + soft_dice_loss(logits.softmax(1), y)
    raise unknown("task", task, TASKS)


def probs_loss(task: str, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss on (ensembled) probabilities: negative log-likelihood (+ soft Dice)."""
    nll = F.nll_loss(torch.log(probs.clamp_min(1e-8)), y)
    if task == "classification":
        return nll
    if task == "segmentation":
        return nll + soft_dice_loss(probs, y)
    raise unknown("task", task, TASKS)
