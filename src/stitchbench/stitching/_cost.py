"""Cost of candidates in FLOPs per sample (torch's FlopCounterMode), cached per segment and per stitch."""

from collections.abc import Sequence
from functools import cache

import torch
from torch import fx
from torch.utils.flop_counter import FlopCounterMode

from ._flow import Flow
from ._networks import Members, StitchSet


def flops_of(fn) -> int:
    """FLOPs (matmuls and convolutions, forward and any backward) of running fn()."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def count_flops(module, *inputs) -> int:
    with torch.no_grad():
        return flops_of(lambda: module(*inputs))


@torch.no_grad()
def node_flops(gm: fx.GraphModule, x: torch.Tensor) -> dict[str, int]:
    """FLOPs of every node of a traced network, from one run on `x`."""
    counts: dict[str, int] = {}

    class Counter(fx.Interpreter):
        def run_node(self, n: fx.Node):
            with FlopCounterMode(display=False) as counter:
                out = super().run_node(n)
            counts[n.name] = int(counter.get_total_flops())
            return out

    Counter(gm).run(x)
    return counts


class CostModel:
    """FLOPs per sample of segments, stitches and whole candidates, from one example input."""

    def __init__(self, members: Members, stitches: StitchSet, example: torch.Tensor):
        self.members, self.stitches = members, stitches
        self.x = example[:1].to(members.device)
        self.segment = cache(self._segment)
        self.stitch = cache(self._stitch)
        self.nodes = cache(lambda m: node_flops(self.members.nets[m].gm, self.x))

    def _segment(self, m: int, start: int | None, end: int | None) -> int:
        live = (self.x,) if start is None else self.members.lives(m, start, self.x)
        return count_flops(self.members.segment(m, start, end), *live)

    def _stitch(self, pi: int, k: int, m: int) -> int:
        return count_flops(self.stitches.get(pi, k, m), self.members.lives(k, pi, self.x)[0])

    def full(self, m: int) -> int:
        return self.segment(m, None, None)

    def ensemble(self, pi: int, alpha: float, weights: Sequence[float]) -> int:
        """Members run to the point; branches with weight > 0 run on (with their stitches if alpha > 0)."""
        used = [m for m, w in enumerate(weights) if w > 0]
        if alpha == 0:
            return sum(self.full(m) for m in used)
        n = len(self.members)
        total = sum(self.segment(m, None, pi) for m in range(n))
        total += sum(self.segment(m, pi, None) for m in used)
        return total + sum(self.stitch(pi, k, m) for m in used for k in range(n) if k != m)

    def graph(self, flow: Flow) -> int:
        """Cost of a graph-form candidate: in each member the nodes its output needs, plus its active stitches."""
        d = flow.decision
        total = sum(self.nodes(m)[n] for m in (0, 1) for n in flow.runs[m])
        total += sum(self.stitch(pi, 0, 1) for pi, on in enumerate(d.ab) if on)
        return total + sum(self.stitch(pi, 1, 0) for pi, on in enumerate(d.ba) if on)
