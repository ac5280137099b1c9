"""Successive halving over random search: a multi-fidelity solver (tabular instances' fidelities, see
`stitchbench.tabular._fidelity`). Each bracket draws `start` candidates uniformly, scores them at the lowest
fidelity, and promotes the best 1/`eta` of them (Pareto rank, ties in a seeded random order) to a fidelity
`eta` times higher, up to fidelity 1; brackets repeat until the budget (in full-fidelity evaluations) is spent.
Only the last rung's evaluations are at fidelity 1, the ones fronts and indicators use."""

from typing import Annotated

import moocore
import numpy as np
from pydantic import Field

from stitchbench.moo._api import sample_uniform

from ._api import Evaluator, Solver


def promote(F: np.ndarray, maximize: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the k best rows of F: lowest Pareto rank first, ties in a random order."""
    rank = moocore.pareto_rank(F, maximise=list(maximize))
    return np.lexsort((rng.permutation(len(F)), rank))[:k]


class SuccessiveHalving(Solver):
    """Successive halving over random search, on the instance's fidelities (tabular instances)."""

    name = "successive-halving"
    supports = frozenset({"real", "integer", "categorical", "binary"})

    def __init__(
        self,
        start: Annotated[int, Field(ge=2, le=100_000)] = 81,
        eta: Annotated[int, Field(ge=2, le=100)] = 3,
        rungs: Annotated[int, Field(ge=1, le=10)] = 3,
    ):
        self.start, self.eta, self.rungs = start, eta, rungs

    def fidelities(self) -> list[float]:
        """Each rung's fidelity, lowest first: eta**-(rungs - 1), ..., 1/eta, 1."""
        return [float(self.eta) ** -(self.rungs - 1 - r) for r in range(self.rungs)]

    def solve(self, problem, evaluator: Evaluator, budget, seed):
        rng = np.random.default_rng(seed)
        while evaluator.fits(self.fidelities()[0]) > 0:
            X = sample_uniform(problem, self.start, rng)
            for r, fidelity in enumerate(self.fidelities()):
                F = evaluator(X, fidelity)
                X = X[: len(F)]  # a batch the budget cut
                if r + 1 < self.rungs:
                    X = X[promote(F, problem.maximize, max(1, len(X) // self.eta), rng)]
