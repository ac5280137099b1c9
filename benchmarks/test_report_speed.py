"""The report's per-run work: a run's hypervolume trace searched for its targets (`results._indicators.Trace`,
what the anytime comparison reads), on a long run of 2 objectives (a Ctrl-C test's 40,000 evaluations) and on
a suite's job of 5 objectives (1,000 evaluations), with random search's objective vectors (most are
dominated); a run's evaluations split into its jobs' objective matrices (`evaluated`) against a frame per job;
a scenario's claims resampling its test samples (`study._bootstrap`), its draw kept for the next check or drawn
afresh."""

import time

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._anytime import targets
from stitchbench.results._indicators import evaluated, final_hypervolume, first_reaching
from stitchbench.study import _bootstrap


def instance(objectives: int) -> ProblemInstance:
    return ProblemInstance(
        id="i", problem_id="p", scenario="s", scenario_name="s", scenario_params={}, zoo_seed=0,
        family="ensemble-weights", params={}, host=None, parties=[f"p{i}" for i in range(objectives)],
        metric="accuracy", objectives=[f"p{i}" for i in range(objectives)], maximize=[True] * objectives,
        variables=[], bounds=[(0, 1)] * objectives, reference_point=[0] * objectives, front="exact", artifacts={},
    )  # fmt: skip


@pytest.mark.parametrize("rows,objectives", [(40_000, 2), (1_000, 5)])
def test_trace(benchmark, rows, objectives):
    """The first rows reaching 51 targets from half the run's final hypervolume up to it."""
    rng = np.random.default_rng(0)
    F = rng.beta(8, 2, (rows, objectives))  # scores near 0.8, as a model's accuracies are
    rec = instance(objectives)
    final = final_hypervolume(F, rec)
    first = benchmark(first_reaching, F, rec, targets(final / 2, final))
    assert (first >= 0).all()
    print(f"\n{rows} evaluations, {objectives} objectives: {benchmark.stats.stats.min * 1e3:.1f} ms")


def test_claims_resampling_kept_against_drawn_afresh(benchmark, monkeypatch):
    """16 checks on two parties of 360 test samples (a digits-shift run's claims), 2,000 resamples each."""
    weights = np.random.default_rng(0).random(360)

    def checks():
        return [_bootstrap.resampled(lambda p, z: weights @ p[0] > weights @ p[1], [360, 360]) for _ in range(16)]

    def run():
        _bootstrap.kept.cache_clear()
        start = time.perf_counter()
        kept = checks()
        middle = time.perf_counter()
        monkeypatch.setattr(_bootstrap, "KEPT", 0)
        afresh = checks()
        monkeypatch.undo()
        assert kept == afresh
        return middle - start, time.perf_counter() - middle

    kept, afresh = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info |= {"kept_s": kept, "afresh_s": afresh, "ratio": afresh / kept}
    print(f"\n16 checks: {kept * 1e3:.0f} ms kept, {afresh * 1e3:.0f} ms drawn afresh ({afresh / kept:.1f}x)")


def test_a_runs_jobs_by_position_against_a_frame_per_job(benchmark):
    """1,000 jobs of 1,000 evaluations over 4 objectives (a fifth of the `solvers` run), in evaluation order:
    each job's objective matrix by `evaluated` and from a pandas frame per job (as the report took them)."""
    jobs, evals, rec = 1_000, 1_000, instance(4)
    rng = np.random.default_rng(0)
    job = np.repeat([f"i/z0/p/solver/s{j}" for j in range(jobs)], evals)
    ev = pd.DataFrame({"job": job, "instance": "i", "solver": "solver", "seed": np.repeat(np.arange(jobs), evals)})
    ev["eval"] = np.tile(np.arange(1, evals + 1), jobs)
    for o in rec.objectives:
        ev[f"f.{o}"] = rng.random(len(ev))
    ev = ev.astype({"job": "str", "instance": "str", "solver": "str"})
    columns = [f"f.{o}" for o in rec.objectives]

    def run():
        start = time.perf_counter()
        mine = [F for _, F, _, _ in evaluated(ev, {"i": rec})]
        middle = time.perf_counter()
        frames = [g.sort_values("eval")[columns].to_numpy(dtype=float) for _, g in ev.groupby("job", sort=False)]
        assert all(np.array_equal(a, b) for a, b in zip(mine, frames, strict=True))
        return middle - start, time.perf_counter() - middle

    positions, per_frame = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info |= {"positions_s": positions, "per_frame_s": per_frame, "ratio": per_frame / positions}
    print(
        f"\n1,000 jobs: {positions:.2f} s by position, {per_frame:.2f} s a frame per job ({per_frame / positions:.1f}x)"
    )
