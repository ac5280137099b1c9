"""Optuna's genetic samplers ask, by default, the trials that complete the current generation: those are the
trials asked one at a time (a trial's generation and parents depend only on the generations before it and
on how many of its own completed), failed trials included, so only the speed changes. The same comparison
tells other batches apart: a fixed generation-sized batch once a trial fails, and TPE's batches always."""

from contextlib import nullcontext

import numpy as np
import pytest

from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular import load

BUDGET = 130  # six generations of 20 and a part of the seventh
GRAPH, ENSEMBLE = "cross-arch.graph-6@mnist+cost", "digits-shift.weights-5-switches"


def failing(instance: str):
    """The shipped table with every decision whose first weight is above 0.8 scored NaN (a failed trial)."""
    problem = load(instance)
    evaluate = problem.evaluate

    def some_nan(X, split="val"):
        F = evaluate(X, split)
        F[problem.to_matrix(X)[:, 0] > 0.8] = np.nan
        return F

    problem.evaluate = some_nan
    return problem


def trials(name: str, problem, seed: int, **params) -> np.ndarray:
    run = run_solver(create_solver(name, **params), problem, BUDGET, seed)
    return np.array([np.r_[e.x, e.f] for e in run.log])


@pytest.mark.filterwarnings("ignore:The value nan is not acceptable")
@pytest.mark.parametrize("name", ["optuna.nsga2", "optuna.nsga3"])
@pytest.mark.parametrize("instance", [GRAPH, ENSEMBLE, "failing"])
def test_a_generation_at_a_time_asks_the_trials_one_at_a_time_would(name, instance):
    problem = failing(ENSEMBLE) if instance == "failing" else load(instance)
    for seed in (0, 1):
        default = trials(name, problem, seed, population_size=20)
        assert len(default) == BUDGET
        np.testing.assert_array_equal(default, trials(name, problem, seed, population_size=20, batch=1))
    if instance == "failing":
        assert np.isnan(default[:, -1]).sum() > 5  # failed trials, in every generation's count
        assert not np.array_equal(default, trials(name, problem, 1, population_size=20, batch=20))


@pytest.mark.filterwarnings("ignore:The value nan is not acceptable")
@pytest.mark.parametrize("name", ["optuna.nsga2", "optuna.nsga3"])
@pytest.mark.parametrize("instance", [GRAPH, "failing"])
def test_the_genetic_samplers_bookkeeping_asks_the_trials_optunas_own_samplers_do(name, instance, monkeypatch):
    """`OneStudyGenerations` counts generations as trials complete (failed ones not) and keeps the search
    space: Optuna's samplers, which scan every trial at each ask, ask the same trials."""
    from stitchbench.solvers import _optuna_solvers

    problem = failing(ENSEMBLE) if instance == "failing" else load(instance)
    ours = trials(name, problem, 0, population_size=20)
    monkeypatch.setattr(_optuna_solvers, "one_study", lambda base: base)
    np.testing.assert_array_equal(ours, trials(name, problem, 0, population_size=20))


def test_the_genetic_samplers_bookkeeping_serves_one_study():
    import optuna

    from stitchbench.solvers._optuna_solvers import sampler

    s = sampler("nsga2", 0, 4)
    for _ in range(2):
        study = optuna.create_study(sampler=s)
        with pytest.raises(ValueError, match="serves the one study") if _ else nullcontext():
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=9)


def test_tpe_asks_one_at_a_time_and_its_batches_are_other_trials():
    one = trials("optuna.tpe", load(ENSEMBLE), 0)
    assert not np.array_equal(one, trials("optuna.tpe", load(ENSEMBLE), 0, batch=20))
