"""Tabular stitch-ensembles: the table scores exactly what live evaluation scores, its front is exact, and
the two-member step scorer is exact accuracy."""

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.moo import TabularProblem, nondominated
from stitchbench.moo._scoring import StepAccuracy, WeightedScores, accuracy, interval_weights
from stitchbench.problems import create_problem


def candidates(problem, n: int, seed: int = 0, on_grid: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = len(problem.variables[0].choices)
    alphas = np.linspace(0, 1, 5)[rng.integers(0, 5, n)] if on_grid else rng.random(n)
    X = np.column_stack([rng.integers(0, points, n), alphas, rng.random((n, 2))])
    X[:4, 2:] = [[1, 0], [0, 1], [0, 0], [1, 1]]  # single members and the uniform ensemble
    return X


def test_tabular_and_live_evaluation_agree_exactly_on_the_grid(se_table, zoo, cache_dir):
    assert isinstance(se_table, TabularProblem) and se_table.front_kind() == "exact"
    live = create_problem("stitch-ensemble", zoo, host="uci-digits", cost=True, cache_dir=cache_dir)
    assert not isinstance(live, TabularProblem)
    X = candidates(se_table, 120)
    for split in ("val", "test"):
        np.testing.assert_array_equal(se_table.evaluate(X, split), live.evaluate(X, split))


def test_gridded_alpha_takes_the_nearest_grid_value(se_table):
    X = candidates(se_table, 50, seed=1, on_grid=False)
    snapped = X.copy()
    snapped[:, 1] = np.round(X[:, 1] * 4) / 4
    np.testing.assert_array_equal(se_table.evaluate(X, "val"), se_table.evaluate(snapped, "val"))


def test_the_tabular_front_is_exact(se_table):
    """Every candidate of a dense enumeration is weakly dominated by the exact front, which a coarse grid
    (the old 'exact' front) misses: some of its points beat every grid point."""
    exact = se_table.exact_front("val")
    rng = np.random.default_rng(2)
    w = np.sort(np.concatenate([np.linspace(0, 1, 401), rng.random(600)]))
    X = np.array([[pi, a, wi, 1 - wi] for pi in range(7) for a in np.linspace(0, 1, 5) for wi in w])
    F = se_table.evaluate(X, "val")
    sign = np.where(se_table.maximize, 1, -1)
    covered = ((exact * sign)[None, :, :] >= (F * sign)[:, None, :]).all(2).any(1)
    assert covered.all()
    coarse = se_table.evaluate(X[np.isin(X[:, 2], np.linspace(0, 1, 11))], "val")
    beaten = [f for f in exact if not ((coarse * sign) >= f * sign).all(1).any()]
    assert beaten, "a coarse grid's front should miss points of the exact front"
    # every front point is attained: it is the objective vector of some candidate
    rows = se_table.table.front_candidates(se_table.parties(), "val", None)
    attained = {
        tuple(f)
        for f in se_table.table.score_levels(rows[:, 0], rows[:, 1], rows[:, 2:], [*se_table.parties(), None], "val")
    }
    assert {tuple(f) for f in exact} <= attained


def test_the_table_is_built_once_and_then_read_from_the_cache(se_table, zoo, cache_dir, monkeypatch):
    from stitchbench.problems._stitch_ensemble import StitchEnsembleProblem

    def refuse(*args):
        raise AssertionError("the table should come from the cache")

    monkeypatch.setattr(StitchEnsembleProblem, "branch_probs", refuse)
    again = create_problem("stitch-ensemble", zoo, host="uci-digits", alpha_grid=5, cost=True, cache_dir=cache_dir)
    assert again.table_artifact.path == se_table.table_artifact.path
    X = candidates(se_table, 30, seed=3)
    np.testing.assert_array_equal(again.evaluate(X, "test"), se_table.evaluate(X, "test"))


@pytest.mark.parametrize("grid", [1, -2, 2.5, True, "21"])
def test_bad_alpha_grids_are_refused(zoo, grid):
    with pytest.raises(InputError, match="alpha_grid"):
        create_problem("stitch-ensemble", zoo, host="uci-digits", alpha_grid=grid)


def test_step_accuracy_is_exact_and_a_direct_float32_mixture_is_not_always():
    """On random probabilities with many near-ties, the step scorer equals the float64 argmax inside every
    interval, and float32 mixing (what a naive implementation does) disagrees somewhere near a breakpoint."""
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(4), size=(2, 3000)).astype(np.float32)
    y = rng.integers(0, 4, 3000)
    step = StepAccuracy(probs, y)
    edges, mids = interval_weights(step.breakpoints())
    pa, pb = probs.astype(np.float64)
    direct = np.array([accuracy(w * pa + (1 - w) * pb, y) for w in mids])
    np.testing.assert_array_equal(step(np.stack([mids, 1 - mids], 1)), direct)
    near = np.concatenate([edges[1:-1] - 1e-9, edges[1:-1] + 1e-9])
    W = np.stack([near, 1 - near], 1)
    assert (WeightedScores(probs, y, "accuracy")(W) != step(W)).any()
    # and with one member given all weight it is that member's accuracy
    assert step(np.array([[1.0, 0.0]]))[0] == accuracy(probs[0], y)
    assert step(np.array([[0.0, 1.0]]))[0] == accuracy(probs[1], y)


def test_nondominated_front_of_the_table_has_no_dominated_point(se_table):
    F = se_table.exact_front("test")
    np.testing.assert_array_equal(nondominated(F, se_table.maximize), F)


def test_switches_leave_members_out_as_zero_weights_and_keep_the_exact_front(se_table, zoo, cache_dir):
    switched = create_problem(
        "stitch-ensemble", zoo, host="uci-digits", alpha_grid=5, cost=True, switches=True, cache_dir=cache_dir
    )
    assert [v.name for v in switched.variables][-2:] == ["use.uci-digits", "use.mnist"]
    X = candidates(se_table, 200, seed=3)
    use = np.random.default_rng(4).integers(0, 2, (len(X), 2))
    zeroed = X.copy()
    zeroed[:, 2:] *= use
    empty = zeroed[:, 2:].sum(1) == 0
    zeroed[empty, 2:] = np.where(use[empty].sum(1, keepdims=True) > 0, use[empty], 1)  # even over those on
    np.testing.assert_array_equal(switched.evaluate(np.hstack([X, use]), "val"), se_table.evaluate(zeroed, "val"))
    np.testing.assert_array_equal(switched.exact_front("val"), se_table.exact_front("val"))
    single = switched.evaluate(np.hstack([X[4:54], np.tile([1, 0], (50, 1))]), "val")[:, -1]  # w > 0
    assert set(single) <= set(se_table.table.prefix + se_table.table.branch[:, 0]) | {se_table.table.full[0]}


def test_switches_add_binary_variables_that_a_suites_solvers_must_support(monkeypatch):
    from stitchbench.benchmark._suite import Suite
    from stitchbench.problems._registry import variable_kinds
    from stitchbench.registry import Entry
    from stitchbench.solvers import SOLVERS

    from .test_fuzz_suites import VALID
    from .test_reliability import Raising  # a solver of real variables only

    monkeypatch.setitem(SOLVERS._entries, Raising.name, Entry(Raising.name, Raising, Raising.__doc__))
    assert variable_kinds("ensemble-weights", {}) == {"real"}
    assert variable_kinds("stitch-ensemble", {"switches": True}) == {"real", "categorical", "binary"}
    suite = VALID | {
        "problems": [{"family": "ensemble-weights", "params": {"switches": True}}],
        "solvers": [{"name": Raising.name}],
    }
    Suite(**{**suite, "problems": [{"family": "ensemble-weights"}]})
    with pytest.raises(Exception, match="does not support binary"):
        Suite(**suite)
