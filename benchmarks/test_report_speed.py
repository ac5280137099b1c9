"""The report's per-run work: a run's hypervolume trace (`results._indicators.trace`, what the anytime
comparison reads), on a long run of 2 objectives (a Ctrl-C test's 40,000 evaluations) and on a suite's job of
5 objectives (1,000 evaluations), with random search's objective vectors (most are dominated); a scenario's
claims resampling its test samples (`study._bootstrap`), its draw kept for the next check or drawn afresh."""

import time

import numpy as np
import pytest

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._indicators import trace
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
    rng = np.random.default_rng(0)
    F = rng.beta(8, 2, (rows, objectives))  # scores near 0.8, as a model's accuracies are
    rec = instance(objectives)
    hv = benchmark(trace, F, rec)
    assert hv[-1] > 0
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
