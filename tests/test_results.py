"""Indicators, statistics and the claims check, each shown able to fail on input built to fail it."""

import json

import numpy as np
import pandas as pd
import pytest

from stitchbench.problems import ProblemInstance, make_instance
from stitchbench.results.claims import check_claims
from stitchbench.results.indicators import hypervolume, strictly_dominates
from stitchbench.results.statistics import a12, holm, pairwise_tests


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


# ---------------------------------------------------------------- claim 4 on real models


@pytest.fixture(scope="module")
def claim_inputs(se_problem):
    """The stitch-ensemble instance of host uci-digits, its baselines and its weighted-ensemble front E."""
    p = se_problem
    params = {"host": "uci-digits", "method": "double-batched"}
    rec = make_instance(p, "stitch-ensemble@uci-digits", "stitch-ensemble", params, "digits-shift", {}, 0)
    base = pd.DataFrame(
        [
            (rec.id, "test", name, o, float(v))
            for name, vec in p.baselines("test").items()
            for o, v in zip(rec.objectives, vec, strict=True)
        ],
        columns=["instance", "split", "baseline", "objective", "value"],
    )
    W, val, test = p.output_ensembles()
    ens = pd.DataFrame(
        [
            (rec.id, split, i, party, float(F[i, j]), json.dumps(list(W[i])))
            for split, F in (("val", val), ("test", test))
            for i in range(len(F))
            for j, party in enumerate(rec.parties)
        ],
        columns=["instance", "split", "point", "objective", "value", "weights"],
    )
    return rec, base, ens, test


def fronts_of(rec: ProblemInstance, F: np.ndarray, alpha: float) -> pd.DataFrame:
    """A fronts table holding the test vectors F as one solver's front points at `alpha`."""
    data = {"job": "j", "instance": rec.id, "solver": "random", "seed": 0, "split": "test", "point": range(len(F))}
    data |= {"x.point": 1.0, "x.alpha": alpha, "x.w.uci-digits": 0.5, "x.w.mnist": 0.5}
    data |= {f"f.{p}": F[:, j] for j, p in enumerate(rec.parties)}
    return pd.DataFrame(data)


def claim4(rec, base, ens, fronts) -> dict:
    claims = check_claims(base, fronts, ens, {rec.id: rec})["scenarios"]["digits-shift"]["claims"]
    return claims[3]


def test_claim4_fails_when_fed_the_weighted_ensemble_front(claim_inputs):
    rec, base, ens, E = claim_inputs
    c = claim4(rec, base, ens, fronts_of(rec, E, alpha=0.5))  # E itself, dressed up as stitched points
    host = next(h for h in c["checks"] if h["host"] == "uci-digits")
    seed = host["per_seed"][0]
    assert c["tested"] and not c["holds"] and not host["holds"]
    assert seed["recovering_points"] == seed["recovering_but_dominated_by_ensembles"]
    assert seed["hv_gain"] == pytest.approx(0.0, abs=1e-12)


def test_claim4_ignores_output_ensembles_however_good(claim_inputs):
    rec, base, ens, _ = claim_inputs
    perfect = np.ones((1, len(rec.parties)))  # would meet every threshold, but alpha = 0 is no stitch
    c = claim4(rec, base, ens, fronts_of(rec, perfect, alpha=0.0))
    seed = next(h for h in c["checks"] if h["host"] == "uci-digits")["per_seed"][0]
    assert not c["holds"] and seed["stitched_points"] == 0 and "decision" not in seed


def test_claim4_passes_on_a_front_that_beats_the_ensembles(claim_inputs):
    rec, base, ens, E = claim_inputs
    refs = {n: dict(zip(rec.objectives, g.value, strict=True)) for n, g in base.groupby("baseline", sort=False)}
    own = refs["local:uci-digits"]["uci-digits"]
    other = min(1.0, E[:, rec.parties.index("mnist")].max() + 0.002)
    s = np.array([[own if p == "uci-digits" else other for p in rec.parties]])
    c = claim4(rec, base, ens, fronts_of(rec, s, alpha=0.3))
    host = next(h for h in c["checks"] if h["host"] == "uci-digits")
    seed = host["per_seed"][0]
    assert c["holds"] and host["holds"] and seed["hv_gain"] > 0
    assert seed["decision"]["alpha"] == 0.3 and seed["decision"]["method"] == "double-batched"
    assert seed["decision"]["point"] == rec.variables[0]["choices"][1]
    mnist_host = next(h for h in c["checks"] if h["host"] == "mnist")
    assert not mnist_host["tested"]
