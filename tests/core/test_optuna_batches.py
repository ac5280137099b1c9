"""Optuna's genetic samplers ask a generation at a time by default: the trials are those asked one at a
time (a trial's generation and parents depend only on the generations before it), so only the speed
changes. The same comparison tells TPE's batches apart: its trials depend on every trial told."""

import numpy as np
import pytest

from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular import load

BUDGET = 130  # six generations of 20 and a part of the seventh


def trials(name: str, instance: str, seed: int, **params) -> np.ndarray:
    run = run_solver(create_solver(name, **params), load(instance), BUDGET, seed)
    return np.array([np.r_[e.x, e.f] for e in run.log])


@pytest.mark.parametrize("name", ["optuna.nsga2", "optuna.nsga3"])
@pytest.mark.parametrize("instance", ["cross-arch.graph-6@mnist+cost", "digits-shift.weights-5-switches"])
def test_a_generation_at_a_time_asks_the_trials_one_at_a_time_would(name, instance):
    assert create_solver(name, population_size=20).batch == 20
    for seed in (0, 1):
        default = trials(name, instance, seed, population_size=20)
        assert len(default) == BUDGET
        np.testing.assert_array_equal(default, trials(name, instance, seed, population_size=20, batch=1))


def test_tpe_asks_one_at_a_time_and_its_batches_are_other_trials():
    assert create_solver("optuna.tpe").batch == 1
    one = trials("optuna.tpe", "digits-shift.weights-5-switches", 0)
    assert not np.array_equal(one, trials("optuna.tpe", "digits-shift.weights-5-switches", 0, batch=20))
