"""A minimal third-party solver: random restarts plus Gaussian steps around non-dominated points."""

import numpy as np

from stitchbench.solvers import Solver, sample_uniform


class HillClimber(Solver):
    """Multi-objective hill climber: mutate a random archive member, keep what is not dominated."""

    name = "example.hillclimb"
    supports = frozenset({"real"})

    def __init__(self, step: float = 0.1, batch: int = 10):
        self.step, self.batch = step, batch

    def solve(self, problem, evaluator, budget, seed):
        rng = np.random.default_rng(seed)
        lo = np.array([v.low for v in problem.variables])
        hi = np.array([v.high for v in problem.variables])
        X = sample_uniform(problem, min(self.batch, evaluator.remaining), rng)
        evaluator(X)
        while evaluator.remaining > 0:
            parents = evaluator.X()[rng.integers(0, len(evaluator.log), self.batch)]
            children = np.clip(parents + rng.normal(0, self.step, parents.shape) * (hi - lo), lo, hi)
            evaluator(children[: evaluator.remaining])
