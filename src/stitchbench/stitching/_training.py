"""Stitch training by a host party on its own training data. Parents stay frozen; only stitches learn.

Methods:
- `feature-match`: every stitch at every point trained at once (one supernetwork pass per batch), each to
  reproduce the target member's representation (MSE), as in the predecessor.
- `task`: per point, the task loss of the uniformly averaged ensemble output (NLL of mean probabilities).
- `double-batched`: per point, the branch outputs are stacked along the batch dimension and each branch is
  supervised with the labels on its own (our reading of the paper's double-batched stitching training).
The task methods start from the feature-matched stitches and sample alpha ~ U(0, 1) per batch, so one
trained pair serves every alpha at evaluation.
"""

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from stitchbench.zoo import probs_loss, seeded, task_loss
from stitchbench.zoo._training import batches

from ._layers import as_rows
from ._networks import Members, StitchSet, branch_logits, weighted_probs

METHODS = ("feature-match", "task", "double-batched")


class StitchRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    lr: float = Field(2e-3, gt=0, le=10)
    match_epochs: int = Field(3, ge=1, le=10_000, description="feature-matching epochs (every method starts with them)")
    epochs: int = Field(3, ge=1, le=10_000, description="epochs of the task methods, per point")
    batch_size: int = Field(64, ge=1, le=65_536)


def optimizer(params: list[torch.Tensor], recipe: StitchRecipe) -> torch.optim.Optimizer:
    """Adam, fused: one kernel for all stitches' parameters (on CPU ~10x faster per step than the loop)."""
    return torch.optim.Adam(params, lr=recipe.lr, fused=True)


def point_reps(members: Members, m: int, x: torch.Tensor, points: Sequence[int]) -> dict[int, torch.Tensor]:
    """Member m's representation at each of `points` (sorted), walking the segments between them once."""
    reps, live, prev = {}, (x,), None
    for pi in points:
        live = members.segment(m, prev, pi)(*live)
        reps[pi], prev = live[0], pi
    return reps


def train_feature_match(
    members: Members,
    stitches: StitchSet,
    x: torch.Tensor,
    recipe: StitchRecipe,
    seed: int,
    points: Sequence[int] | None = None,
    steps: int | None = None,
) -> StitchSet:
    """Train the stitches at `points` (default: all) together by feature matching.

    `steps` caps the number of optimizer steps (for benchmarks); default: `match_epochs` epochs."""
    points = sorted(range(len(members.points)) if points is None else points)
    params = [q for pi in points for layer in stitches.at(pi) for q in layer.parameters()]
    opt = optimizer(params, recipe)
    gen = torch.Generator().manual_seed(seed)
    done = 0
    for _ in range(recipe.match_epochs if steps is None else 10**9):
        for idx in batches(len(x), recipe.batch_size, gen):
            with torch.no_grad():
                reps = [point_reps(members, m, x[idx], points) for m in range(len(members))]
            loss = sum(
                F.mse_loss(as_rows(stitches.get(pi, k, m)(reps[k][pi])), as_rows(reps[m][pi]))
                for pi in points
                for k in range(len(members))
                for m in range(len(members))
                if k != m
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if steps is not None and done >= steps:
                return stitches
    return stitches


def train_point(
    members: Members,
    stitches: StitchSet,
    pi: int,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    method: Literal["task", "double-batched"],
    recipe: StitchRecipe,
    seed: int,
) -> None:
    """Fine-tune the stitches at point pi with the ensemble's task loss (`task` or `double-batched`)."""
    lives = [members.lives(m, pi, x) for m in range(len(members))]
    opt = optimizer([q for layer in stitches.at(pi) for q in layer.parameters()], recipe)
    gen = torch.Generator().manual_seed(seed * 1000 + pi)
    n = len(members)
    for _ in range(recipe.epochs):
        for idx in batches(len(y), recipe.batch_size, gen):
            alpha = torch.rand((), generator=gen)
            logits = branch_logits(members, stitches, pi, [tuple(v[idx] for v in live) for live in lives], alpha)
            if method == "task":
                loss = probs_loss(task, weighted_probs(logits, [1 / n] * n), y[idx])
            else:
                loss = sum(task_loss(task, z, y[idx]) for z in logits.values()) / n  # each branch its own loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def train_stitches(
    members: Members, x: torch.Tensor, y: torch.Tensor, task: str, method: str, recipe: StitchRecipe, seed: int
) -> StitchSet:
    """Train a stitch set on the members' device from one party's training inputs and labels (the host's, and
    nothing else; already on that device)."""
    if method not in METHODS:
        raise ValueError(f"unknown stitch training method {method!r}; valid: {', '.join(METHODS)}")
    with seeded(seed):
        stitches = StitchSet(members.points, len(members)).to(members.device)
        train_feature_match(members, stitches, x, recipe, seed)
        if method != "feature-match":
            for pi in range(len(members.points)):
                train_point(members, stitches, pi, x, y, task, method, recipe, seed)  # type: ignore[arg-type]
        return stitches.eval()
