"""The core on a constructed table, without torch: a weights table is exported, loaded (sha256-verified),
searched by pymoo's NSGA-II and Optuna through `run_solver`, and scored by the results' indicators; its exact
front is the true front (a dense scan attains nothing beyond it), and a damaged file is refused."""

import numpy as np
import pytest

from stitchbench.moo._api import Objective, Variable
from stitchbench.moo._instance import make_instance
from stitchbench.results._indicators import hypervolume
from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular import TableIntegrityError, WeightsTable, load
from stitchbench.tabular._export import export_problem
from stitchbench.tabular._problem import TableBackedProblem

PARTIES = ("A", "B")


def constructed_table(seed: int = 0, n: int = 300, classes: int = 4, switches: bool = False) -> WeightsTable:
    """Two members, each sure of the truth on its own party's data and guessing elsewhere."""
    rng = np.random.default_rng(seed)
    probs, labels = {}, {}
    for p, party in enumerate(PARTIES):
        for split in ("val", "test"):
            y = rng.integers(0, classes, n)
            members = []
            for m in range(2):
                logits = rng.normal(0, 1, (n, classes))
                logits[np.arange(n), y] += 2.5 if m == p else 0.3
                e = np.exp(logits)
                members.append(e / e.sum(1, keepdims=True))
            probs[party, split] = np.stack(members).astype(np.float32)
            labels[party, split] = y
    return WeightsTable(["w.local:A", "w.local:B"], probs, labels, "accuracy", np.array([1e6, 2e6]), switches)


class Constructed(TableBackedProblem):
    """ensemble-weights over a constructed table."""

    variable_kinds = frozenset({"real", "binary"})
    summary = "constructed"

    def __init__(self, table: WeightsTable, cost: bool = False):
        super().__init__()
        self.table, self.name = table, "ensemble-weights"
        self.variables = [Variable(name, "real") for name in table.members]
        self.variables += [Variable(name, "binary") for name in table.variable_names()[len(table.members) :]]
        self.objectives = [Objective(p, "max", p) for p in PARTIES] + ([Objective("cost", "min", None)] * cost)

    def scenario_name(self):
        return "constructed"

    def metric(self):
        return "accuracy"

    def baselines(self, split="test"):
        W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        F = self.evaluate(np.hstack([W, np.ones_like(W)]) if self.table.switches else W, split)
        return dict(zip(["local:A", "local:B", "ensemble"], F, strict=True))

    def member_kinds(self):
        return ["local:A", "local:B"]

    def max_cost(self):
        return float(self.table.flops.sum())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    problem = Constructed(constructed_table())
    rec = make_instance(problem, "ensemble-weights", "ensemble-weights", {}, "constructed", {}, 0)
    out = tmp_path_factory.mktemp("export") / "table"
    export_problem(problem, rec, out)
    return problem, out


def test_a_loaded_table_scores_as_its_source(exported):
    problem, out = exported
    loaded = load(out)
    X = np.random.default_rng(1).uniform(0, 1, (500, 2))
    for split in ("val", "test"):
        assert np.array_equal(loaded.evaluate(X, split), problem.evaluate(X, split))
        assert np.array_equal(loaded.exact_front(split), problem.exact_front(split))
    assert loaded.front_kind() == "exact" and loaded.instance.members == ["local:A", "local:B"]


def test_the_exact_front_is_the_true_front(exported):
    """Every weighting of a dense scan is weakly dominated by a point of the exact front; a front with one
    point removed fails the same check (the check can fail)."""
    problem, _ = exported
    w = np.linspace(0, 1, 20_001)
    F = problem.evaluate(np.stack([w, 1 - w], 1), "val")[:, :2]
    front = problem.table.front(list(PARTIES), np.array([True, True]), "val")

    def covered(front):
        return bool((front[None, :, :] >= F[:, None, :]).all(2).any(1).all())

    assert covered(front) and len(front) > 2
    assert not covered(np.delete(front, len(front) // 2, axis=0))


@pytest.mark.parametrize("solver", ["pymoo.nsga2", "optuna.random"])
def test_solvers_run_on_a_loaded_table_and_get_indicators(exported, solver):
    _, out = exported
    loaded = load(out)
    run = run_solver(create_solver(solver), loaded, 200, seed=0)
    assert run.status == "done" and len(run.log) == 200
    F = np.array([e.f for e in run.log])
    hv = hypervolume(F, loaded.instance)
    exact = hypervolume(loaded.exact_front("val"), loaded.instance)
    assert 0 < hv <= exact + 1e-12  # no solver beats the exact front
    assert hypervolume(F[:1], loaded.instance) < hv


def test_a_damaged_table_is_refused(exported, tmp_path):
    import shutil

    _, out = exported
    copy = tmp_path / "damaged"
    shutil.copytree(out, copy)
    probs = copy / "probs.parquet"
    probs.write_bytes(probs.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(TableIntegrityError, match="probs.parquet"):
        load(copy)


@pytest.mark.parametrize("algorithm", ["moead", "nsga2"])
def test_pymoo_algorithms_see_each_objective_over_its_range(monkeypatch, algorithm):
    """Cost in FLOPs next to scores in [0, 1] would decide MOEA/D's unnormalized decomposition alone: every
    pymoo algorithm is told objectives scaled to the instance's bounds, while the log keeps raw values."""
    from stitchbench.solvers import _pymoo_solvers as pymoo_solvers

    told = []
    build = pymoo_solvers.build

    def spying(*args, **kwargs):
        algorithm = build(*args, **kwargs)
        tell = algorithm.tell

        def spy(infills=None, **kw):
            told.append(np.atleast_2d(infills.get("F")))
            return tell(infills=infills, **kw)

        algorithm.tell = spy
        return algorithm

    monkeypatch.setattr(pymoo_solvers, "build", spying)
    problem = load("cross-arch.graph-6@mnist+cost")
    run = run_solver(create_solver(f"pymoo.{algorithm}", pop_size=20), problem, 100, seed=0)
    raw = np.array([e.f for e in run.log])
    F = np.vstack(told)
    assert run.status == "done" and raw[:, -1].max() > 1e5  # the log: FLOPs
    expected = np.where(problem.maximize, -1, 1) * raw / [1, 1, problem.max_cost()]
    np.testing.assert_allclose(F, expected[: len(F)])
    assert np.abs(F).max() <= 1


def test_pymoo_decisions_round_and_clip_whole_variables_only():
    """pymoo's numeric decisions reach the problem as one matrix: binary and categorical variables rounded and
    clipped to their bounds, real ones as pymoo gave them (a switch at 0.6 is on, an output choice at 2.6 is
    the last, a weight of 0.37 stays 0.37)."""
    from stitchbench.moo import to_pymoo

    weights = load("digits-shift.weights-3-switches")  # w.* real, use.* binary
    pm = to_pymoo(weights)
    X = np.array([[0.37, 0.2, 0.9, 0.6, -0.3, 1.7], [0.0, 1.0, 0.5, 0.4, 0.5, 1.0]])
    rows = pm.rows(X)
    assert isinstance(rows, np.ndarray)
    assert rows.tolist() == [[0.37, 0.2, 0.9, 1.0, 0.0, 1.0], [0.0, 1.0, 0.5, 0.0, 0.0, 1.0]]
    graph = load("digits-shift.graph-7@uci-digits+cost")
    pm = to_pymoo(graph)
    X = np.full((1, len(graph.variables)), 0.49)
    X[0, -1] = 2.6
    assert pm.rows(X).tolist() == [[0.0] * (len(graph.variables) - 1) + [2.0]]
    assert np.array_equal(graph.evaluate(pm.rows(X), "val"), graph.evaluate([pm.rows(X)[0].tolist()], "val"))
