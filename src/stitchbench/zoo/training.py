"""Deterministic training: centralized (local or merged data) and federated (FedAvg, FedProx)."""

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .metrics import task_loss
from .recipe import Recipe


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run a block on a fork of torch's global RNG, seeded with `seed` if given: weight initialization inside
    draws from the fork, and the caller's RNG state is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    perm = torch.randperm(n, generator=generator)
    yield from perm.split(batch_size)


def train_epochs(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    recipe: Recipe,
    epochs: int,
    generator: torch.Generator,
    anchor: list[torch.Tensor] | None = None,
) -> nn.Module:
    """Train `model` in place; with `anchor`, add FedProx's (mu/2)||w - anchor||^2."""
    model.train()
    opt = recipe.make_optimizer(model.parameters())
    for _ in range(epochs):
        for idx in batches(len(y), recipe.batch_size, generator):
            loss = task_loss(task, model(x[idx]), y[idx])
            if anchor is not None and recipe.prox_mu > 0:
                prox = sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True))
                loss = loss + 0.5 * recipe.prox_mu * prox
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def train_centralized(
    make_model: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor, task: str, recipe: Recipe, seed: int
) -> nn.Module:
    with seeded(seed):
        model = make_model()
        return train_epochs(model, x, y, task, recipe, recipe.epochs, torch.Generator().manual_seed(seed))


def train_federated(
    make_model: Callable[[], nn.Module],
    data: list[tuple[torch.Tensor, torch.Tensor]],
    task: str,
    recipe: Recipe,
    seed: int,
    proximal: bool,
) -> nn.Module:
    """FedAvg (or FedProx with `proximal`): each round every party trains `local_epochs` from the global
    weights; the global model is their average weighted by sample count."""
    with seeded(seed):
        global_model = make_model()
        sizes = torch.tensor([len(y) for _, y in data], dtype=torch.float64)
        share = (sizes / sizes.sum()).tolist()
        generator = torch.Generator().manual_seed(seed)
        for _ in range(recipe.rounds):
            anchor = [p.detach().clone() for p in global_model.parameters()] if proximal else None
            states = []
            for x, y in data:
                local = copy.deepcopy(global_model)
                train_epochs(local, x, y, task, recipe, recipe.local_epochs, generator, anchor)
                states.append(local.state_dict())
            averaged = {k: sum(w * s[k] for w, s in zip(share, states, strict=True)) for k in states[0]}
            global_model.load_state_dict(averaged)
        return global_model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Class probabilities of `model` on `x`."""
    model.eval()
    return torch.cat([model(chunk).softmax(1) for chunk in x.split(batch_size)])
