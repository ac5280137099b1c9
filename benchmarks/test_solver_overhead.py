"""Solver overhead per evaluation on trivial problems (the problem's own cost excluded)."""

import time

import numpy as np
import pytest

from stitchbench.moo import Objective, Problem, Variable
from stitchbench.solvers import SOLVERS, create_solver, fits, run_solver

BUDGET = 200


class Trivial(Problem):
    """Two parties' 'scores' from a closed form (ZDT1-like), real or binary variables."""

    def __init__(self, kind: str):
        super().__init__()
        self.name = f"trivial-{kind}"
        self.variables = [Variable(f"x{i}", kind) for i in range(6)]
        self.objectives = [Objective("a", "max", "a"), Objective("b", "max", "b")]
        self.problem_seconds = 0.0

    def _evaluate(self, rows, split):
        t = time.perf_counter()
        X = np.array(rows)
        g = 1 + X[:, 1:].mean(1)
        out = list(np.stack([1 - X[:, 0], 1 - g * (1 - np.sqrt(X[:, 0] / g))], 1))
        self.problem_seconds += time.perf_counter() - t
        return out

    def baselines(self, split="test"):
        return {}


@pytest.mark.parametrize("name", [n for n in SOLVERS.names() if n != "example.hillclimb"])
def test_overhead_per_evaluation(benchmark, name):
    problem = Trivial("binary" if name in ("exhaustive", "optuna.bruteforce") else "real")
    if not fits(name, problem):
        pytest.skip("variable kinds")
    budget = 40 if name == "optuna.gp" else BUDGET

    def run():
        problem._memo.clear()
        problem.problem_seconds = 0.0
        start = time.perf_counter()
        r = run_solver(create_solver(name), problem, budget, 0)
        return (time.perf_counter() - start - problem.problem_seconds) / max(1, len(r.log))

    per_eval = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["overhead_ms_per_eval"] = per_eval * 1e3
    print(f"\n{name}: {per_eval * 1e3:.3f} ms overhead per evaluation")
