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


@pytest.mark.parametrize("name", ["optuna.nsga2", "optuna.nsga3"])
def test_genetic_sampler_bookkeeping_against_optunas_own(benchmark, name, monkeypatch):
    """1,000 trials of Optuna's genetic sampler with `OneStudyGenerations`' bookkeeping, and with Optuna's
    own (which scans every trial at each ask), in one run: the same trials, the time of each."""
    from stitchbench.solvers import _optuna_solvers

    problem = Trivial("real")

    def one(base_class):
        monkeypatch.setattr(_optuna_solvers, "one_study", base_class)
        problem._memo.clear()
        start = time.perf_counter()
        log = run_solver(create_solver(name), problem, 1000, 0).log
        return time.perf_counter() - start, np.array([e.x for e in log])

    fast = _optuna_solvers.one_study

    def run():  # each twice, in turn: the first job in a process pays Optuna's warm-up
        (ours, x), (own, y), (ours2, _), (own2, _) = (one(b) for b in (fast, lambda base: base) * 2)
        np.testing.assert_array_equal(x, y)
        return min(ours, ours2), min(own, own2)

    ours, own = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info |= {"ours_s": ours, "optunas_own_s": own, "ratio": own / ours}
    print(f"\n{name}: 1,000 trials in {ours:.2f} s, with Optuna's own bookkeeping {own:.2f} s ({own / ours:.2f}x)")
