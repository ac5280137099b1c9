"""Stitched networks built from frozen parents + a stitch set + a decision.

- Stitch-ensemble at a point (the paper's pair of stitching layers): every member runs to the point; branch
  m continues with (1 - alpha) * own + alpha * mean_k stitch_{k->m}(h_k) over the other members k; branch
  outputs (class probabilities) are averaged with output weights w. alpha = 0 is the plain output ensemble.
- Graph form (the predecessor's genotype, two members A and B): per matched point a switch per direction;
  an A->B switch replaces B's representation there by the stitched one of A (B->A likewise, both from the
  values before the switch); the output is A's, B's, or their average.
"""

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from stitchbench.zoo._recipe import EVAL_BATCH_SIZE
from stitchbench.zoo._training import CPU

from ._graph import StitchPoint, TracedNet, find_points
from ._layers import as_rows, channels_last, make_stitch

Lives = tuple[torch.Tensor, ...]
OUTPUTS = ("A", "B", "avg")
CHUNK_BYTES = 4 << 20  # small representations go in larger chunks than the batch size, to save per-call overhead


def chunked_lives(lives: Sequence[Lives], batch_size: int):
    """Aligned chunks of every member's live values: `batch_size` samples, or more where they fit in
    CHUNK_BYTES."""
    n = len(lives[0][0])
    per_sample = max(sum(v[0].nbytes for v in live) for live in lives) or 1
    size = max(batch_size, CHUNK_BYTES // per_sample)
    for start in range(0, n, size):
        yield [tuple(v[start : start + size] for v in live) for live in lives]


def frozen_copy(model: nn.Module) -> nn.Module:
    """A parent as stitching runs it: a frozen copy with channels-last weights, so its feature maps come out
    channels-last (on CPU, its convolutions and pooling run 2-10x faster; values equal up to float rounding)."""
    return copy.deepcopy(model).eval().requires_grad_(False).to(memory_format=torch.channels_last)


class Members:
    """Frozen parent networks traced together with the points matched across all of them, on `device`;
    evaluated `batch_size` samples per forward pass."""

    def __init__(
        self,
        models: Sequence[nn.Module],
        example: torch.Tensor,
        device: torch.device = CPU,
        batch_size: int = EVAL_BATCH_SIZE,
    ):
        if len(models) < 2:
            raise ValueError("stitching needs at least two members")
        self.device, self.batch_size = device, batch_size
        self.models = [frozen_copy(m).to(device) for m in models]
        self.nets = [TracedNet(m, example.to(device)) for m in self.models]
        self.points: list[StitchPoint] = find_points(self.nets)

    def __len__(self) -> int:
        return len(self.models)

    @cached_property
    def point_names(self) -> list[str]:
        return [p.name for p in self.points]

    def node(self, m: int, pi: int | None) -> str | None:
        return None if pi is None else self.points[pi].nodes[m]

    def segment(self, m: int, start: int | None, end: int | None) -> nn.Module:
        """Member m from point index `start` (None: input) to `end` (None: output)."""
        return self.nets[m].segment(self.node(m, start), self.node(m, end))

    @torch.no_grad()
    def lives(self, m: int, pi: int, x: torch.Tensor) -> Lives:
        seg = self.segment(m, None, pi)
        parts = [seg(c) for c in x.split(self.batch_size)]
        return tuple(torch.cat(vs) for vs in zip(*parts, strict=True))


class StitchSet(nn.Module):
    """One stitch per matched point and ordered member pair k -> m (k != m)."""

    def __init__(self, points: Sequence[StitchPoint], n_members: int):
        super().__init__()
        self.layers = nn.ModuleDict(
            {
                self.key(pi, k, m): make_stitch(p.shapes[k], p.shapes[m])
                for pi, p in enumerate(points)
                for k in range(n_members)
                for m in range(n_members)
                if k != m
            }
        )

    @staticmethod
    def key(pi: int, k: int, m: int) -> str:
        return f"p{pi}_{k}to{m}"

    def get(self, pi: int, k: int, m: int) -> nn.Module:
        return self.layers[self.key(pi, k, m)]

    def at(self, pi: int) -> list[nn.Module]:
        return [layer for key, layer in self.layers.items() if key.startswith(f"p{pi}_")]


def mix(stitches: StitchSet, pi: int, hs: Sequence[torch.Tensor], m: int, alpha: float | torch.Tensor):
    """Branch m's representation at point pi: (1 - alpha) * its own + alpha * the mean of the others' stitched
    ones, accumulated into one tensor by fused matrix products (one pass per stitch, no temporaries)."""
    alpha = float(alpha)
    if alpha == 0.0:
        return hs[m]
    layers = [(stitches.get(pi, k, m), h) for k, h in enumerate(hs) if k != m]
    a = alpha / len(layers)
    bias = a * sum(layer.bias for layer, _ in layers)
    own = hs[m]
    out = channels_last(torch.add(bias.view(-1, *[1] * (own.dim() - 2)), own, alpha=1 - alpha))
    rows = as_rows(out)
    for layer, h in layers:
        rows.addmm_(layer.rows(h), layer.weight.t(), alpha=a)
    return out


def branch_logits(
    members: Members,
    stitches: StitchSet,
    pi: int,
    lives: Sequence[Lives],
    alpha: float | torch.Tensor,
    branches: Sequence[int] | None = None,
) -> dict[int, torch.Tensor]:
    """Logits of each requested branch of the stitch-ensemble at point pi, from every member's live values."""
    hs = [live[0] for live in lives]
    out = {}
    for m in range(len(members)) if branches is None else branches:
        out[m] = members.segment(m, pi, None)(mix(stitches, pi, hs, m, alpha), *lives[m][1:])
    return out


def weighted_probs(logits: dict[int, torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    return sum(weights[m] * z.softmax(1) for m, z in logits.items())


@torch.no_grad()
def ensemble_branch_probs(
    members: Members, stitches: "StitchSet", pi: int, lives: Sequence[Lives], alpha: float
) -> torch.Tensor:
    """(M, N, C) class probabilities of every branch of the stitch-ensemble, evaluated in chunks."""
    parts = []
    for chunk in chunked_lives(lives, members.batch_size):
        logits = branch_logits(members, stitches, pi, chunk, alpha)
        parts.append(torch.stack([logits[m].softmax(1) for m in range(len(members))]))
    return torch.cat(parts, 1)


@dataclass(frozen=True)
class GraphDecision:
    """Switches per point (A->B, B->A) and the output choice ('A', 'B' or 'avg')."""

    ab: tuple[bool, ...]
    ba: tuple[bool, ...]
    output: str

    def first_active(self) -> int | None:
        active = [i for i, (a, b) in enumerate(zip(self.ab, self.ba, strict=True)) if a or b]
        return active[0] if active else None


def graph_logits(
    members: Members, stitches: StitchSet, d: GraphDecision, lives: Sequence[Lives], start: int
) -> dict[int, torch.Tensor]:
    """Run the graph form of two members from their live values at point `start` to the output(s)."""
    la, lb = lives
    n = len(members.points)
    for pi in range(start, n):
        ha, hb = la[0], lb[0]
        if d.ab[pi]:
            lb = (stitches.get(pi, 0, 1)(ha), *lb[1:])
        if d.ba[pi]:
            la = (stitches.get(pi, 1, 0)(hb), *la[1:])
        nxt = None if pi == n - 1 else pi + 1
        la = members.segment(0, pi, nxt)(*la)
        lb = members.segment(1, pi, nxt)(*lb)
    return {0: la, 1: lb}


class StitchEnsemble(nn.Module):
    """A stitch-ensemble at one point as an ordinary module: forward(x) gives class probabilities."""

    def __init__(self, members: Members, stitches: StitchSet, point: int, alpha: float, weights: Sequence[float]):
        super().__init__()
        self.members, self.stitches = members, stitches
        self.point, self.alpha, self.weights = point, alpha, list(weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lives = [self.members.segment(m, None, self.point)(x) for m in range(len(self.members))]
        branches = [m for m, w in enumerate(self.weights) if w > 0]
        return weighted_probs(
            branch_logits(self.members, self.stitches, self.point, lives, self.alpha, branches), self.weights
        )


class StitchGraph(nn.Module):
    """A graph-form candidate of two members as an ordinary module: forward(x) gives class probabilities."""

    def __init__(self, members: Members, stitches: StitchSet, decision: GraphDecision):
        super().__init__()
        self.members, self.stitches, self.decision = members, stitches, decision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.decision.first_active()
        if start is None:
            logits = {m: self.members.models[m](x) for m in (0, 1)}
        else:
            lives = [self.members.segment(m, None, start)(x) for m in (0, 1)]
            logits = graph_logits(self.members, self.stitches, self.decision, lives, start)
        return output_probs(logits, self.decision.output)


@torch.no_grad()
def graph_probs(members: Members, stitches: "StitchSet", d: GraphDecision, lives: Sequence[Lives], start: int):
    """Output probabilities of a graph-form candidate from the live values at `start`, in chunks."""
    parts = [
        output_probs(graph_logits(members, stitches, d, c, start), d.output)
        for c in chunked_lives(lives, members.batch_size)
    ]
    return torch.cat(parts)


def output_probs(logits: dict[int, torch.Tensor], output: str) -> torch.Tensor:
    if output == "A":
        return logits[0].softmax(1)
    if output == "B":
        return logits[1].softmax(1)
    return 0.5 * (logits[0].softmax(1) + logits[1].softmax(1))
