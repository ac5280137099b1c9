"""`example.hillclimb`: a multi-objective hill climber."""

import numpy as np

from stitchbench.errors import InputError
from stitchbench.solvers import Solver, sample_uniform


class HillClimber(Solver):
    """Hill climber: mutate random archive members (Gaussian steps on reals, resampling whole numbers)."""

    name = "example.hillclimb"
    supports = frozenset({"real", "integer", "binary"})

    def __init__(self, step: float = 0.1, resample: float = 0.2, batch: int = 10):
        if step <= 0 or not 0 <= resample <= 1 or batch < 1:
            raise InputError(
                f"example.hillclimb: step must be > 0, resample in [0, 1], batch >= 1; "
                f"got step={step}, resample={resample}, batch={batch}"
            )
        self.step, self.resample, self.batch = step, resample, batch

    def solve(self, problem, evaluator, budget, seed):
        rng = np.random.default_rng(seed)
        real = np.array([v.kind == "real" for v in problem.variables])
        lo, hi = (np.array(b, dtype=float) for b in zip(*(v.bounds for v in problem.variables), strict=True))
        evaluator(sample_uniform(problem, min(self.batch, evaluator.remaining), rng))
        while evaluator.remaining > 0:
            parents = evaluator.X()[rng.integers(0, len(evaluator.log), self.batch)]
            stepped = np.clip(parents + rng.normal(0, self.step, parents.shape) * (hi - lo), lo, hi)
            redrawn = np.where(
                rng.random(parents.shape) < self.resample, sample_uniform(problem, self.batch, rng), parents
            )
            evaluator(np.where(real, stepped, redrawn)[: evaluator.remaining])
