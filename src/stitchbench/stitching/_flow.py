"""Dataflow of graph-form candidates: which switches reach the chosen output, and which nodes must run.

The two members' traced graphs are joined at the matched points: where a switch into member m is on at
point p, every user of p's node in m reads the stitched value of the other member's node at p (its value
before that point's switches) instead of m's own. A switch matters when its stitched value reaches a chosen
output along some path, skip connections included; a node must run when its value does.
"""

from dataclasses import dataclass
from functools import cache

from ._networks import GraphDecision, Members

COMPUTE_OPS = ("call_module", "call_function", "call_method")


@dataclass(frozen=True)
class Flow:
    """A candidate's canonical decision (switches that cannot reach the output turned off) and, per member,
    the nodes whose values the output needs."""

    decision: GraphDecision
    runs: tuple[frozenset[str], frozenset[str]]

    @property
    def used(self) -> tuple[bool, bool]:
        """Whether each member runs at all."""
        return bool(self.runs[0]), bool(self.runs[1])


class GraphFlow:
    """The joined dataflow of two members; `flow(d)` analyses a decision (memoized)."""

    def __init__(self, members: Members):
        if len(members) != 2:
            raise ValueError("the graph form joins exactly two members")
        self.points = [p.nodes for p in members.points]
        self.inputs = [
            {n.name: [a.name for a in n.all_input_nodes] for n in net.nodes if n.op in COMPUTE_OPS}
            for net in members.nets
        ]
        self.outputs = [[a.name for a in net.nodes[-1].all_input_nodes] for net in members.nets]
        self.point_of = [{nodes[m]: pi for pi, nodes in enumerate(self.points)} for m in (0, 1)]
        self.flow = cache(self._flow)

    def _flow(self, d: GraphDecision) -> Flow:
        into = (d.ba, d.ab)  # switches replacing member 0's value (B->A), member 1's (A->B)
        needed: tuple[set[str], set[str]] = (set(), set())  # values read downstream, after the switches
        runs: tuple[set[str], set[str]] = (set(), set())
        stack = [(m, v) for m in (0, 1) if d.output in ("AB"[m], "avg") for v in self.outputs[m]]
        while stack:
            m, v = stack.pop()
            if v in needed[m]:
                continue
            needed[m].add(v)
            pi = self.point_of[m].get(v)
            k, u = (1 - m, self.points[pi][1 - m]) if pi is not None and into[m][pi] else (m, v)
            if u in self.inputs[k] and u not in runs[k]:
                runs[k].add(u)
                stack.extend((k, a) for a in self.inputs[k][u])
        ab = tuple(on and p[1] in needed[1] for on, p in zip(d.ab, self.points, strict=True))
        ba = tuple(on and p[0] in needed[0] for on, p in zip(d.ba, self.points, strict=True))
        return Flow(GraphDecision(ab, ba, d.output), (frozenset(runs[0]), frozenset(runs[1])))
