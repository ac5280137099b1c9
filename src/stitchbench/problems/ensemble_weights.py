"""`ensemble-weights`: output weights on the simplex over M member models; exact and cheap."""

import itertools
import math
from collections.abc import Sequence

import moocore
import numpy as np

from stitchbench.zoo import ModelRecord, Zoo, expand_kinds

from .api import Objective, Problem, Variable
from .baselines import baseline_vectors, ensemble_scores, model_flops
from .checks import check_ensemble_params
from .front import nondominated


def normalize(w: np.ndarray) -> np.ndarray:
    """Weights on the simplex; all-zero means uniform."""
    total = w.sum()
    return np.full_like(w, 1 / len(w)) if total <= 0 else w / total


def simplex_grid(m: int, max_points: int = 5000) -> np.ndarray:
    """A regular lattice on the m-simplex, as fine as `max_points` allows (1,001 points for m = 2)."""
    if m == 2:
        t = np.linspace(0, 1, min(1001, max_points))
        return np.stack([t, 1 - t], 1)
    res = 1
    while math.comb(res + m, m - 1) <= max_points:
        res += 1
    # stars and bars: m - 1 bars among res + m - 1 slots
    pts = [np.diff([-1, *bars, res + m - 1]) - 1 for bars in itertools.combinations(range(res + m - 1), m - 1)]
    return np.array(pts, dtype=float) / res


def output_ensemble_front(
    zoo: Zoo, records: Sequence[ModelRecord], parties: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The front of weighted output ensembles of `records` chosen on val and re-scored on test, over the
    parties' scores: (weights, val scores, test scores), one row per front point."""
    W = simplex_grid(len(records))
    val = np.stack([ensemble_scores(zoo, records, W, p, "val") for p in parties], 1)
    keep = moocore.is_nondominated(val, maximise=True, keep_weakly=False)
    _, first = np.unique(val[keep], axis=0, return_index=True)  # one weighting per distinct val vector
    W = W[keep][np.sort(first)]
    test = np.stack([ensemble_scores(zoo, records, W, p, "test") for p in parties], 1)
    return W, val[keep][np.sort(first)], test


class EnsembleWeights(Problem):
    """Weights w.<member> in [0, 1] (normalized onto the simplex) of an output ensemble; one score per party."""

    variable_kinds = frozenset({"real"})
    summary = (
        "variables: w.<member> real [0, 1] per member (normalized to sum 1); "
        "objectives: score on each party (max) [+ cost in FLOPs (min)]"
    )

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_ensemble_params(scenario, zoo_archs, params)

    def __init__(
        self, zoo: Zoo, members: Sequence[str] = ("local",), arch: str | None = None, seed: int = 0, cost: bool = False
    ):
        super().__init__()
        self.zoo = zoo
        self.arch = arch or zoo.records[0].arch
        self.seed = seed
        self.members = [zoo.get(k, self.arch, seed) for k in expand_kinds(zoo.scenario, members)]
        self.name = "ensemble-weights"
        self.variables = [Variable(f"w.{r.kind}", "real", 0.0, 1.0) for r in self.members]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))
        example = zoo.scenario.example()
        self.flops = np.array([model_flops(r, example) for r in self.members], dtype=float)

    def canonical(self, row: np.ndarray) -> tuple:
        return tuple(np.round(normalize(row), 12))

    def _evaluate(self, rows, split):
        W = np.array(rows)
        cols = [
            ensemble_scores(self.zoo, self.members, W, o.party, split) if o.party else (W > 0) @ self.flops
            for o in self.objectives
        ]
        return list(np.stack(cols, 1))

    def baselines(self, split="test"):
        return baseline_vectors(self.zoo, self.objectives, split, self.arch, self.seed)

    def exact_front(self, split="val"):
        F = self.evaluate(simplex_grid(len(self.members)), split)
        return nondominated(F, self.maximize)

    def front_kind(self):
        return "approximate"  # a lattice on the continuous simplex

    def artifacts(self):
        return {r.kind: r.artifact for r in self.members}

    def max_cost(self) -> float:
        return float(self.flops.sum())
