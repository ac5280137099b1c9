"""`stitch-ensemble` (the paper's method): host party, members (host's model + received models);
variables: the matched point, alpha (mixing at the point) and output weights over the members."""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from stitchbench.stitching import ActivationCache, CostModel, ensemble_branch_probs, prepare
from stitchbench.zoo import Zoo, score

from .api import Objective, Problem, Variable
from .baselines import baseline_vectors
from .checks import check_stitch_params
from .ensemble_weights import normalize, output_ensemble_front, simplex_grid
from .front import nondominated


class StitchEnsembleProblem(Problem):
    variable_kinds = frozenset({"categorical", "real"})
    summary = (
        "variables: point categorical (matched points), alpha real [0, 1], w.<member> real [0, 1] per member "
        "(normalized); objectives: score on each party (max) [+ cost in FLOPs (min)]; stitches trained by the host"
    )

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_stitch_params(scenario, zoo_archs, params)

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        method: str = "double-batched",
        archs: list[str] | None = None,
        seed: int = 0,
        cost: bool = False,
        recipe: dict | None = None,
        cache_dir: Path | None = None,
        memo_size: int = 512,
    ):
        super().__init__()
        self.zoo, self.host, self.seed = zoo, host, seed
        self.setup = prepare(zoo, host, method, archs, seed, recipe, cache_dir)
        self.cache = ActivationCache(self.setup.members, zoo.scenario)
        self.costs = CostModel(self.setup.members, self.setup.stitches, zoo.scenario.example())
        self.name = "stitch-ensemble"
        parties = [r.kind.split(":", 1)[1] for r in self.setup.records]
        self.variables = [
            Variable("point", "categorical", choices=tuple(self.setup.members.point_names)),
            Variable("alpha", "real", 0.0, 1.0),
            *(Variable(f"w.{p}", "real", 0.0, 1.0) for p in parties),
        ]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))
        self._branches: OrderedDict = OrderedDict()
        self._memo_size = memo_size

    def canonical(self, row: np.ndarray) -> tuple:
        pi, alpha, w = int(row[0]), float(row[1]), normalize(np.asarray(row[2:], dtype=float))
        return (0 if alpha == 0 else pi, alpha, *np.round(w, 12))

    def branch_probs(self, pi: int, alpha: float, party: str, split: str) -> torch.Tensor:
        """(M, N, C) probabilities of every branch at (point, alpha); memoized (LRU), as w varies freely."""
        key = (pi, alpha, party, split)
        if key in self._branches:
            self._branches.move_to_end(key)
            return self._branches[key]
        m = self.setup.members
        if alpha == 0:
            probs = torch.stack([self.cache.logits(k, party, split).softmax(1) for k in range(len(m))])
        else:
            lives = [self.cache.lives(k, pi, party, split) for k in range(len(m))]
            probs = ensemble_branch_probs(m, self.setup.stitches, pi, lives, alpha)
        self._branches[key] = probs
        if len(self._branches) > self._memo_size:
            self._branches.popitem(last=False)
        return probs

    def _evaluate(self, rows, split):
        out = []
        for row in rows:
            pi, alpha, w = int(row[0]), float(row[1]), torch.as_tensor(row[2:], dtype=torch.float32)
            values = []
            for o in self.objectives:
                if o.party is None:
                    values.append(self.costs.ensemble(pi, alpha, w.tolist()))
                    continue
                probs = torch.einsum("m,m...->...", w, self.branch_probs(pi, alpha, o.party, split))
                values.append(
                    float(score(self.zoo.scenario.metric, probs, self.zoo.scenario.party(o.party).split(split).y))
                )
            out.append(np.array(values, dtype=float))
        return out

    def train_parties(self) -> list[str]:
        return list(self.setup.manifest["touched"])

    def baselines(self, split="test"):
        records = self.setup.records
        return baseline_vectors(self.zoo, self.objectives, split, records[0].arch, self.seed, records)

    def grid(self, alphas: int = 11, weights: int = 21) -> np.ndarray:
        """Dense enumeration: every point x an alpha grid x a grid on the weight simplex."""
        W = simplex_grid(len(self.setup.members), weights)
        rows = [
            [pi, a, *w] for pi in range(len(self.setup.members.points)) for a in np.linspace(0, 1, alphas) for w in W
        ]
        return np.array(rows)

    def grid_front(self, split="val"):
        """The front of the dense enumeration `grid()`. Not exact (alpha and w are continuous), so
        `exact_front` stays None and IGD+ is not reported against it."""
        return nondominated(self.evaluate(self.grid(), split), self.maximize)

    def output_ensembles(self):
        return output_ensemble_front(self.zoo, self.setup.records, self.parties())

    def artifacts(self):
        return {**{r.kind: r.artifact for r in self.setup.records}, "stitches": self.setup.artifact}

    def max_cost(self) -> float:
        uniform = [1 / len(self.setup.members)] * len(self.setup.members)
        return float(max(self.costs.ensemble(pi, 1.0, uniform) for pi in range(len(self.setup.members.points))))
