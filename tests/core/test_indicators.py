"""Indicators and statistics, each shown able to fail on input built to fail it (claim 4: test_claim4.py)."""

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._indicators import hypervolume, strictly_dominates
from stitchbench.results._statistics import a12, holm, pairwise_tests


def record(objectives=("a", "b"), maximize=(True, True), cost_max=None) -> ProblemInstance:
    bounds = [(0.0, 1.0) if m else (0.0, cost_max) for m in maximize]
    return ProblemInstance(
        id="s/z0/p",
        problem_id="p",
        scenario="s",
        scenario_name="s",
        scenario_params={},
        zoo_seed=0,
        family="ensemble-weights",
        params={},
        host=None,
        parties=[o for o, m in zip(objectives, maximize, strict=True) if m],
        metric="accuracy",
        objectives=list(objectives),
        maximize=list(maximize),
        variables=[],
        bounds=bounds,
        reference_point=[0.0 if m else 1.0 for m in maximize],
        front="none",
        artifacts={},
    )


def test_hypervolume_of_a_known_front_with_cost_normalized():
    rec = record(("a", "b", "cost"), (True, True, False), cost_max=4e6)
    # two points; cost 1e6 and 2e6 FLOPs become 0.25 and 0.5 of the costliest candidate
    F = np.array([[0.8, 0.4, 1e6], [0.5, 0.9, 2e6]])
    # boxes from the origin (scores) and from cost 1: 0.8*0.4*0.75 + 0.5*0.9*0.5 - overlap 0.5*0.4*0.5
    expected = 0.8 * 0.4 * 0.75 + 0.5 * 0.9 * 0.5 - 0.5 * 0.4 * 0.5
    assert hypervolume(F, rec) == pytest.approx(expected, abs=1e-12)
    # raw FLOPs would be beyond the reference point: normalization is what makes this a number in [0, 1]
    assert 0 < hypervolume(F, rec) <= 1
    assert hypervolume(np.array([[np.nan, 0.5, 1e6]]), rec) == 0.0


def test_dominance_is_strict():
    front = np.array([[0.9, 0.5], [0.6, 0.8]])
    assert not strictly_dominates(front, np.array([0.9, 0.5]), [True, True])  # equal is not dominating
    assert strictly_dominates(front, np.array([0.9, 0.4]), [True, True])
    assert not strictly_dominates(front, np.array([0.95, 0.1]), [True, True])
    assert strictly_dominates(np.array([[0.5, 3.0]]), np.array([0.5, 4.0]), [True, False])  # cost minimized


def test_holm_and_a12_by_hand():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([0.2, 0.001])), [0.2, 0.002])
    assert a12(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert a12(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == pytest.approx(0.125)


def indicator_rows(samples: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"instance": "s/z0/p", "solver": s, "seed": i, "split": "test", "hypervolume": v}
        for s, vs in samples.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def test_statistics_are_per_split():
    rows = pd.concat([indicator_rows({"good": [0.9] * 8, "bad": [0.1] * 8}).assign(split=s) for s in ("val", "test")])
    rows.loc[rows.split == "val", "hypervolume"] = [0.5] * 8 + [0.6] * 8  # on val "bad" is better
    t = pairwise_tests(rows).set_index("split")
    assert (t.solver_a == "bad").all()  # solvers in name order
    assert t.loc["test", "verdict"] == "b better" and t.loc["val", "verdict"] == "a better"


def test_statistics_say_too_few_seeds_instead_of_a_p_value():
    # 3 seeds each: the smallest two-sided exact p is 0.1, so nothing can be decided, however separated
    few = pairwise_tests(indicator_rows({"good": [0.9, 0.91, 0.92], "bad": [0.1, 0.2, 0.3]}))
    assert few.verdict.tolist() == ["too few seeds"] and few.p.isna().all()
    # 10 seeds, fully separated: decided, Holm-corrected over 3 pairs
    rng = np.random.default_rng(0)
    good, bad = 0.9 + rng.random(10) / 100, 0.5 + rng.random(10) / 100
    same = 0.5 + rng.random(10) / 100
    t = pairwise_tests(indicator_rows({"good": list(good), "bad": list(bad), "same": list(same)}))
    row = t[(t.solver_a == "bad") & (t.solver_b == "good")].iloc[0]
    assert row.p_holm < 0.05 and row.A12 == 0.0 and row.verdict == "b better"
    assert row.p_holm == pytest.approx(min(1.0, 3 * row.p))  # the smallest of three p-values: times 3
    tie = t[(t.solver_a == "bad") & (t.solver_b == "same")].iloc[0]
    assert tie.verdict == "no significant difference"
