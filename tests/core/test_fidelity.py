"""Fidelities of tabular instances (issue 35): nested prefixes of a fixed sample order, exact at every level,
exposed through the problem, the adapters and the evaluator (a budget in full-fidelity equivalents), and a
multi-fidelity solver that runs within its budget."""

import copy
from dataclasses import replace

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.moo._adapters import to_pymoo
from stitchbench.moo._scoring import member_weights, normalize
from stitchbench.solvers import Evaluator, create_solver, run_solver, sample_uniform
from stitchbench.tabular import load
from stitchbench.tabular._fidelity import fidelity_cost, prefix, sample_order
from stitchbench.tabular._graph import GraphTable, raw_rows

WEIGHTS = "digits-shift-4.weights-7-switches"  # 4 parties and cost, 7 members scored from probabilities


@pytest.fixture(scope="module")
def weights():
    return load(WEIGHTS)


def test_lower_fidelities_take_a_prefix_of_higher_ones():
    order = sample_order("mnist", 100)
    assert sorted(order) == list(range(100)) and list(order) != list(range(100))  # a permutation, not the identity
    assert (sample_order("mnist", 100) == order).all()  # fixed
    assert not (sample_order("uci-digits", 100) == order).all()  # per party
    low, high = prefix("mnist", 100, 0.25), prefix("mnist", 100, 0.5)
    assert len(low) == 25 and len(high) == 50 and set(low) < set(high)
    assert len(prefix("mnist", 100, 0.001)) == 1  # at least one sample


@pytest.mark.parametrize("fidelity", [0.1, 0.5, 0.9])
def test_a_score_at_fidelity_f_is_the_mean_over_the_prefix(weights, fidelity):
    X = sample_uniform(weights, 300, np.random.default_rng(0))
    F = weights.with_fidelity(fidelity).evaluate(X, "val")
    W = normalize(member_weights(X, weights.table.switches))
    for j, party in enumerate(weights.objective_parties()):
        if party is None:  # cost
            assert (F[:, j] == weights.evaluate(X)[:, j]).all()
            continue
        samples = weights.table.scorer(party, "val").samples(W)  # each sample's score, all of them
        keep = prefix(party, samples.shape[1], fidelity)
        assert (F[:, j] == samples[:, keep].mean(1)).all(), party
        assert not (F[:, j] == samples.mean(1)).all()  # not the full score


def test_fidelity_one_is_the_instance_bit_for_bit_and_test_stays_whole(weights):
    X = sample_uniform(weights, 200, np.random.default_rng(1))
    assert weights.with_fidelity(1.0) is weights
    view = weights.with_fidelity(0.3)
    assert view.with_fidelity(1) is weights and view.with_fidelity(0.3) is view
    assert (view.evaluate(X, "test") == weights.evaluate(X, "test")).all()
    assert weights.fidelity == 1 and view.fidelity == 0.3
    sizes = {p: weights.table.val_samples(p) for p in weights.parties()}
    assert view.fidelity_cost == fidelity_cost(sizes, 0.3) < 1


def test_the_cost_objective_and_the_front_follow_the_fidelity(weights):
    problem = weights
    view = problem.with_fidelity(0.5)
    X = sample_uniform(problem, 100, np.random.default_rng(2))
    cost = [o.party for o in problem.objectives].index(None)
    assert (view.evaluate(X)[:, cost] == problem.evaluate(X)[:, cost]).all()
    assert not np.array_equal(view.exact_front("val"), problem.exact_front("val"))
    assert np.array_equal(view.exact_front("test"), problem.exact_front("test"))


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, "half", float("nan")])
def test_a_fidelity_outside_0_1_is_refused_by_name(weights, bad):
    with pytest.raises(InputError, match=r"fidelit.*\(0, 1\]"):
        weights.with_fidelity(bad)


def test_a_graph_table_scores_its_per_sample_prefix_and_one_without_samples_refuses():
    rng = np.random.default_rng(3)
    rows = raw_rows(1)
    samples = {"a": rng.integers(0, 2, (len(rows), 40)).astype(float), "b": rng.random((len(rows), 30))}
    scores = np.column_stack([samples["a"].mean(1), samples["b"].mean(1)])
    table = GraphTable(np.arange(len(rows)), rows, {"val": scores, "test": scores}, samples)
    keep = {p: prefix(p, s.shape[1], 0.5) for p, s in samples.items()}
    half = table.restrict(keep, ["a", "b"])
    got = half.lookup(rows, ["a", "b"], "val")
    assert (got[:, 0] == samples["a"][:, keep["a"]].mean(1)).all()
    assert (got[:, 1] == samples["b"][:, keep["b"]].mean(1)).all()
    assert (GraphTable.from_arrays(table.to_arrays()).samples["b"] == samples["b"]).all()
    shipped = load("cross-arch.graph-6@mnist+cost")  # table format 2: per-sample val scores
    old = copy.copy(shipped)  # the same table at format 1: no per-sample scores
    old.table = replace(shipped.table, samples={})
    assert shipped.with_fidelity(0.5).fidelity == 0.5
    with pytest.raises(InputError, match="no per-sample scores"):
        old.with_fidelity(0.5)
    assert old.with_fidelity(1.0) is old


def test_the_evaluator_counts_full_fidelity_equivalents_and_logs_each_fidelity(weights):
    evaluator = Evaluator(weights, budget=10)
    X = sample_uniform(weights, 100, np.random.default_rng(4))
    cost = weights.with_fidelity(0.25).fidelity_cost
    served = evaluator(X, 0.25)
    assert len(served) == int(10 / cost)  # cut at the budget
    assert {e.fidelity for e in evaluator.log} == {0.25} and evaluator.log[0].cost == float(cost)
    assert sum(e.cost for e in evaluator.log) <= 10 and evaluator.remaining == 0


def test_successive_halving_runs_within_budget_and_ends_each_bracket_at_fidelity_one(weights):
    run = run_solver(create_solver("successive-halving", start=27), weights, 100, 0)
    assert run.status == "done", run.error
    assert 100 - 1 < sum(e.cost for e in run.log) <= 100
    fidelities = [e.fidelity for e in run.log]
    assert sorted(set(fidelities)) == [1 / 9, 1 / 3, 1.0]
    assert fidelities.count(1.0) >= 3 * (len(run.log) // 39 - 1)  # 27 + 9 + 3 per bracket
    with pytest.raises(InputError, match="successive-halving"):
        create_solver("successive-halving", eta=1)


def test_the_adapters_take_a_fidelity(weights):
    X = sample_uniform(weights, 5, np.random.default_rng(5))
    view = weights.with_fidelity(0.5)
    assert to_pymoo(weights, fidelity=0.5).problem is view
    bench = weights.optuna(fidelity=0.5)
    params = weights.decode(X[0])
    assert bench.evaluate(params) == list(view.evaluate(X[:1])[0])
    assert bench.evaluate(params, 1.0) == list(weights.evaluate(X[:1])[0])
    assert bench.cost() == float(view.fidelity_cost) and bench.cost(1.0) == 1.0
    space = bench.fidelity_space["fidelity"]
    assert space.high == 1.0 and space.low == 1 / min(weights.table.val_samples(p) for p in weights.parties())


def test_a_stitch_ensemble_scores_the_prefix_at_its_point_and_alpha():
    problem = load("digits-shift-4.stitch-switches@mnist-1+cost")
    X = sample_uniform(problem, 200, np.random.default_rng(6))
    X[:, :2] = X[0, :2]  # one point and alpha level, alpha > 0 below
    X[:, 1] = max(X[0, 1], 0.5)
    F = problem.with_fidelity(0.4).evaluate(X, "val")
    table = problem.table
    W = normalize(member_weights(X[:, 2:], table.switches))
    for j, party in enumerate(problem.objective_parties()):
        if party is not None:
            samples = table.combo_scorer((int(X[0, 0]), float(X[0, 1])), party, "val").samples(W)
            assert (F[:, j] == samples[:, prefix(party, samples.shape[1], 0.4)].mean(1)).all(), party
