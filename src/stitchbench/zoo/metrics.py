"""Task metrics and losses. Metrics take class probabilities with any leading batch dims.

Classification: probs (..., N, C), labels (N,). Segmentation: probs (..., N, C, H, W), masks (N, H, W).
"""

import torch
import torch.nn.functional as F

from stitchbench.errors import unknown

TASKS = ("classification", "segmentation")
TASK_METRICS = {"classification": "accuracy", "segmentation": "dice"}  # what early stopping maximizes


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose most probable class is the label; probs (..., N, C), y (N,)."""
    return (probs.argmax(-1) == y).float().mean(-1)


def dice(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean Dice of the argmax masks: per image, the mean over foreground classes 1..C-1 of
    2|P∩G| / (|P| + |G|), where a class absent from both prediction and ground truth scores 1 (nothing to
    find, nothing found); then the mean over images. probs (..., N, C, H, W), y (N, H, W)."""
    classes = probs.shape[-3]
    pred = probs.argmax(-3)
    scores = []
    for c in range(1, classes):
        p, g = pred == c, (y == c).expand_as(pred)
        inter = (p & g).sum((-2, -1)).float()
        total = p.sum((-2, -1)).float() + g.sum((-2, -1)).float()
        scores.append(torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total)))
    return torch.stack(scores).mean(0).mean(-1)


METRICS = {"accuracy": accuracy, "dice": dice}


def score(metric: str, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if metric not in METRICS:
        raise unknown("metric", metric, METRICS)
    return METRICS[metric](probs, y)


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
