"""The calibration rule: an instance passes only where no solver reaches the front on more than half of its
seeds and its runs' ECDF areas separate two solvers other than random search and the weakest; each way of
failing is shown on runs built to fail it, and the verdict stands only where a second seed set confirms it."""

import pandas as pd
import pytest

from stitchbench.errors import InputError
from stitchbench.results._anytime import instance_tests, runs
from stitchbench.results._calibration import CalibrationRecord, calibrate, calibration_table, confirm
from stitchbench.results._leaderboard import leaderboard
from stitchbench.results._statistics import decided

from .test_leaderboard import exact_table, logs, record

CAP = 0.95  # a cap below 1: the run never reaches the front (hypervolume 0.8)


def calibration(speeds: dict, caps: dict | None = None, seeds: int = 20, seed: int = 0) -> CalibrationRecord:
    """The record of one instance whose runs' pace is `speeds` (None: random search), each capped at `caps`
    (default CAP) of the front."""
    ind, ev = logs(speeds, 1, seeds, seed=seed, caps={s: CAP for s in speeds} | (caps or {}))
    ind.seed += 1000 * (seed + 1)
    (r,) = calibrate(ind, exact_table(["i0"]), ev, {"i0": record("i0")})
    return r


def test_an_instance_whose_good_solvers_differ_is_calibrated():
    r = calibration({"random": None, "fast": 50, "slow": 150, "slowest": 400})
    assert r.verdict == "calibrated" and r.weakest == "slowest" and r.separated == [["fast", "slow"]]
    ind, ev = logs({"random": None, "fast": 50, "slow": 150, "slowest": 400}, 1, 20, caps={"fast": CAP})
    args = (ind, exact_table(["i0"]), ev, {"i0": record("i0")})
    assert calibrate(*args, leaderboard(*args).runs) == calibrate(*args)  # a report's: the leaderboard's areas
    assert r.front_hv == 0.8 and r.front == "exact front" and r.seeds == list(range(1000, 1020))
    assert r.solvers["fast"].area > r.solvers["slow"].area and r.solvers["fast"].at_front == 0
    row = calibration_table([r]).iloc[0]
    assert row["front HV"] == "0.8000 (exact front)" and row["seeds"] == "1000-1019"
    assert row["separated"] == "fast > slow" and row["verdict"] == "calibrated"


def test_an_instance_solved_on_most_seeds_fails():
    """One solver at the front on more than half of the seeds fails it, however well the others separate."""
    r = calibration({"random": None, "fast": 50, "slow": 150, "slowest": 400}, caps={"fast": 1.0})
    assert r.verdict == "solved: fast reaches the front on 20 of 20 seeds"
    assert r.solvers["fast"].at_front == 20 and r.solvers["slow"].at_front == 0


def test_an_instance_separated_only_from_random_search_fails():
    r = calibration({"random": None, "a": 100, "b": 100, "c": 100})
    assert r.verdict == f"not discriminating: no two solvers but random and {r.weakest} are separated"
    assert r.separated == []


def separated(speeds: dict, caps: dict) -> set[tuple[str, str]]:
    """Every pair (winner, loser) the runs' areas separate, random and the weakest included."""
    _, ev = logs(speeds, 1, 20, caps={s: CAP for s in speeds} | caps)
    per_run, _ = runs(ev, {"i0": record("i0")}, {"i0": 0.8})
    return {p for p in map(decided, instance_tests(per_run).itertuples()) if p}


def test_an_instance_separated_only_by_the_weakest_solver_fails():
    speeds, caps = {"random": None, "a": 100, "b": 100, "weak": 100}, {"weak": 0.6}
    assert {("a", "weak"), ("b", "weak")} <= separated(speeds, caps)  # the weak solver would carry it
    r = calibration(speeds, caps)
    assert r.weakest == "weak" and r.separated == []
    assert r.verdict == "not discriminating: no two solvers but random and weak are separated"


def test_adding_a_weak_solver_does_not_make_an_instance_calibrated():
    """The good solvers tie; a weak solver that all of them beat leaves the verdict as it was."""
    tied = {"random": None, "a": 100, "b": 100, "c": 100}
    alone, weak = calibration(tied), calibration(tied | {"weak": 400})
    assert {("a", "weak"), ("b", "weak"), ("c", "weak")} <= separated(tied | {"weak": 400}, {})
    assert alone.verdict.startswith("not discriminating") and weak.verdict.startswith("not discriminating")
    assert weak.weakest == "weak" and weak.separated == []


def test_too_few_seeds_leave_it_undecided():
    r = calibration({"random": None, "fast": 50, "slow": 150, "slowest": 400}, seeds=4)
    assert r.verdict == "undecided: too few seeds (4; 5 would decide)"


def test_a_verdict_stands_only_where_a_disjoint_seed_set_confirms_it():
    speeds = {"random": None, "fast": 50, "slow": 150, "slowest": 400}
    first, second = calibration(speeds), calibration(speeds, seed=1)
    (kept,) = confirm([first], [second])
    assert kept.verdict == "calibrated" and kept.confirmation.seeds == list(range(2000, 2020))
    tied = calibration({"random": None, "fast": 100, "slow": 100, "slowest": 100}, seed=1)
    (lost,) = confirm([first], [tied])
    assert lost.verdict == f"not confirmed: {tied.verdict}"
    with pytest.raises(InputError, match="i0: the confirmation's seeds must be disjoint from the calibration's"):
        confirm([first], [first])
    with pytest.raises(InputError, match="the confirmation has no results for i0 .calibrated on the first seeds"):
        confirm([first], [])
    (alone,) = confirm([tied.model_copy(update={"seeds": first.seeds})], [])  # not calibrated: none needed
    assert alone.verdict == tied.verdict and alone.confirmation is None


def test_a_run_without_random_search_cannot_be_calibrated():
    ind, ev = logs({"good": 100}, 1)
    with pytest.raises(InputError, match="no finished 'random' jobs to calibrate against; solvers: good"):
        calibrate(ind, exact_table(["i0"]), ev, {"i0": record("i0")})
    with pytest.raises(InputError, match="no finished jobs to calibrate"):
        calibrate(pd.DataFrame(), exact_table(["i0"]), ev, {"i0": record("i0")})


def test_an_instance_missing_random_search_or_every_other_solver_is_undecided():
    """Decided per instance: one instance's failed jobs leave the others' verdicts standing."""
    ind, ev = logs({"random": None, "fast": 50, "slow": 150, "slowest": 400}, 3, 20, caps={"fast": CAP, "slow": CAP})
    gone = ((ind.instance == "i1") & (ind.solver != "random")) | ((ind.instance == "i2") & (ind.solver == "random"))
    records = calibrate(ind[~gone], exact_table(["i0", "i1", "i2"]), ev, {i: record(i) for i in ("i0", "i1", "i2")})
    assert [r.verdict for r in records] == [
        "calibrated",
        "undecided: no solver but 'random' finished",
        "undecided: no finished 'random' jobs",
    ]


def test_an_instance_without_evaluation_logs_has_no_areas_to_discriminate():
    ind, ev = logs({"random": None, "fast": 50, "slow": 150}, 1, 20, caps={"fast": CAP, "slow": CAP})
    (r,) = calibrate(ind, exact_table(["i0"]), ev[ev.solver == "none"], {"i0": record("i0")})
    assert r.verdict == "not discriminating: no runtime-ECDF areas (no targets, or no evaluation logs)"


def test_the_rules_size_is_measured_and_a_rule_without_holm_fails_it(monkeypatch):
    """Rule (b)'s false-positive rate on null instances (8 solvers whose runs' areas all come from one pool)
    stays within ALPHA; the same measurement of the rule with Holm's correction taken out exceeds it."""
    import numpy as np

    from stitchbench.results import _statistics
    from stitchbench.results._calibration import null_rate

    pool = np.random.default_rng(1).beta(2, 5, 20)  # one solver's 20 run areas
    rate, se = null_rate(pool, replicates=200)
    assert rate <= _statistics.ALPHA
    monkeypatch.setattr(_statistics, "holm", lambda p: p)
    liberal, se = null_rate(pool, replicates=200)
    assert liberal > _statistics.ALPHA + 3 * se


def test_a_runs_rule_size_draws_null_instances_from_each_pool_but_random_and_the_weakest():
    """rule_size: per pool (a solver's run areas; not random search's, not the weakest's), the rule's rate on
    complete-null and partial-null instances, each within ALPHA."""
    from stitchbench.results._calibration import rule_size, run_areas
    from stitchbench.results._statistics import ALPHA

    ind, ev = logs({"random": None, "fast": 50, "slow": 150, "slowest": 400}, 1, 20, caps={})
    per_run = run_areas(ind, exact_table(["i0"]), ev, {"i0": record("i0")})[2]
    size = rule_size(per_run, replicates=40)
    assert list(size.pool) == ["fast", "slow"] and set(size.instance) == {"i0"}
    assert (size[["complete", "partial"]] <= ALPHA).all().all() and (size.partial_se >= 0).all()
