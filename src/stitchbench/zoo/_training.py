"""Deterministic training: centralized (local or merged data) and federated (FedAvg, FedProx), with
optional early stopping on a validation split."""

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from ._metrics import TASK_METRICS, score, task_loss
from ._recipe import EVAL_BATCH_SIZE, Recipe

CPU = torch.device("cpu")  # where torch work runs unless told otherwise (`stitchbench._devices.resolve`)


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for the duration: CPU kernels sum in another order on more threads, so a model,
    a stitch set or a table built from the same configuration gets the same bits whatever the machine's
    core count (the cache is keyed by configuration)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run a block on a fork of torch's global RNG, seeded with `seed` if given: weight initialization inside
    draws from the fork, and the caller's RNG state is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        yield


@dataclass
class Fit:
    """A trained model and how its training ended."""

    model: nn.Module
    epochs: int  # epochs run (federated: rounds)
    best_epoch: int | None = None  # the 1-based epoch (round) whose weights were kept, with early stopping
    val_score: float | None = None  # its validation score
    history: list[float] = field(default_factory=list)  # the validation score after every epoch (round)

    def summary(self) -> dict:
        """What a model's manifest records of its training."""
        history = [round(v, 4) for v in self.history]
        return {"epochs_run": self.epochs, "best_epoch": self.best_epoch, "val_score": self.val_score, "val": history}


class EpochHook(Protocol):
    """Called after every training epoch (federated: round) with the model; True stops training."""

    def step(self, model: nn.Module, epoch: int) -> bool: ...


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits of a batch, its sample indices) -> loss


class EarlyStopping:
    """Scores the model on the validation data after every epoch (federated: every round), keeps a copy of
    the best weights, and says to stop once `patience` epochs passed without a better score, but not before
    `min_epochs` (a U-Net sits at Dice 0, all background, for its first epochs; FedAvg for longer)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: str,
        patience: int,
        min_epochs: int = 0,
        batch_size: int = EVAL_BATCH_SIZE,
    ):
        self.x, self.y, self.metric, self.batch_size = x, y, TASK_METRICS[task], batch_size
        self.patience, self.min_epochs = patience, min_epochs
        self.best, self.best_epoch, self.state, self.history = -float("inf"), 0, None, []

    def step(self, model: nn.Module, epoch: int) -> bool:
        """Record `epoch` (1-based); True when training should stop."""
        value = float(score(self.metric, predict(model, self.x, self.batch_size), self.y))
        self.history.append(value)
        if value > self.best:
            self.best, self.best_epoch, self.state = value, epoch, copy.deepcopy(model.state_dict())
        return epoch >= self.min_epochs and epoch - self.best_epoch >= self.patience

    def fit(self, model: nn.Module, epochs: int) -> Fit:
        model.load_state_dict(self.state)
        return Fit(model.eval(), epochs, self.best_epoch, self.best, self.history)


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    perm = torch.randperm(n, generator=generator)
    yield from perm.split(batch_size)


def memory_format(recipe: Recipe, x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if recipe.channels_last and x.dim() == 4 else torch.contiguous_format


def train_epochs(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    recipe: Recipe,
    epochs: int,
    generator: torch.Generator,
    anchor: list[torch.Tensor] | None = None,
    stopping: EpochHook | None = None,
    loss_fn: Loss | None = None,
) -> int:
    """Train `model` in place for up to `epochs` epochs (fewer when `stopping` says so); return the epochs
    run. The loss is the task's on (x, y), or `loss_fn(logits, batch indices)`; with `anchor`, plus
    (mu/2)||w - anchor||^2 (FedProx's proximal term; L2-SP's pull towards received weights)."""
    fmt = memory_format(recipe, x)
    model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    opt = recipe.make_optimizer(model.parameters())
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in batches(len(y), recipe.batch_size, generator):
            logits = model(x[idx])
            loss = loss_fn(logits, idx) if loss_fn is not None else task_loss(task, logits, y[idx])
            if anchor is not None and recipe.prox_mu > 0:
                prox = sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True))
                loss = loss + 0.5 * recipe.prox_mu * prox
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if stopping is not None and stopping.step(model, epoch):
            break
    model.to(memory_format=torch.contiguous_format).eval()
    return epoch


def early_stopping(task: str, recipe: Recipe, val: list[tuple[torch.Tensor, torch.Tensor]]) -> EarlyStopping | None:
    """Early stopping on the union of `val` when the recipe asks for it and there is validation data."""
    if recipe.patience is None or not val:
        return None
    x, y = torch.cat([x for x, _ in val]), torch.cat([y for _, y in val])
    return EarlyStopping(x, y, task, recipe.patience, recipe.min_epochs, recipe.eval_batch_size)


def train_centralized(
    make_model: Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    recipe: Recipe,
    seed: int,
    val: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> Fit:
    """Train on (x, y); with `recipe.patience`, stop early on `val` and keep the best-val weights."""
    with seeded(seed):
        model = make_model()
        stopping = early_stopping(task, recipe, val or [])
        generator = torch.Generator().manual_seed(seed)
        run = train_epochs(model, x, y, task, recipe, recipe.epochs, generator, None, stopping)
        return stopping.fit(model, run) if stopping else Fit(model, run)


def train_federated(
    make_model: Callable[[], nn.Module],
    data: list[tuple[torch.Tensor, torch.Tensor]],
    task: str,
    recipe: Recipe,
    seed: int,
    proximal: bool,
    val: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> Fit:
    """FedAvg (or FedProx with `proximal`): each round every party trains `local_epochs` from the global
    weights; the global model is their average weighted by sample count. With `recipe.patience`, the global
    model is scored on every party's `val` after each round (each party can score it on its own data and
    report the sum) and the best round's weights are kept."""
    with seeded(seed):
        global_model = make_model()
        sizes = torch.tensor([len(y) for _, y in data], dtype=torch.float64)
        share = (sizes / sizes.sum()).tolist()
        generator = torch.Generator().manual_seed(seed)
        stopping = early_stopping(task, recipe, val or [])
        for rnd in range(1, recipe.rounds + 1):
            anchor = [p.detach().clone() for p in global_model.parameters()] if proximal else None
            states = []
            for x, y in data:
                local = copy.deepcopy(global_model)
                train_epochs(local, x, y, task, recipe, recipe.local_epochs, generator, anchor)
                states.append(local.state_dict())
            averaged = {k: sum(w * s[k] for w, s in zip(share, states, strict=True)) for k in states[0]}
            global_model.load_state_dict(averaged)
            if stopping is not None and stopping.step(global_model, rnd):
                break
        return stopping.fit(global_model, rnd) if stopping else Fit(global_model.eval(), rnd)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Class probabilities of `model` on `x` (on their device), `batch_size` samples per forward pass."""
    model.eval()
    return torch.cat([model(chunk).softmax(1) for chunk in x.split(batch_size)])
