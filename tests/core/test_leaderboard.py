"""The solver leaderboard across instances: ranks by runtime-ECDF area (COCO's anytime measure), Friedman and
Holm-Wilcoxon tests, critical-difference cliques, final normalized hypervolume beside; each shown deciding on
runs built to separate solvers and refusing to on runs built not to, and the area (not final HV) deciding
where the two disagree."""

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._figures import solver_colours
from stitchbench.results._leaderboard import (
    cd_figure,
    cliques,
    critical_difference,
    ecdf_figure,
    friedman,
    leaderboard,
    pairwise,
    summary,
)

BUDGET = 200


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


def logs(speeds: dict, n_instances: int, seeds: int = 5, noise: float = 0.01, seed: int = 0, caps=None):
    """(indicators, evaluations) of runs whose k-th evaluation is the point (0.8 p, 1), a fraction p of the
    front's hypervolume 0.8: p = 0.5 + 0.5 k / speed (speed times 1 +- 20 noise, uniform), at most
    caps[solver] (1); speed None: a random search, p = 0.5 + normal noise. A run's final hypervolume is
    0.8 times its largest p."""
    rng, k, frames = np.random.default_rng(seed), np.arange(1, BUDGET + 1), []
    for i in range(n_instances):
        for solver, speed in speeds.items():
            for s in range(seeds):
                if speed is None:
                    p = 0.5 + rng.normal(0, noise, BUDGET)
                else:
                    pace = speed * (1 + 20 * noise * rng.uniform(-1, 1))
                    p = np.minimum((caps or {}).get(solver, 1.0), 0.5 + 0.5 * k / pace)
                job = {"job": f"i{i}/{solver}/{s}", "instance": f"i{i}", "solver": solver, "seed": s}
                frames.append(pd.DataFrame(job | {"eval": k, "f.A": 0.8 * p, "f.B": 1.0}))
    ev = pd.concat(frames, ignore_index=True)
    ind = ev.groupby(["job", "instance", "solver", "seed"], sort=False)["f.A"].max().rename("hypervolume")
    return ind.reset_index().assign(split="val"), ev


def indicators(means: dict[str, float], n_instances: int, seeds: int = 5, noise: float = 0.01, seed: int = 0):
    """Final indicators alone: jobs whose hypervolume is `mean * 0.8` (a fraction `mean` of the front) plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_instances):
        shift = rng.uniform(-0.05, 0.05)  # instances differ in difficulty; the order of solvers does not
        for solver, m in means.items():
            for s in range(seeds):
                hv = 0.8 * min(1.0, m + shift + rng.normal(0, noise))
                rows.append({"instance": f"i{i}", "solver": solver, "seed": s, "split": "val", "hypervolume": hv})
    return pd.DataFrame(rows)


def board_of(ind: pd.DataFrame, ev: pd.DataFrame, front="exact"):
    ids = ind.instance.unique()
    return leaderboard(ind, exact_table(ids), ev, {i: record(i, front) for i in ids})


def test_separated_solvers_are_ranked_and_significantly_different():
    lb = board_of(*logs({"good": 20, "mid": 100, "random": None}, 12))
    assert lb.ranked() == ["good", "mid", "random"]
    assert lb.board.set_index("solver")["average rank"].tolist() == [1.0, 2.0, 3.0]
    assert lb.board.set_index("solver").wins.tolist() == [12, 0, 0]
    assert lb.per_instance.area.between(0, 1).all() and set(lb.per_instance.reference) == {"exact front"}
    assert lb.per_instance.set_index("solver").loc["random"].nhv.between(0.5, 0.55).all()
    assert lb.friedman.p < 1e-4
    assert set(lb.pairs.verdict) == {"a better"}  # pairs are in rank order here: the first always wins
    assert (lb.pairs.p_holm < 0.01).all()
    assert cliques(lb.ranked(), lb.pairs) == []
    assert "significantly better (Holm-Wilcoxon) than mid, random" in summary(lb)
    assert "(Friedman chi² = 24, p = 6.14e-06; Iman-Davenport F(2, 22) = inf, p = 0)" in summary(lb)  # one order


def test_equal_solvers_are_not_separated():
    lb = board_of(*logs({"x": None, "y": None, "random": None}, 12, noise=0.0))  # every run alike
    assert lb.per_instance.area.nunique() == 1 and lb.friedman.p == 1.0
    assert set(lb.pairs.verdict) == {"no significant difference"}
    assert cliques(lb.ranked(), lb.pairs) == [(0, 2)]
    assert "finds no significant difference" in summary(lb)
    noisy = board_of(*logs({"x": None, "y": None, "random": None}, 12, noise=0.02, seed=3))
    assert noisy.per_instance.area.nunique() > 1 and noisy.friedman.p > 0.05


def test_too_few_instances_give_no_p_value():
    lb = board_of(*logs({"good": 20, "mid": 100, "random": None}, 4))
    assert set(lb.pairs.verdict) == {"too few instances"} and lb.pairs.p_holm.isna().all()
    two = board_of(*logs({"good": 20, "random": None}, 12))
    assert two.friedman.reason is not None and two.pairs.verdict.tolist() == ["a better"]


def test_the_solver_that_reaches_targets_earlier_ranks_first_where_final_hv_ties():
    lb = board_of(*logs({"late": 150, "early": 10, "random": None}, 8))  # both reach the front within 180
    nhv = lb.per_instance.set_index(["solver", "instance"]).nhv
    assert (nhv["early"] == 1).all() and (nhv["late"] == 1).all()
    assert lb.ranked() == ["early", "late", "random"]
    row = lb.pairs.set_index(["solver_a", "solver_b"]).loc[("early", "late")]
    assert row.verdict == "a better" and row.p_holm <= 0.05


def test_the_ecdf_area_and_not_the_final_hypervolume_decides():
    # quick gets within 0.05 of the front in 10 evaluations and stops there; slow ends at the front
    lb = board_of(*logs({"slow": 150, "quick": 10, "random": None}, 8, caps={"quick": 0.95}))
    b = lb.board.set_index("solver")
    assert b.loc["slow", "mean normalized HV"] == 1 and b.loc["quick", "mean normalized HV"] == pytest.approx(0.95)
    assert lb.ranked()[0] == "quick" and (lb.per_instance.query("solver == 'quick'")["rank"] == 1).all()
    row = lb.pairs.set_index(["solver_a", "solver_b"]).loc[("quick", "slow")]
    assert row.verdict == "a better" and b.columns[1] == "mean ECDF area"


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
    assert f.statistic == pytest.approx(chi2) and f.p == pytest.approx(np.exp(-2.25))
    assert pytest.approx(3 * 4.5 / (4 * 2 - 4.5)) == f.F and f.F_df == (2, 6)  # F = 27 / 7
    assert f.F_p == pytest.approx((1 + 9 / 7) ** -3)  # F(2, m) survival: (1 + 2F / m) ** (-m / 2)
    agree = friedman(pd.DataFrame({"a": [0.9] * 5, "b": [0.8] * 5, "c": [0.7] * 5}) + np.arange(5)[:, None] / 100)
    assert agree.statistic == 10 and np.inf == agree.F and agree.F_p == 0  # chi2 = N(k - 1)
    assert friedman(wide * 0 + 0.5).model_dump(exclude_none=True) == {
        "solvers": 3, "instances": 4, "statistic": 0.0, "p": 1.0, "F": 0.0, "F_df": (2, 6), "F_p": 1.0
    }  # fmt: skip


def test_a_solver_missing_an_instance_is_listed_but_not_ranked():
    ind, ev = logs({"good": 20, "mid": 100, "random": None}, 12)
    missed = ind.job.str.startswith("i3/mid/")  # mid's jobs on i3 did not finish: evaluations, no indicators
    lb = board_of(ind[~missed], ev)
    assert lb.ranked() == ["good", "random"]
    assert np.isnan(lb.board.set_index("solver").loc["mid", "average rank"])
    assert set(lb.runs.job) == set(ind.job[~missed])


def test_an_instance_without_targets_is_left_out_of_the_ranking_and_named():
    ind, ev = logs({"good": 20, "mid": 100, "random": None}, 12)
    lb = board_of(ind[(ind.instance != "i3") | (ind.solver != "random")], ev)
    assert lb.unscored == {"i3": "no 'random' runs to set its targets from"} and lb.friedman.instances == 11
    i3 = lb.per_instance[lb.per_instance.instance == "i3"]
    assert i3.area.isna().all() and i3["rank"].isna().all() and i3.nhv.notna().all()
    assert lb.ranked() == ["good", "mid", "random"]
    assert summary(lb).endswith(
        "Left out of the ranking, having no targets: i3 (no 'random' runs to set its targets from)."
    )


def test_without_a_front_the_best_job_is_the_reference():
    ind, ev = logs({"good": 20, "random": None}, 3, caps={"good": 0.9})
    ids = ind.instance.unique()
    lb = leaderboard(ind, exact_table([]), ev, {i: record(i, "none") for i in ids})
    assert set(lb.per_instance.reference) == {"best known"}
    best = lb.per_instance.groupby("instance").nhv.max()
    assert (best == 1).all()  # every good run ends at the cap: the best job's hypervolume
    good = lb.runs[lb.runs.solver == "good"]  # the targets end at the best job's: each good run reaches them all
    assert np.isfinite(np.stack(good.runtimes)).all() and not np.isfinite(np.stack(lb.runs.runtimes)).all()


def test_the_ecdf_and_cd_figures_carry_each_solvers_colour(tmp_path):
    lb = board_of(*logs({"good": 20, "mid": 100, "random": None}, 12))
    colours = solver_colours(lb.ranked())
    assert ecdf_figure(lb, colours, tmp_path).name == "leaderboard_ecdf.png"
    assert cd_figure(lb, colours, tmp_path).stat().st_size > 1000
    assert (tmp_path / "leaderboard_ecdf.png").stat().st_size > 1000
    none = board_of(*logs({"good": 20}, 2))  # no random search: no targets, no figure
    assert ecdf_figure(none, colours, tmp_path / "none") is None and set(none.unscored) == {"i0", "i1"}


def test_the_nemenyi_critical_difference_matches_demsar():
    # Demsar (2006), table 5: q_0.05 = 2.343 for k = 3, so CD = 2.343 * sqrt(3 * 4 / (6 * 12)) for 12 data sets
    assert critical_difference(3, 12) == pytest.approx(2.343 * np.sqrt(12 / 72), abs=2e-3)


def test_best_solvers_per_instance_say_what_decides_and_how_many_seeds_would():
    from stitchbench.results._statistics import best_solvers, pairwise_tests, seeds_to_decide

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


def test_an_approximate_reference_is_labelled_by_what_the_run_recorded_it_to_be():
    """A run records its approximate fronts' source (a shipped instance's is the collection's best-known
    front); a run from before that, the bare "approximate front"; a job beyond the front, "best known"."""
    ind, ev = logs({"good": 20, "random": None}, 3, caps={"good": 0.9})
    ids = sorted(ind.instance.unique())
    recs = {i: record(i, "approximate") for i in ids}
    exact = exact_table(ids, corner=0.8).assign(
        source=["best-known front (collection)"] * 4 + ["approximate front"] * 8
    )
    labels = leaderboard(ind, exact, ev, recs).per_instance.groupby("instance").reference.first()
    assert labels.to_dict() == {
        ids[0]: "best-known front (collection)",
        ids[1]: "approximate front",
        ids[2]: "approximate front",
    }
    assert set(leaderboard(ind, exact_table(ids), ev, recs).per_instance.reference) == {"approximate front"}
    low = exact_table(ids, corner=0.5).assign(source="best-known front (collection)")  # every good job beats it
    assert set(leaderboard(ind, low, ev, recs).per_instance.reference) == {
        "best known (beats the best-known front (collection))"
    }
