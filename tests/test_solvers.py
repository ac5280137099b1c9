import time

import moocore
import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.solvers import SOLVERS, Evaluator, Solver, check_supports, create_solver, fits, run_solver
from stitchbench.tabular._fidelity import val_sizes

BUILTIN = [n for n in SOLVERS.names() if SOLVERS.entry(n).plugin is None]


def params(name):
    if name.startswith("pymoo."):
        return {"pop_size": 8}
    if name.startswith("optuna.") and name in ("optuna.nsga2", "optuna.nsga3"):
        return {"population_size": 8}
    return {}


@pytest.fixture(scope="module")
def families(weights_problem, se_problem, graph_problem):
    return {"ensemble-weights": weights_problem, "stitch-ensemble": se_problem, "stitch-graph": graph_problem}


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_solver_runs_on_every_family_it_supports(name, families):
    ran = 0
    for problem in families.values():
        if not fits(name, problem):
            with pytest.raises(InputError, match="does not support"):
                check_supports(name, problem.kinds)
            continue
        budget = 12 if name == "optuna.gp" else 24
        run = run_solver(create_solver(name, **params(name)), problem, budget, seed=0)
        if name == "successive-halving" and not val_sizes(problem):  # a table without per-sample scores
            assert run.status == "failed" and "no fidelities" in run.error, run.error
            continue
        assert run.status == "done", run.error
        assert run.log and sum(e.cost for e in run.log) <= budget  # full-fidelity equivalents
        assert [e.index for e in run.log] == list(range(1, len(run.log) + 1))
        F = np.array([e.f for e in run.log])
        assert F.shape[1] == len(problem.objectives) and np.isfinite(F).all()
        ran += 1
    assert ran >= 1


@pytest.mark.parametrize("name", [n for n in BUILTIN if n not in ("exhaustive", "optuna.bruteforce")])
def test_same_seed_same_evaluation_log(name, weights_problem):
    budget = 10 if name == "optuna.gp" else 30
    logs = []
    for _ in range(2):
        run = run_solver(create_solver(name, **params(name)), weights_problem, budget, seed=7)
        logs.append((np.array([e.x for e in run.log]), np.array([e.f for e in run.log])))
    assert np.array_equal(logs[0][0], logs[1][0]) and np.array_equal(logs[0][1], logs[1][1])
    other = run_solver(create_solver(name, **params(name)), weights_problem, budget, seed=8)
    assert not np.array_equal(np.array([e.x for e in other.log]), logs[0][0])


def test_discrete_solvers_are_deterministic_and_exhaustive_refuses_huge_spaces(graph_problem):
    a = run_solver(create_solver("exhaustive"), graph_problem, 16, 0)
    b = run_solver(create_solver("exhaustive"), graph_problem, 16, 1)
    assert np.array_equal(np.array([e.x for e in a.log]), np.array([e.x for e in b.log]))
    run = run_solver(create_solver("exhaustive", limit=1000), graph_problem, 16, 0)
    assert run.status == "failed" and "49152 candidates, more than the limit 1000" in run.error


def test_nsga2_reaches_the_exact_front(weights_problem):
    front = weights_problem.exact_front("val")
    run = run_solver(create_solver("pymoo.nsga2"), weights_problem, 500, seed=0)
    F = np.array([e.f for e in run.log])
    assert len(F) == 500
    assert moocore.igd_plus(F, front, maximise=True) < 0.01


def test_evaluator_owns_the_budget(weights_problem):
    ev = Evaluator(weights_problem, budget=5)
    F = ev(np.full((8, 2), 0.5))
    assert len(F) == 5 and len(ev.log) == 5
    from stitchbench.solvers import BudgetExhausted

    with pytest.raises(BudgetExhausted):
        ev([[0.1, 0.9]])


class Raising(Solver):
    name = "test.raising"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator(np.full((3, 2), 0.5))
        raise RuntimeError("solver bug")


class Malformed(Solver):
    name = "test.malformed"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator([[0.5, 0.5]])
        evaluator([[0.5, float("nan")]])


class Stalling(Solver):
    name = "test.stalling"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator([[0.2, 0.8], [0.3, 0.7]])
        time.sleep(30)


class Greedy(Solver):
    name = "test.greedy"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        while True:  # ignores the budget: the evaluator stops it
            evaluator(np.random.default_rng(0).uniform(size=(4, 2)))


@pytest.mark.parametrize(
    "solver,status,kept,error",
    [
        (Raising(), "failed", 3, "RuntimeError: solver bug"),
        (Malformed(), "failed", 1, "'w.local:mnist'.*not finite"),
        (Stalling(), "failed", 2, "stalled"),
        (Greedy(), "done", 10, None),
    ],
)
def test_faulty_solvers_fail_their_job_only_and_keep_the_log(solver, status, kept, error, weights_problem, monkeypatch):
    import stitchbench.solvers._job as job

    monkeypatch.setattr(job.threading.Thread, "join", _short_join(job.threading.Thread.join))
    run = run_solver(solver, weights_problem, budget=10, seed=0, time_limit=0.5)
    assert run.status == status and len(run.log) == kept
    if error:
        import re

        assert re.search(error, run.error)


def _short_join(join):
    def short(self, timeout=None):  # no 5 s grace in tests
        return join(self, None if timeout is None else min(timeout, 1.0))

    return short


def test_unknown_solver_and_parameters_are_rejected():
    with pytest.raises(InputError, match="unknown solver 'pymoo.cmaes'.*pymoo.nsga2"):
        create_solver("pymoo.cmaes")
    with pytest.raises(InputError, match="unknown parameter 'popsize'.*pop_size"):
        create_solver("pymoo.nsga2", popsize=10)


def test_plugin_solver_is_discovered_and_runs(weights_problem):
    entry = SOLVERS.entry("example.hillclimb")
    assert entry.plugin == "stitchbench_example_plugin.solver:HillClimber"
    assert entry.about.startswith("[plugin stitchbench_example_plugin.solver:HillClimber] Hill climber: mutate")
    run = run_solver(create_solver("example.hillclimb", step=0.05), weights_problem, 40, 0)
    assert run.status == "done" and len(run.log) == 40
