"""The solver leaderboard across instances: normalized hypervolume against each instance's reference, ranks,
Friedman and Holm-Wilcoxon tests, critical-difference cliques and the anytime ECDF, each shown deciding on
data built to separate solvers and refusing to on data built not to."""

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo.instance import ProblemInstance
from stitchbench.results.figures import solver_colours
from stitchbench.results.leaderboard import (
    cd_figure,
    cliques,
    critical_difference,
    ecdf_figure,
    friedman,
    leaderboard,
    pairwise,
    summary,
)


def record(iid: str, front: str = "exact") -> ProblemInstance:
    return ProblemInstance(
        id=iid, problem_id="p", scenario="s", scenario_name="s", scenario_params={}, zoo_seed=0,
        family="ensemble-weights", params={}, host=None, parties=["A", "B"], metric="accuracy",
        objectives=["A", "B"], maximize=[True, True], variables=[], bounds=[(0, 1), (0, 1)],
        reference_point=[0, 0], front=front, artifacts={},
    )  # fmt: skip


def exact_table(ids, corner: float = 0.8) -> pd.DataFrame:
    """Each instance's exact front: the single point (corner, 1): reference hypervolume `corner`."""
    rows = [(i, s, 0, o, v) for i in ids for s in ("val", "test") for o, v in (("A", corner), ("B", 1.0))]
    return pd.DataFrame(rows, columns=["instance", "split", "point", "objective", "value"])


def indicators(means: dict[str, float], n_instances: int, seeds: int = 5, noise: float = 0.01, seed: int = 0):
    """Jobs whose hypervolume is `mean * 0.8` (a fraction `mean` of the reference) plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_instances):
        shift = rng.uniform(-0.05, 0.05)  # instances differ in difficulty; the order of solvers does not
        for solver, m in means.items():
            for s in range(seeds):
                hv = 0.8 * min(1.0, m + shift + rng.normal(0, noise))
                rows.append({"instance": f"i{i}", "solver": solver, "seed": s, "split": "val", "hypervolume": hv})
    return pd.DataFrame(rows)


def board_of(ind: pd.DataFrame, anytime=None, front="exact"):
    ids = ind.instance.unique()
    anytime = (
        pd.DataFrame(columns=["job", "instance", "solver", "seed", "eval", "hypervolume"])
        if anytime is None
        else anytime
    )
    return leaderboard(ind, exact_table(ids), anytime, {i: record(i, front) for i in ids})


def test_separated_solvers_are_ranked_and_significantly_different():
    lb = board_of(indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 12))
    assert lb.ranked() == ["good", "mid", "bad"]
    assert lb.board.set_index("solver")["average rank"].tolist() == [1.0, 2.0, 3.0]
    assert lb.board.set_index("solver").wins.tolist() == [12, 0, 0]
    assert lb.per_instance.nhv.between(0.4, 1.0).all() and set(lb.per_instance.reference) == {"exact front"}
    np.testing.assert_allclose(lb.per_instance.set_index(["solver"]).loc["bad"].nhv.mean(), 0.5, atol=0.03)
    assert lb.friedman["p"] < 1e-4
    assert set(lb.pairs.verdict) == {"a better"}  # pairs are in rank order here: the first always wins
    assert (lb.pairs.p_holm < 0.01).all()
    assert cliques(lb.ranked(), lb.pairs) == []
    assert "significantly better (Holm-Wilcoxon) than mid, bad" in summary(lb)
    assert "(Friedman chi² = 24, p = 6.14e-06; Iman-Davenport F(2, 22) = inf, p = 0)" in summary(lb)  # one order


def test_equal_solvers_are_not_separated():
    ind = indicators({"x": 0.8, "y": 0.8, "z": 0.8}, 12, noise=0.0)
    lb = board_of(ind)
    assert lb.friedman["p"] == 1.0
    assert set(lb.pairs.verdict) == {"no significant difference"}
    assert cliques(lb.ranked(), lb.pairs) == [(0, 2)]
    assert "finds no significant difference" in summary(lb)
    noisy = board_of(indicators({"x": 0.8, "y": 0.8, "z": 0.8}, 12, noise=0.02, seed=3))
    assert noisy.friedman["p"] > 0.05


def test_too_few_instances_give_no_p_value():
    lb = board_of(indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 4))
    assert set(lb.pairs.verdict) == {"too few instances"} and lb.pairs.p_holm.isna().all()
    two = board_of(indicators({"good": 0.9, "bad": 0.5}, 12))
    assert "reason" in two.friedman and two.pairs.verdict.tolist() == ["a better"]


def test_the_wilcoxon_direction_follows_the_rank_sums_not_the_median():
    # 21 small wins of a and 19 large wins of b over 40 instances: the median difference and the count favour a,
    # the rank sums b (R+ = 1 + ... + 21 = 231, R- = 22 + ... + 40 = 589), significantly (exact p = 0.015)
    d = np.r_[np.arange(1, 22) * 1e-3, -(0.1 + np.arange(1, 20) * 1e-2)]
    assert np.median(d) > 0 and (d > 0).sum() > (d < 0).sum()
    row = pairwise(pd.DataFrame({"a": 0.5 + d, "b": 0.5})).iloc[0]
    assert row.p_holm == pytest.approx(0.0153, abs=1e-4) and row.verdict == "b better"
    assert (row["R+"], row["R-"], row.a_better, row.b_better) == (231, 589, 21, 19)


def test_friedman_reports_iman_davenports_f():
    # ranks (a, b, c) on four instances: (1 2 3), (1 2 3), (2 1 3), (1 3 2); rank sums 5, 8, 11
    wide = pd.DataFrame({"a": [0.9, 0.9, 0.8, 0.9], "b": [0.8, 0.8, 0.9, 0.7], "c": [0.7, 0.7, 0.7, 0.8]})
    f = friedman(wide)
    chi2 = 12 / (4 * 3 * 4) * (5**2 + 8**2 + 11**2) - 3 * 4 * 4  # 4.5, on 2 df: p = exp(-4.5 / 2)
    assert f["statistic"] == pytest.approx(chi2) and f["p"] == pytest.approx(np.exp(-2.25))
    assert f["F"] == pytest.approx(3 * 4.5 / (4 * 2 - 4.5)) and f["F_df"] == (2, 6)  # F = 27 / 7
    assert f["F_p"] == pytest.approx((1 + 9 / 7) ** -3)  # F(2, m) survival: (1 + 2F / m) ** (-m / 2)
    agree = friedman(pd.DataFrame({"a": [0.9] * 5, "b": [0.8] * 5, "c": [0.7] * 5}) + np.arange(5)[:, None] / 100)
    assert agree["statistic"] == 10 and agree["F"] == np.inf and agree["F_p"] == 0  # chi2 = N(k - 1)
    assert friedman(wide * 0 + 0.5) == {
        "solvers": 3, "instances": 4, "statistic": 0.0, "p": 1.0, "F": 0.0, "F_df": (2, 6), "F_p": 1.0
    }  # fmt: skip


def test_a_solver_missing_an_instance_is_listed_but_not_ranked():
    ind = indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 12)
    ind = ind[~((ind.solver == "mid") & (ind.instance == "i3"))]
    lb = board_of(ind)
    assert lb.ranked() == ["good", "bad"]
    assert np.isnan(lb.board.set_index("solver").loc["mid", "average rank"])


def test_without_a_front_the_best_job_is_the_reference():
    ind = indicators({"good": 0.9, "bad": 0.5}, 3)
    ids = ind.instance.unique()
    lb = leaderboard(ind, exact_table([]), pd.DataFrame(), {i: record(i, "none") for i in ids})
    assert set(lb.per_instance.reference) == {"best known"}
    best = lb.per_instance.groupby("instance").nhv.max()
    assert (best < 1).all() and (best > 0.95).all()  # the mean of seeds under the best single job


def test_the_ecdf_counts_targets_reached_and_the_figures_carry_each_solvers_colour(tmp_path):
    rows = []
    for seed in range(3):
        for e in (1, 10, 100):
            rows.append(("fast", seed, e, 0.8 if e >= 10 else 0.4))  # reaches every target at 10 evaluations
            rows.append(("slow", seed, e, 0.4 if e < 100 else 0.78))  # 0.975 of the reference at 100
    anytime = pd.DataFrame(
        [(f"{s}{seed}", "i0", s, seed, e, hv) for s, seed, e, hv in rows],
        columns=["job", "instance", "solver", "seed", "eval", "hypervolume"],
    )
    ind = anytime[anytime["eval"] == 100].assign(split="val")[["instance", "solver", "seed", "split", "hypervolume"]]
    lb = board_of(ind, anytime)
    e = lb.ecdf.set_index(["solver", "eval"]).fraction
    assert e["fast", 10] == 1.0 and e["fast", 1] == pytest.approx(1 / 9)  # 0.5 of the reference: target 0.5 only
    assert e["slow", 10] == pytest.approx(1 / 9) and e["slow", 100] == pytest.approx(4 / 9)  # up to 0.95
    colours = solver_colours(["slow", "fast"])
    path = ecdf_figure(lb, colours, tmp_path)
    assert path.stat().st_size > 1000
    big = board_of(indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 12))
    assert cd_figure(big, solver_colours(big.ranked()), tmp_path).stat().st_size > 1000


def test_the_nemenyi_critical_difference_matches_demsar():
    # Demsar (2006), table 5: q_0.05 = 2.343 for k = 3, so CD = 2.343 * sqrt(3 * 4 / (6 * 12)) for 12 data sets
    assert critical_difference(3, 12) == pytest.approx(2.343 * np.sqrt(12 / 72), abs=2e-3)


def test_best_solvers_per_instance_say_what_decides_and_how_many_seeds_would():
    from stitchbench.results.statistics import best_solvers, pairwise_tests, seeds_to_decide

    assert seeds_to_decide(3) == 5 and seeds_to_decide(1) == 4  # 2 / C(8, 4) = 0.029 <= 0.05 < 3 * 0.029
    clear = indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 1, seeds=10)
    row = best_solvers(clear, pairwise_tests(clear)).iloc[0]
    assert row["best (no solver significantly better)"] == "good"
    assert row.verdict == "good is significantly better than every other solver"
    tied = indicators({"good": 0.9, "twin": 0.9, "bad": 0.5}, 1, seeds=10, noise=0.0)
    row = best_solvers(tied, pairwise_tests(tied)).iloc[0]
    assert set(row["best (no solver significantly better)"].split(", ")) == {"good", "twin"}
    assert row.verdict == "each of bad is significantly worse than some solver; no test separates the rest"
    few = indicators({"good": 0.9, "mid": 0.8, "bad": 0.5}, 1, seeds=3)
    row = best_solvers(few, pairwise_tests(few)).iloc[0]
    assert row.verdict.startswith("too few seeds to decide every pair: 3 per solver; 5 would")
    assert row["best (no solver significantly better)"] == "good, mid, bad"  # nothing decided: nothing excluded
