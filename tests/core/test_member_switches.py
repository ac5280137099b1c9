"""Member selection a solver can reach (issue 23): with `switches`, binary use.<m> variables leave members out,
so the cost front's single-member candidates are hit with positive probability; the exact front is the same
(the reachable weightings are the whole simplex, faces included) and survives export and load."""

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.moo._instance import make_instance
from stitchbench.moo._scoring import member_weights
from stitchbench.results._indicators import hypervolume
from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular import load
from stitchbench.tabular._export import export_problem

from .test_tables import Constructed, constructed_table


def test_a_switched_off_member_weighs_nothing_and_all_off_is_uniform():
    cols = np.array([[0.3, 0.9, 1, 0], [0.3, 0.9, 0, 1], [0.3, 0.9, 1, 1], [0.3, 0.9, 0, 0], [0.0, 0.9, 1, 1]])
    W = member_weights(cols, switches=True)
    np.testing.assert_allclose(W, [[1, 0], [0, 1], [0.25, 0.75], [0.5, 0.5], [0, 1]])
    on_but_zero = member_weights(np.array([[0.0, 0.7, 1, 0], [0.0, 0.0, 1, 1], [0.0, 0.0, 0, 1]]), switches=True)
    np.testing.assert_allclose(on_but_zero, [[1, 0], [0.5, 0.5], [0, 1]])  # never weight on a member switched off
    np.testing.assert_allclose(member_weights(cols[:, :2]), [[0.25, 0.75]] * 4 + [[0, 1]])


def random_costs(problem, n=400, seed=0):
    rng = np.random.default_rng(seed)
    kinds = [v.kind for v in problem.variables]
    X = np.array([[rng.uniform() if k == "real" else rng.integers(0, 2) for k in kinds] for _ in range(n)])
    return problem.evaluate(X, "val")[:, -1]


def test_random_decisions_reach_single_members_only_with_switches():
    flops = constructed_table().flops
    with_switches = random_costs(Constructed(constructed_table(switches=True), cost=True))
    without = random_costs(Constructed(constructed_table(), cost=True))
    single = np.isin(with_switches, flops).mean()
    assert 0.3 < single < 0.7  # use = (1, 0) or (0, 1): half of the draws
    assert np.isin(without, flops).sum() == 0  # a weight of exactly 0: never drawn
    assert set(np.unique(without)) == {flops.sum()}


def test_the_exact_front_is_unchanged_and_reached():
    plain = Constructed(constructed_table(), cost=True)
    switched = Constructed(constructed_table(switches=True), cost=True)
    front = switched.exact_front("val")
    np.testing.assert_array_equal(np.unique(front, axis=0), np.unique(plain.exact_front("val"), axis=0))
    assert np.isin(front[:, -1], plain.table.flops).any()  # single members are on the cost front
    hv = {}
    for problem in (plain, switched):
        rec = make_instance(problem, "ensemble-weights", "ensemble-weights", {}, "constructed", {}, 0)
        run = run_solver(create_solver("random"), problem, 300, seed=0)
        F = np.array([e.f for e in run.log])
        hv[problem is switched] = hypervolume(F, rec) / hypervolume(front, rec)
    assert hv[True] > 0.95 > hv[False]


def test_switches_survive_export_and_load(tmp_path):
    problem = Constructed(constructed_table(switches=True), cost=True)
    rec = make_instance(problem, "ensemble-weights", "ensemble-weights", {}, "constructed", {}, 0)
    export_problem(problem, rec, tmp_path / "t")
    loaded = load(tmp_path / "t")
    assert [v.name for v in loaded.variables][2:] == ["use.local:A", "use.local:B"]
    X = np.array([[0.2, 0.7, 1, 0], [0.2, 0.7, 1, 1], [0.2, 0.7, 0, 0]])
    np.testing.assert_array_equal(loaded.evaluate(X, "test"), problem.evaluate(X, "test"))
    with pytest.raises(Exception, match="use.local"):
        Constructed(constructed_table(), cost=True).table.check_variables(loaded.variables)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (0, np.nan, r"'w\.[^']+'.*not finite"),
        (0, 1.5, r"'w\.[^']+'.*outside its bounds"),
        (-1, 0.5, r"'use\.[^']+' \(binary\).*not a whole number"),
        (-1, 2.0, r"'use\.[^']+'.*outside its bounds"),
    ],
)
def test_a_numeric_batch_with_one_bad_value_is_refused_naming_it(column, value, message):
    """The fast path of numeric batches lets through only what the row-wise checks would: a weight that is NaN
    or out of bounds, or a switch that is not 0 or 1, anywhere in a batch, is refused with the variable named."""
    problem = load("cross-arch.weights-4-switches")
    X = np.tile([[0.5] * 4 + [1.0] * 4], (300, 1))
    assert np.array_equal(problem.to_matrix(X), X)
    X[123, column] = value
    with pytest.raises(InputError, match=message):
        problem.evaluate(X)
