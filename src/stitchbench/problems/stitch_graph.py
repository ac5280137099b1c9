"""`stitch-graph` (the predecessor's genotype): a binary switch per matched point and direction plus an
output choice (A = the host's model, B = the partner's, or their average); evaluated by inference only."""

from pathlib import Path

import numpy as np
import torch

from stitchbench.stitching import (
    OUTPUTS,
    ActivationCache,
    CostModel,
    GraphDecision,
    GraphFlow,
    graph_probs,
    output_probs,
    prepare,
)
from stitchbench.zoo import Zoo, score

from .api import Objective, Problem, Variable
from .baselines import baseline_vectors
from .checks import check_stitch_params
from .ensemble_weights import output_ensemble_front
from .front import nondominated


class StitchGraphProblem(Problem):
    variable_kinds = frozenset({"binary", "categorical"})
    summary = (
        "variables: ab.<point>, ba.<point> binary switches per matched point, output categorical {A, B, avg} "
        "(A: host's model); objectives: score on each party (max) [+ cost in FLOPs (min)]"
    )

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_stitch_params(scenario, zoo_archs, params)

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        partner: str | None = None,
        method: str = "feature-match",
        archs: list[str] | None = None,
        seed: int = 0,
        cost: bool = False,
        recipe: dict | None = None,
        cache_dir: Path | None = None,
        enumerate_limit: int = 4096,
    ):
        super().__init__()
        self.zoo, self.host, self.seed = zoo, host, seed
        partner = partner or next(p for p in zoo.scenario.party_names if p != host)
        self.setup = prepare(zoo, host, method, archs, seed, recipe, cache_dir, partners=[partner])
        m = self.setup.members
        self.cache = ActivationCache(m, zoo.scenario)
        self.costs = CostModel(m, self.setup.stitches, zoo.scenario.example())
        self.flow = GraphFlow(m).flow
        self.name = "stitch-graph"
        self.n_points = len(m.points)
        self.variables = [
            *(Variable(f"ab.{p}", "binary") for p in m.point_names),
            *(Variable(f"ba.{p}", "binary") for p in m.point_names),
            Variable("output", "categorical", choices=OUTPUTS),
        ]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))
        self.enumerate_limit = enumerate_limit

    def decision(self, row: np.ndarray) -> GraphDecision:
        n = self.n_points
        return GraphDecision(
            tuple(bool(x) for x in row[:n]), tuple(bool(x) for x in row[n : 2 * n]), OUTPUTS[int(row[-1])]
        )

    def canonical(self, row: np.ndarray) -> tuple:
        """Switches off where no path from them (skips included) reaches the chosen output."""
        d = self.flow(self.decision(row)).decision
        return (*map(float, d.ab), *map(float, d.ba), float(OUTPUTS.index(d.output)))

    def probs(self, d: GraphDecision, party: str, split: str) -> torch.Tensor:
        start = d.first_active()
        if start is None:
            return output_probs({m: self.cache.logits(m, party, split) for m in (0, 1)}, d.output)
        lives = [self.cache.lives(m, start, party, split) for m in (0, 1)]
        return graph_probs(self.setup.members, self.setup.stitches, d, lives, start)

    def _evaluate(self, rows, split):
        out = []
        for row in rows:
            flow = self.flow(self.decision(row))
            values = [
                float(
                    score(
                        self.zoo.scenario.metric,
                        self.probs(flow.decision, o.party, split),
                        self.zoo.scenario.party(o.party).split(split).y,
                    )
                )
                if o.party
                else float(self.costs.graph(flow))
                for o in self.objectives
            ]
            out.append(np.array(values))
        return out

    def train_parties(self) -> list[str]:
        return list(self.setup.manifest["touched"])

    def baselines(self, split="test"):
        records = self.setup.records
        return baseline_vectors(self.zoo, self.objectives, split, records[0].arch, self.seed, records)

    def space_size(self) -> int:
        return 3 * 4**self.n_points

    def front_kind(self):
        """Small spaces are enumerated whole (one evaluation per canonical candidate): exact."""
        return "exact" if self.space_size() <= self.enumerate_limit else "none"

    def exact_front(self, split="val"):
        if not self.front_is_exact:
            return None
        n = self.n_points
        rows = [[*((i >> b) & 1 for b in range(2 * n)), o] for i in range(4**n) for o in range(3)]
        return nondominated(self.evaluate(np.array(rows, dtype=float), split), self.maximize)

    def output_ensembles(self):
        return output_ensemble_front(self.zoo, self.setup.records, self.parties())

    def artifacts(self):
        return {**{r.kind: r.artifact for r in self.setup.records}, "stitches": self.setup.artifact}

    def max_cost(self) -> float:
        on = (True,) * self.n_points
        return float(self.costs.graph(self.flow(GraphDecision(on, on, "avg"))))
