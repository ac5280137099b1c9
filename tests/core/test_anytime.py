"""The anytime (COCO-style) comparison: targets between random search's median and the front, runtimes to
them, ECDF areas, and the tests across and within instances, on runs built to separate solvers; the
reversed runs reverse the verdict."""

import numpy as np
import pandas as pd
import pytest

from stitchbench.errors import InputError
from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._anytime import (
    DEPTH,
    N_TARGETS,
    area,
    areas,
    ecdf,
    ecdf_figure,
    instance_tests,
    runs,
    runtimes,
    targets,
)
from stitchbench.results._leaderboard import friedman, pairwise

BUDGET, INSTANCES, SEEDS = 500, 8, 5
FRONT_HV = 0.8  # the front: the point (0.8, 1.0)


def record(iid: str) -> ProblemInstance:
    return ProblemInstance(
        id=iid, problem_id="p", scenario="s", scenario_name="s", scenario_params={}, zoo_seed=0,
        family="ensemble-weights", params={}, host=None, parties=["A", "B"], metric="accuracy",
        objectives=["A", "B"], maximize=[True, True], variables=[], bounds=[(0, 1), (0, 1)],
        reference_point=[0, 0], front="exact", artifacts={},
    )  # fmt: skip


def evaluations(speeds: dict[str, float | None]) -> pd.DataFrame:
    """Per solver, runs whose k-th evaluation is (0.8 p, 1) with p = 0.5 + 0.5 k / speed (capped at 1) and a
    little noise; speed None: random search, p about 0.5 throughout; speed 0: a run stuck at p = 0.05."""
    rng, rows = np.random.default_rng(0), []
    for i in range(INSTANCES):
        for solver, speed in speeds.items():
            for seed in range(SEEDS):
                k = np.arange(1, BUDGET + 1)
                if speed is None:
                    p = 0.5 + rng.normal(0, 0.01, BUDGET)
                elif speed == 0:
                    p = np.full(BUDGET, 0.05)
                else:
                    p = np.minimum(1, 0.5 + 0.5 * k / (speed * rng.uniform(0.8, 1.2)))
                job = f"i{i}/{solver}/{seed}"
                rows += [
                    {
                        "job": job,
                        "instance": f"i{i}",
                        "solver": solver,
                        "seed": seed,
                        "eval": e,
                        "f.A": 0.8 * q,
                        "f.B": 1.0,
                    }
                    for e, q in zip(k, p, strict=True)
                ]
    return pd.DataFrame(rows)


def per_run(speeds):
    ev = evaluations(speeds)
    ids = ev.instance.unique()
    table, unscored = runs(ev, {i: record(i) for i in ids}, dict.fromkeys(ids, FRONT_HV))
    assert unscored == {}
    return table


@pytest.fixture(scope="module")
def fast_first():
    return per_run({"A": 20, "B": 300, "random": None, "stuck": 0})


def test_targets_are_log_spaced_in_the_gap():
    t = targets(0.4, 0.8)
    assert len(t) == N_TARGETS and t[0] == pytest.approx(0.4) and t[-1] == pytest.approx(0.8 - 0.4 * 10**-DEPTH)
    assert np.allclose(np.diff(np.log10(0.8 - t)), -DEPTH / (N_TARGETS - 1))
    with pytest.raises(InputError, match="no gap"):
        targets(0.8, 0.8)


def test_runtimes_are_the_first_evaluation_reaching_each_target_censored_at_the_budget():
    rt = runtimes(np.array([0, 1, 3, -1]), np.arange(1.0, 5.0))  # the rows reaching each target, -1: none
    assert rt.tolist() == [1, 2, 4, np.inf]
    assert area(np.array([1.0]), 100) == 1 and area(np.array([np.inf]), 100) == 0
    assert area(np.array([10.0]), 100) == pytest.approx(0.5)


def test_the_solver_that_reaches_targets_earlier_has_the_larger_area_and_ranks_first(fast_first):
    wide = areas(fast_first)
    assert list(wide.columns[:2]) == ["A", "B"]  # best mean rank first
    assert (wide["A"] > wide["B"]).all()
    row = pairwise(wide).set_index(["solver_a", "solver_b"]).loc[("A", "B")]
    assert row.verdict == "a better" and row.p_holm <= 0.05
    assert friedman(wide).p <= 0.05
    tests = instance_tests(fast_first)
    ab = tests[(tests.solver_a == "A") & (tests.solver_b == "B")]
    assert len(ab) == INSTANCES and (ab.verdict == "a better").all()


def test_a_solver_that_never_improves_gets_area_0(fast_first):
    stuck = fast_first[fast_first.solver == "stuck"]
    assert (stuck.area == 0).all()
    assert 0 < fast_first[fast_first.solver == "random"].area.mean() < fast_first[fast_first.solver == "B"].area.mean()


def test_the_reversed_runs_reverse_the_ranking():
    wide = areas(per_run({"A": 300, "B": 20, "random": None}))
    assert list(wide.columns[:2]) == ["B", "A"]
    row = pairwise(wide).set_index(["solver_a", "solver_b"]).loc[("B", "A")]
    assert row.verdict == "a better"


def test_an_instance_without_targets_is_left_out_with_its_reason():
    ev = evaluations({"A": 20, "random": None})
    ids = ev.instance.unique()
    ev = ev[(ev.instance != "i0") | (ev.solver != "random")]  # i0: no random runs
    front = dict.fromkeys(ids, FRONT_HV) | {"i1": 0.3}  # i1: random's median (about 0.4) beyond the front
    table, unscored = runs(ev, {i: record(i) for i in ids}, front)
    assert set(table.instance) == set(ids) - {"i0", "i1"}
    assert unscored["i0"] == "no 'random' runs to set its targets from"
    assert unscored["i1"].startswith("random's median hypervolume 0.4") and unscored["i1"].endswith("front's 0.3")


def test_the_ecdf_and_its_figure(fast_first, tmp_path):
    e = ecdf(fast_first)
    a = e[e.solver == "A"]
    assert a.fraction.iloc[-1] == 1 and a["eval"].max() <= BUDGET and (np.diff(a.fraction) > 0).all()
    assert "stuck" not in set(e.solver)  # reaches none
    path = ecdf_figure(fast_first, {}, tmp_path / "ecdf.png", "all instances")
    assert path.stat().st_size > 0
    one = ecdf_figure(fast_first[fast_first.instance == "i0"], {}, tmp_path / "i0.png", "i0")
    assert one.exists()


def test_the_reports_area_table_ranks_by_area_with_the_mann_whitney_verdicts(fast_first):
    from stitchbench.results._tables import area_table

    one = fast_first[fast_first.instance == "i0"]
    table = area_table(one, instance_tests(one)).set_index("solver")
    assert table.index.tolist() == ["A", "B", "random", "stuck"] and table["rank"].tolist() == [1, 2, 3, 4]
    assert table.loc["A", "significantly better than"] == "B, random, stuck"
    assert table.loc["stuck", "significantly better than"] == "—" and table.loc["stuck", "A12 vs best"] == "0.00"
    assert table.loc["A", "ECDF area mean ± sd"].startswith(f"{one[one.solver == 'A'].area.mean():.4f} ± ")


def test_a_trace_finds_the_first_row_reaching_each_target(monkeypatch):
    """Per target, the first row after which the hypervolume of all finite rows so far (as
    `indicators.hypervolume` computes it from scratch) reaches it, or -1; targets in any order, at or below 0,
    between, beyond and NaN, over several of the blocks `Trace` screens at once (repeated rows included); computing
    fewer hypervolumes than the archive has changes; the same in a pool of processes as in the driver."""
    from stitchbench.results import _indicators
    from stitchbench.results._indicators import REACHED, Trace, final_hypervolume, first_reaching, hypervolume

    rng = np.random.default_rng(1)
    rec = record("i0").model_copy(update={"objectives": ["A", "B", "C"], "maximize": [True, True, False]})
    rec = rec.model_copy(update={"bounds": [(0, 1)] * 3, "reference_point": [0, 0, 1]})
    tasks = []
    rows = 2 * _indicators.TRACE_BLOCK + 50
    for _ in range(4):
        F = rng.uniform(0, 1, (rows, 3))
        F[rng.choice(rows, 40, replace=False)] = np.nan
        F[rows - 60 :] = F[:60]  # evaluated again: dominated by themselves, they change nothing
        hv = np.array([hypervolume(F[: i + 1], rec) for i in range(rows)])
        goals = np.concatenate([rng.uniform(-0.1, hv[-1] * 1.1, 40), hv[rng.choice(rows, 10)], [0, hv[-1], np.nan]])
        expected = [int(np.argmax(hv >= g - REACHED)) if (hv >= g - REACHED).any() else -1 for g in goals]
        trace = Trace(F, rec)
        assert trace.reaching(goals).tolist() == expected and trace.final() == hv[-1]
        assert 0 < len(trace.values) < len(trace.changed)
        tasks.append((F, rec, goals))
    assert Trace(np.empty((0, 3)), rec).reaching(np.array([0.0, 0.5])).tolist() == [-1, -1]  # nothing evaluated
    alone = [first_reaching(*t) for t in tasks], [final_hypervolume(F, rec) for F, rec, _ in tasks]
    monkeypatch.setattr(_indicators, "TRACE_POOL_MIN", 1)
    pooled = _indicators.traced(first_reaching, tasks), _indicators.traced(final_hypervolume, [t[:2] for t in tasks])
    assert all(np.array_equal(a, b) for a, b in zip(alone[0], pooled[0], strict=True)) and alone[1] == pooled[1]


def test_a_multi_fidelity_run_counts_its_full_fidelity_scores_in_full_fidelity_equivalents():
    """A run that spends 10 evaluations on 90 candidates at fidelity 1/9 (a subset's scores, here better than
    any candidate's) and then 10 at fidelity 1: its anytime checkpoints end at 20 evaluations spent, and its
    hypervolume, there and in its runtimes, is that of its fidelity-1 scores alone."""
    from stitchbench.results._indicators import anytime

    low = [(1 / 9, 1 / 9, 0.8)] * 90  # (fidelity, cost, f.A)
    full = [(1.0, 1.0, 0.4)] * 10
    rows = [
        {"job": job, "instance": "i0", "solver": solver, "seed": 0, "eval": e, "fidelity": fid, "cost": cost}
        | {"f.A": a, "f.B": 1.0}
        for job, solver, evals in (("mf", "halving", low + full), ("r", "random", [(1.0, 1.0, 0.2)] * 20))
        for e, (fid, cost, a) in enumerate(evals, 1)
    ]
    ev = pd.DataFrame(rows)
    table = anytime(ev, {"i0": record("i0")}).set_index(["job", "eval"]).hypervolume
    assert table["mf"].index.max() == 20 and table["r"].index.max() == 20
    assert (table["mf"].loc[:10] == 0).all() and np.allclose(table["mf"].loc[11:], 0.4)
    per_run, _ = runs(ev, {"i0": record("i0")}, {"i0": FRONT_HV})
    rt = per_run.set_index("job").runtimes["mf"]
    goals = targets(0.2, FRONT_HV)
    assert rt.tolist() == pytest.approx([11.0 if g <= 0.4 else np.inf for g in goals])  # 90 x 1/9 rounds
