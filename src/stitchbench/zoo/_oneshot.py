"""One-shot training on the host's data alone (docs/method.md): distilling an output ensemble of received
models into a student, and fine-tuning a received model with an L2-SP pull towards its weights. Both run
`train_epochs` on one thread, seeded, like every model of the zoo."""

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ._metrics import task_loss
from ._recipe import EVAL_BATCH_SIZE, Recipe
from ._training import one_thread, seeded, train_epochs


def trainable(model: nn.Module) -> nn.Module:
    """A copy of a (frozen) model whose parameters train."""
    copied = copy.deepcopy(model)
    for p in copied.parameters():
        p.requires_grad_(True)
    return copied


@torch.no_grad()
def log_probs(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """log softmax of `model`'s logits on `x`, `batch_size` samples per forward pass."""
    model.eval()
    return torch.cat([model(chunk).log_softmax(1) for chunk in x.split(batch_size)])


def teacher_probs(member_log_probs: Sequence[torch.Tensor], weights: Sequence[float], T: float) -> torch.Tensor:
    """The weighted output ensemble at temperature T: sum_m w_m softmax(z_m / T) (log softmax shifts z by a
    constant per sample, which softmax ignores)."""
    return sum(w * (lp / T).softmax(1) for w, lp in zip(weights, member_log_probs, strict=True))


def distillation_loss(task: str, y: torch.Tensor, teacher: torch.Tensor, lam: float, T: float):
    """(1 - lam) * the task's loss on the labels + lam * T^2 * KL(teacher_T || student_T), the KL summed over
    classes and averaged over samples (and pixels)."""

    def loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        t = teacher[idx]
        kl = (t * (t.clamp_min(1e-12).log() - (logits / T).log_softmax(1))).sum(1).mean()
        return (1 - lam) * task_loss(task, logits, y[idx]) + lam * T * T * kl

    return loss


def distill(
    student: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    teacher: torch.Tensor,
    lam: float,
    T: float,
    recipe: Recipe,
    seed: int,
) -> nn.Module:
    """Train `student` (a copy) on (x, y) against `teacher` (its probabilities at temperature T on x)."""
    with one_thread(), seeded(seed):
        model = trainable(student)
        loss = distillation_loss(task, y, teacher, lam, T)
        train_epochs(model, x, y, task, recipe, recipe.epochs, torch.Generator().manual_seed(seed), loss_fn=loss)
    return model.eval()


class Snapshots:
    """The model's weights after every epoch (an `EpochHook` that never stops training)."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def step(self, model: nn.Module, epoch: int) -> bool:
        self.states.append(copy.deepcopy(model.state_dict()))
        return False


def finetune(
    start: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, beta: float, recipe: Recipe, seed: int
) -> list[dict[str, torch.Tensor]]:
    """Fine-tune a copy of `start` on (x, y) for `recipe.epochs` epochs with the L2-SP penalty
    beta * ||theta - theta_0||^2 (FedProx's term with mu = 2 beta); the weights after each epoch."""
    with one_thread(), seeded(seed):
        model = trainable(start)
        anchor = [p.detach().clone() for p in model.parameters()]
        snapshots = Snapshots()
        pulled = recipe.model_copy(update={"prox_mu": 2 * beta})
        generator = torch.Generator().manual_seed(seed)
        train_epochs(model, x, y, task, pulled, recipe.epochs, generator, anchor if beta > 0 else None, snapshots)
    return snapshots.states
