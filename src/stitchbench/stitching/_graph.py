"""Networks as torch.fx graphs: candidate stitch points, and the graph cut into segments between points.

A *point* is a node whose output is a batched 4-D feature map or 2-D vector. Chains collapse: a node whose
only user produces a tensor of the same shape (conv -> ReLU, block -> add) is represented by that user, so
the candidates are where a representation changes shape or fans out (block outputs, skip sources).

Cutting the graph at a point p gives the values *live* at p: p itself and every earlier value still used
after p (a skip connection, a residual branch). A segment maps the live values at one point to those at a
later point (or to the network's output), so prefix(p) + suffix(p) is the whole network, exactly.
"""

from dataclasses import dataclass
from functools import cache

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp


@dataclass(frozen=True)
class Point:
    """A candidate point of one network: node name, depth (topological index), per-sample shape."""

    node: str
    depth: int
    shape: tuple[int, ...]

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.shape[1:] if len(self.shape) == 3 else ()


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


class TracedNet:
    """A frozen network traced with torch.fx, its candidate points, and segments between points."""

    def __init__(self, model: nn.Module, example: torch.Tensor):
        self.gm = fx.symbolic_trace(model)
        with torch.no_grad():
            ShapeProp(self.gm).propagate(example[:2])
        self.nodes = list(self.gm.graph.nodes)
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        self.points = self._candidates()
        self.segment = cache(self._segment)

    def _candidates(self) -> list[Point]:
        out_node = self.nodes[-1]
        outputs = {a.name for a in out_node.all_input_nodes}
        points = []
        for i, n in enumerate(self.nodes):
            shape = _shape(n)
            if n.op in ("placeholder", "output", "get_attr") or n.name in outputs or shape is None:
                continue
            if len(shape) not in (2, 4):
                continue
            users = list(n.users)
            if len(users) == 1 and _shape(users[0]) == shape:
                continue  # represented by its user
            points.append(Point(n.name, i, shape[1:]))
        return points

    def live(self, node: str | None) -> list[str]:
        """Names of the values live right after `node` (None: the input), `node` first."""
        if node is None:
            return [n.name for n in self.nodes if n.op == "placeholder"]
        i = self.index[node]
        alive = [
            n.name for n in self.nodes[: i + 1] if n.op != "get_attr" and any(self.index[u.name] > i for u in n.users)
        ]
        return [node] + [a for a in alive if a != node]

    def _segment(self, start: str | None, end: str | None) -> fx.GraphModule:
        """A module mapping the live values at `start` to those at `end` (a tuple), or to the output."""
        graph = fx.Graph()
        env: dict[str, fx.Node] = {}
        for name in self.live(start):
            env[name] = graph.placeholder(name)
        lo = -1 if start is None else self.index[start]
        hi = len(self.nodes) - 1 if end is None else self.index[end] + 1

        def lookup(n: fx.Node) -> fx.Node:
            if n.name not in env and n.op == "get_attr":
                env[n.name] = graph.node_copy(n, lookup)
            return env[n.name]

        for n in self.nodes[lo + 1 : hi]:
            if n.op != "placeholder":
                env[n.name] = graph.node_copy(n, lookup)
        if end is None:
            graph.output(lookup(self.nodes[-1].args[0]))
        else:
            graph.output(tuple(env[name] for name in self.live(end)))
        return fx.GraphModule(self.gm, graph)

    def prefix(self, point: str) -> fx.GraphModule:
        return self.segment(None, point)

    def suffix(self, point: str) -> fx.GraphModule:
        return self.segment(point, None)


def match_points(a: TracedNet, b: TracedNet) -> list[tuple[Point, Point]]:
    """Match points of `a` and `b` in order of depth (no crossing), same rank, preferring equal spatial size.

    A dynamic program maximizes the total score of the matched pairs: 2 for equal spatial size, 1 otherwise.
    """
    pa, pb = a.points, b.points
    best = [[0] * (len(pb) + 1) for _ in range(len(pa) + 1)]
    for i in range(len(pa) - 1, -1, -1):
        for j in range(len(pb) - 1, -1, -1):
            s = _pair_score(pa[i], pb[j])
            take = s + best[i + 1][j + 1] if s else 0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], take)
    pairs, i, j = [], 0, 0
    while i < len(pa) and j < len(pb):
        s = _pair_score(pa[i], pb[j])
        if s and best[i][j] == s + best[i + 1][j + 1]:
            pairs.append((pa[i], pb[j]))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def _pair_score(p: Point, q: Point) -> int:
    if len(p.shape) != len(q.shape):
        return 0
    return 2 if p.spatial == q.spatial else 1


@dataclass(frozen=True)
class StitchPoint:
    """A point matched across all members: one node per member, with its per-sample shape."""

    name: str
    nodes: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]


def find_points(nets: list[TracedNet]) -> list[StitchPoint]:
    """Points matched across every member: each member is matched to the first; shared points are kept."""
    first = nets[0]
    matches = [{p.node: q for p, q in match_points(first, net)} for net in nets[1:]]
    points = []
    for p in first.points:
        if all(p.node in m for m in matches):
            chosen = [p, *(m[p.node] for m in matches)]
            nodes = tuple(q.node for q in chosen)
            name = nodes[0] if len(set(nodes)) == 1 else "/".join(nodes)
            points.append(StitchPoint(name, nodes, tuple(q.shape for q in chosen)))
    return points
