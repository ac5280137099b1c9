"""The problem contract (issue 34): `Problem` with an abstract `_evaluate`, `TabularProblem` with an abstract
`_lookup`, the paper's hooks in protocols the study tests with `isinstance`, and a family written against the
flag-based contract refused with a message naming what to implement."""

from types import SimpleNamespace

import numpy as np
import pytest

from stitchbench.moo._api import Objective, Problem, TabularProblem, Variable
from stitchbench.moo._instance import Members, make_instance
from stitchbench.moo._pools import Stitching

from .test_tables import Constructed, constructed_table

CLAIM_4 = ("member_kinds", "stitch_alpha", "claim_pools", "stitches_enumerated", "candidate_pool")


def square_space(problem: Problem) -> None:
    """One real x; objectives x and x^2; a stand-in zoo naming the scenario and metric."""
    problem.name, problem.variables = "squares", [Variable("x", "real")]
    problem.objectives = [Objective("a", "max", "a"), Objective("b", "max", "b")]
    problem.zoo = SimpleNamespace(scenario=SimpleNamespace(name="squares", metric="accuracy"))


class Squares(TabularProblem):
    """The smallest tabular family: looked up, a whole batch at once."""

    variable_kinds = frozenset({"real"})

    def __init__(self):
        super().__init__()
        square_space(self)

    def _lookup(self, matrix, split):
        return np.column_stack([matrix[:, 0], matrix[:, 0] ** 2])

    def baselines(self, split="test"):
        return {}


class LiveSquares(Problem):
    """The same family, evaluated row by row."""

    variable_kinds = frozenset({"real"})

    def __init__(self):
        super().__init__()
        square_space(self)

    def _evaluate(self, rows, split):
        return [np.array([r[0], r[0] ** 2]) for r in rows]

    def baselines(self, split="test"):
        return {}


def test_each_base_has_one_abstract_way_to_score_besides_baselines():
    assert Problem.__abstractmethods__ == {"_evaluate", "baselines"}
    assert TabularProblem.__abstractmethods__ == {"_lookup", "baselines"}
    assert not any(hasattr(base, hook) for base in (Problem, TabularProblem) for hook in CLAIM_4)
    assert not hasattr(Problem, "tabular")


def test_tabular_and_live_score_alike_and_the_record_says_which():
    X = np.array([[0.5], [0.5], [0.25]])
    tab, live = Squares(), LiveSquares()
    assert np.array_equal(tab.evaluate(X), live.evaluate(X))
    assert (tab.evaluations, live.evaluations) == (3, 2)  # every row looked up; distinct rows computed once
    records = [make_instance(p, "p", "p", {}, "s", {}, 0) for p in (tab, live)]
    assert [r.tabular for r in records] == [True, False] and [r.members for r in records] == [[], []]


def test_the_papers_hooks_are_protocols():
    weights = Constructed(constructed_table())
    assert isinstance(weights, TabularProblem) and isinstance(weights, Members)
    assert not isinstance(weights, Stitching)  # an output ensemble never stitches
    assert make_instance(weights, "w", "w", {}, "s", {}, 0).members == ["local:A", "local:B"]


@pytest.mark.parametrize("flag", ["tabular = True", "_lookup"])
def test_a_family_written_against_the_tabular_flag_is_refused_naming_what_to_implement(flag):
    with pytest.raises(TypeError, match=r"subclass stitchbench\.moo\.TabularProblem and implement '_lookup"):

        class Old(Problem):  # docs/plugins.md before 0.2: a flag and a lookup on a Problem
            if flag == "tabular = True":
                tabular = True

            def _lookup(self, matrix, split):
                return matrix
